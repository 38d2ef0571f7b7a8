"""gobot's edges, grouped by what each part speaks to: `slack/` (the Bolt app, the command
table, views, the Web API transport, the manifest), `web/` (the HTTP server and REST), `dev/`
(`gobot local`, the loopback Slack, previews); beside them the settings, the one composition
root (`bootstrap`), the CLI, the scheduler and observability."""
