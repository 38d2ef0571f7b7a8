"""What Slack's refusals mean to a person: which wait until someone acts (an invitation, a
fixed installation), and how a refusal is told to whoever made the change."""

from __future__ import annotations

from bot.slack.mrkdwn import safe

# Slack refuses these until a person acts: the message waits, and the operator is told once.
WAITING_ERRORS = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "invalid_auth",
        "not_authed",
        "missing_scope",
        "no_permission",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)


def problem_hint(problem: str) -> str:
    """What Slack said, and what happens now (the session itself is always saved)."""
    if problem in ("not_in_channel", "channel_not_found"):
        hint = (
            "invite the bot with `/invite @gobot`: the message is posted as soon as it is in "
            "the channel (or run the command again)."
        )
    elif problem in WAITING_ERRORS:
        hint = "an admin must fix the app's installation; the message waits until then."
    else:
        hint = "the session itself is saved."
    return f"`{safe(problem, 200)}`: {hint}"
