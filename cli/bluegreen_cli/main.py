"""Entry point of the ``bluegreen`` command."""

from __future__ import annotations

import argparse
import sys

from .local.demo import SCENARIOS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bluegreen", description="Blue/green deployments of ECS services.")
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="the embedded AWS emulator (no AWS account needed)")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    demo = local_commands.add_parser("demo", help="run one full blue/green deployment on the emulator")
    demo.add_argument("--scenario", choices=sorted(SCENARIOS), default="happy")
    demo.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    demo.add_argument("--verbose", action="store_true", help="show the handlers' log lines on stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "local" and args.local_command == "demo":
        from .local.demo import run_demo

        return run_demo(args.scenario, as_json=args.json, verbose=args.verbose)
    return 2


if __name__ == "__main__":
    sys.exit(main())
