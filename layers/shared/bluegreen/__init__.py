"""Shared domain package for the ECS blue/green deployment workflow.

Every Lambda function ships this package through the shared layer; the CLI and
the local emulator import it too.
"""

__version__ = "0.1.0"
