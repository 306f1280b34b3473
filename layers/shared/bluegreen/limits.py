"""AWS limits the workflow checks before it calls AWS (plain constants: the CLI imports them at start-up)."""

# Step Functions: an execution's input and the data passed between states, in UTF-8 bytes
# (API reference, StartExecution ``input`` and StateEnteredEventDetails ``input``).
STATE_LIMIT = 262_144
# What Validate keeps free for the states after it (green, swap, approval, errors).
STATE_RESERVE = 16_384
