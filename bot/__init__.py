"""gobot edges: settings, wiring, CLI (and later the Slack app, HTTP server and scheduler)."""
