"""Tools for trying gobot without Slack: `gobot local`, the loopback Slack, `gobot preview`."""
