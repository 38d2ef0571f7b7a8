"""Time limits that more than one layer keeps to."""

from __future__ import annotations

from datetime import timedelta

# Slack refuses signatures older than five minutes; a request is remembered a little longer.
REPLAY_WINDOW = timedelta(minutes=6)
