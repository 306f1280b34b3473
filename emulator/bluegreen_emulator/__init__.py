"""Embedded emulator: the real template, state machine and handlers on moto, with a simulated data plane."""
