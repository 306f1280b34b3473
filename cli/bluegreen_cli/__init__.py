"""The ``bluegreen`` command line: local emulator today, operator commands as they land."""
