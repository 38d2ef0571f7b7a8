"""gobot core: GO sessions, the launch playbook, snapshots, stores and the audit trail.

Nothing here imports Slack or HTTP frameworks; bot/ is a thin edge over these services.
"""
