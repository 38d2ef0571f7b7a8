"""What speaks HTTP: the server (Slack events, /healthz, /metrics) and the REST API."""
