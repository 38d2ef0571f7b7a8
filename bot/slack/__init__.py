"""What speaks to Slack: the Bolt app and its listeners, the command table, Block Kit views,
mrkdwn escaping, the Web API transport and the app manifest."""
