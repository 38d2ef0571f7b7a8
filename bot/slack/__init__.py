"""What speaks to Slack: one module per domain (session, reminders, playbook, workspace,
history, windows, digest, home, delivery, workflow steps) declaring its capabilities with their
handlers and views; what a capability declares (`capability`), the one interaction path
(`interactions`), the gathered declarations (`catalog`), the Bolt listeners derived from them
(`app`), shared Block Kit pieces (`blocks`), mrkdwn escaping, the Web API transport and the app
manifest."""
