"""gobot as a GitHub App: what speaks to GitHub's REST API (app JWT, installation tokens, the
answer to a deployment protection rule)."""
