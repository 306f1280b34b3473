"""AWS limits the workflow checks before it calls AWS (plain constants: the CLI imports them at start-up)."""

# Step Functions: an execution's input and the data passed between states, in UTF-8 bytes
# (API reference, StartExecution ``input`` and StateEnteredEventDetails ``input``).
STATE_LIMIT = 262_144
# What Validate keeps free for the states after it (green, swap, approval, errors).
STATE_RESERVE = 16_384

# Step Functions refuses a SendTaskFailure cause over 32,768 characters (error: 256). A reason is recorded
# with the gate, in the cause and in the approval's output: bounded where it enters (CLI, Slack).
MAX_REASON = 1000
SFN_CAUSE_MAX = 32_768
