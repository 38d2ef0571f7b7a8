"""Store implementations of the core ports."""
