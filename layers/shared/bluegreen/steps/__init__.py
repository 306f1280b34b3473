"""One module per state of the deployment state machine; handlers call ``run``."""
