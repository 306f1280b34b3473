"""Shared domain package for the ECS blue/green deployment workflow.

Every Lambda function ships this package through the shared layer; the CLI and
the local emulator import it too.
"""

__version__ = "0.1.0"

# What the handlers' Tracer patches for X-Ray: the AWS SDK, the only supported library the functions call.
# Tracer() would patch every library X-Ray supports that is installed, importing them all at cold start
# (sqlite3 among them) for nothing ("patch specific modules", Powertools Tracer docs; cold start).
TRACED_MODULES = ("botocore",)
