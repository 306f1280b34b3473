"""Entry point of the ``bluegreen`` command.

Start-up stays cheap: this module imports only the standard library and plain data
(``common``, ``local.scenarios``). boto3 and the operator commands are imported when
a command against AWS runs, the emulator (moto, the ``local`` extra) only for
``bluegreen local ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Any

from bluegreen.domain.limits import MAX_REASON
from bluegreen_emulator.scenarios import SCENARIOS

from .common import DEFAULT_INTERVAL, DEFAULT_STACK, STACK_ENV, CliError, UsageError
from .release_args import add_release_arguments, release_input

# Distributions of the ``local`` extra: without them ``bluegreen local`` says how to install it.
LOCAL_EXTRA_MODULES = ("moto", "samtranslator", "werkzeug", "flask", "flask_cors")
LOCAL_EXTRA_HINT = "error: bluegreen local needs the emulator: pip install 'ecs-bluegreen[local]'"

EPILOG = f"""\
The state machine and the deployments table are read from the outputs of the CloudFormation stack
(--stack, default ${STACK_ENV} or {DEFAULT_STACK}) unless BLUEGREEN_STATE_MACHINE_ARN and BLUEGREEN_TABLE
are set. Service configurations are read from SSM under $CONFIG_PREFIX (default /bluegreen/services).
Exit status: 0 ok, 1 failed deployment or refused operation, 2 usage error (unknown service, missing image).
"""

POLL_HELP = f"seconds between polls while following (default {DEFAULT_INTERVAL:g})"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _reason(text: str) -> str:
    """A decision's reason: recorded with the gate and in the Step Functions cause (bounded)."""
    if len(text) > MAX_REASON:
        raise argparse.ArgumentTypeError(f"at most {MAX_REASON} characters (got {len(text)})")
    return text


def build_parser() -> argparse.ArgumentParser:
    # AWS options are accepted before or after the command (bluegreen --region X status / bluegreen status --region X).
    aws = argparse.ArgumentParser(add_help=False)
    aws.add_argument("--region", default=argparse.SUPPRESS, help="AWS region (default: from the AWS config)")
    aws.add_argument("--profile", default=argparse.SUPPRESS, help="AWS named profile")
    aws.add_argument(
        "--stack",
        default=argparse.SUPPRESS,
        help=f"name of the ecs-bluegreen stack (default: ${STACK_ENV} or {DEFAULT_STACK})",
    )
    aws.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")

    parser = argparse.ArgumentParser(
        prog="bluegreen",
        description="Blue/green deployments of ECS services.",
        parents=[aws],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text, parents=[aws])

    deploy = command(
        "deploy", "start a deployment of SERVICE: an image TAG, several images, a task definition or a few changes"
    )
    deploy.add_argument("service", metavar="SERVICE")
    add_release_arguments(deploy)
    deploy.add_argument("--follow", action="store_true", help="watch the deployment until it ends")
    deploy.add_argument("--interval", type=_seconds, default=DEFAULT_INTERVAL, metavar="SECONDS", help=POLL_HELP)

    plan = command("plan", "show what a release of SERVICE would change (reads AWS, changes nothing)")
    plan.add_argument("service", metavar="SERVICE")
    add_release_arguments(plan)

    status = command("status", "the running or last deployment and the pending gate of each service")
    status.add_argument("service", metavar="SERVICE", nargs="?", help="one service (default: all configured)")

    history = command("history", "recent deployments of SERVICE and their outcomes")
    history.add_argument("service", metavar="SERVICE")
    history.add_argument("--limit", type=_positive, default=10, metavar="N", help="how many (default 10)")

    for name, help_text in (
        ("approve", "approve SERVICE's pending approval: production switches to green"),
        ("reject", "reject SERVICE's pending approval: green is deleted, production untouched"),
        ("rollback", "roll SERVICE back to the previous task set during the bake or the keep-old hold"),
        ("finish", "end SERVICE's keep-old hold now: the old task set is deleted"),
    ):
        gate = command(name, help_text)
        gate.add_argument("service", metavar="SERVICE")
        if name != "finish":
            gate.add_argument(
                "--reason",
                type=_reason,
                default="",
                metavar="TEXT",
                help=f"recorded with the decision (at most {MAX_REASON} characters)",
            )

    # Move a rolling / CodeDeploy service to this tool, side by side
    adopt = command(
        "adopt",
        "move SERVICE (ECS or CODE_DEPLOY controller) to a new EXTERNAL service deployed by this tool, without "
        "dropping traffic; then --confirm scales the old service to 0",
    )
    adopt.add_argument("service", metavar="SERVICE", help="the existing (old) service")
    adopt.add_argument("--cluster", required=True, help="the cluster of SERVICE (the new service goes there too)")
    adopt.add_argument("--production-rule", metavar="ARN", help="listener rule sending production to SERVICE")
    adopt.add_argument("--test-rule", metavar="ARN", help="listener rule forwarding to the idle target group")
    adopt.add_argument("--new-name", metavar="NAME", help="name of the new service (default SERVICE-bg)")
    adopt.add_argument("--tag", metavar="TAG", help="image tag to deploy (default: the one SERVICE runs)")
    adopt.add_argument("--config", metavar="FILE", help="JSON merged into the new service configuration")
    adopt.add_argument("--overwrite", action="store_true", help="replace an existing configuration document")
    adopt.add_argument("--confirm", action="store_true", help="scale SERVICE to 0 once production is on the new one")
    adopt.add_argument("--follow", action="store_true", help="watch the first deployment until it ends")
    adopt.add_argument("--interval", type=_seconds, default=DEFAULT_INTERVAL, metavar="SECONDS", help=POLL_HELP)
    # Roll back to the previous release after it finished; delivery metrics
    rollback = commands.choices["rollback"]
    rollback.add_argument(
        "--to-previous",
        action="store_true",
        help="after a release finished: deploy the previous successful release again (its pinned digest), "
        "through the health gate, the swap and the bake; approval skipped unless --require-approval",
    )
    rollback.add_argument("--require-approval", action="store_true", help="with --to-previous: keep the approval")
    rollback.add_argument("--follow", action="store_true", help="with --to-previous: watch it until it ends")
    rollback.add_argument("--interval", type=_seconds, default=DEFAULT_INTERVAL, metavar="SECONDS", help=POLL_HELP)
    stats = command("stats", "delivery metrics: deployment frequency, change failure rate, time to restore, ...")
    stats.add_argument("service", metavar="SERVICE", nargs="?", help="one service (default: every configured one)")
    stats.add_argument("--since", default="30d", metavar="AGE", help="window: 30d, 12h, 2w or a date (default 30d)")
    stats.add_argument("--json", action="store_true", help="print JSON")

    doctor = command(
        "doctor",
        "read-only preflight of SERVICE: controller, routes, target groups, stickiness, task sets, alarms, hooks, "
        "images, and the stack's IAM for each call (exit status 1 when a check fails)",
    )
    doctor.add_argument("service", metavar="SERVICE")

    selftest = command(
        "selftest",
        "on throwaway resources (a service, target groups, rules on the listener you name, a repository): run a "
        "full release and a rolled-back one through the stack, then delete everything",
    )
    selftest.add_argument("--listener-arn", required=True, metavar="ARN", help="listener to add two rules to")
    selftest.add_argument("--cluster", required=True, help="ECS cluster for the throwaway service")
    selftest.add_argument("--subnets", required=True, metavar="IDS", help="comma-separated subnets of its tasks")
    selftest.add_argument("--security-groups", default="", metavar="IDS", help="comma-separated security groups")
    selftest.add_argument(
        "--image", action="append", default=[], metavar="REPO:TAG", help="an ECR image to copy (give two)"
    )
    selftest.add_argument("--task-definition", required=True, metavar="FAMILY", help="task definition to copy")
    selftest.add_argument("--keep", action="store_true", help="leave what it created for inspection")
    selftest.add_argument("--interval", type=_seconds, default=DEFAULT_INTERVAL, metavar="SECONDS", help=POLL_HELP)

    follow = command("follow", "watch a deployment until it ends (exit status 0 if it succeeded)")
    follow.add_argument("execution_arn", metavar="EXECUTION_ARN")
    follow.add_argument("--interval", type=_seconds, default=DEFAULT_INTERVAL, metavar="SECONDS", help=POLL_HELP)

    # Lost events: what failed after its retries is kept in the stack's queue and re-delivered from here
    events = commands.add_parser("events", help="events the stack kept after they failed for good")
    events_commands = events.add_subparsers(dest="events_command", required=True)
    replay = events_commands.add_parser(
        "replay",
        help="re-deliver each kept event to its function (synchronously) and remove it once it succeeded",
        description="Re-deliver each event kept in the failed-events queue to its function and show the result; "
        "a replayed event is removed from the queue, one that fails again stays.",
        parents=[aws],
    )
    replay.add_argument("--dry-run", action="store_true", help="list the kept events, change nothing")

    # Migrating from CodeDeploy
    config = commands.add_parser("config", help="service configurations")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    from_codedeploy = config_commands.add_parser(
        "from-codedeploy",
        help="print the service configuration equivalent to a CodeDeploy ECS deployment group",
        parents=[aws],
    )
    from_codedeploy.add_argument("--application", required=True, metavar="A", help="CodeDeploy application")
    from_codedeploy.add_argument("--deployment-group", required=True, metavar="G", help="its deployment group")

    local = commands.add_parser("local", help="the embedded AWS emulator (no AWS account needed)")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    demo = local_commands.add_parser("demo", help="run one full blue/green deployment on the emulator")
    demo.add_argument("--scenario", choices=sorted(SCENARIOS), default="happy")
    demo.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    demo.add_argument("--verbose", action="store_true", help="show the handlers' log lines on stderr")
    demo.add_argument("--interactive", action="store_true", help="wait for you to approve or reject at a prompt")
    serve = local_commands.add_parser("serve", help="run the emulator as an AWS endpoint on 127.0.0.1")
    serve.add_argument("--port", type=int, default=4566)
    serve.add_argument(
        "--behaviours",
        metavar="FILE",
        help="YAML/JSON rules giving images a behaviour by tag (see docs/emulator-behaviours.md)",
    )
    serve.add_argument(
        "--snapshot", metavar="FILE", help="seed the emulator with a snapshot (bluegreen local snapshot) to rehearse on"
    )
    snapshot = local_commands.add_parser(
        "snapshot", help="read (describe calls only) what a release of SERVICE touches into a file to rehearse on"
    )
    snapshot.add_argument("service", metavar="SERVICE")
    snapshot.add_argument("--output", "-o", required=True, metavar="FILE", help="the snapshot file to write")
    snapshot.add_argument("--with-hook-code", action="store_true", help="also download the hook functions' code")
    snapshot.add_argument("--region", default=None, help="AWS region (default: the SDK's)")
    snapshot.add_argument(
        "--stack", default=None, metavar="NAME", help="the deployment stack, to keep its scoping parameters"
    )
    local_commands.add_parser("faults", help="inject a fault at every AWS call site of a deployment")
    local_commands.add_parser(
        "chaos", help="inject data-plane events (crashes, scaling, drains) at every phase; lose, repeat, delay events"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # usage error or --help: argparse has printed it
        return stop.code if isinstance(stop.code, int) else 0
    if args.command == "local":
        return _local(args)
    return run_command(args)


def _local(args: argparse.Namespace) -> int:
    """The emulator commands (imported lazily: they load moto, from the ``local`` extra)."""
    try:
        return _run_local(args)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in LOCAL_EXTRA_MODULES:
            raise
        sys.stderr.write(LOCAL_EXTRA_HINT + "\n")
        return 2


def _run_local(args: argparse.Namespace) -> int:
    if args.local_command == "snapshot":  # reads an account with boto3 only: no emulator needed
        from .common import CliError
        from .snapshot import main as snapshot

        try:
            return snapshot(args.service, args.output, args.with_hook_code, args.region, args.stack)
        except CliError as error:
            sys.stderr.write(error.line() + "\n")
            return error.code
    if args.local_command == "demo":
        from bluegreen_emulator.demo import run_demo

        return run_demo(args.scenario, as_json=args.json, verbose=args.verbose, interactive=args.interactive)
    if args.local_command == "serve":
        from bluegreen_emulator.serve import serve

        status = serve(args.port, behaviours=args.behaviours, snapshot=args.snapshot)
        # The emulator's state is in memory and thrown away: freeing moto's backends object by object at
        # interpreter exit takes seconds, so the process leaves at once (output flushed first).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    if args.local_command == "chaos":
        from bluegreen_emulator.chaos import main as chaos

        return chaos()
    from bluegreen_emulator.faults import main as faults

    return faults()


def run_command(args: argparse.Namespace) -> int:
    # The AWS options default to SUPPRESS so that a subcommand does not reset them: fill them in here.
    for name in ("region", "profile", "stack"):
        setattr(args, name, getattr(args, name, None))
    args.debug = getattr(args, "debug", False)
    try:
        return _dispatch(args)
    except CliError as error:
        sys.stderr.write(error.line() + "\n")
        return error.code
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - every failure is one readable line, never a traceback
        code, line = describe_failure(error)
        if args.debug:
            traceback.print_exc()
        sys.stderr.write(line + "\n")
        return code


def _dispatch(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import ProfileNotFound

    from bluegreen.domain.errors import BlueGreenError

    from .operator import Clients, Operator

    try:
        session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    except ProfileNotFound as error:
        raise UsageError(f"AWS profile '{args.profile}' not found", "check --profile and ~/.aws/config") from error
    stack = args.stack or os.environ.get(STACK_ENV) or DEFAULT_STACK
    operator = Operator(Clients(session), stack=stack, interval=getattr(args, "interval", DEFAULT_INTERVAL))
    if args.command == "config":
        import json

        from .codedeploy import read

        print(json.dumps(read(session, args.application, args.deployment_group), indent=2))  # noqa: T201 - the output
        sys.stderr.write(
            "note: the ECS service must use the EXTERNAL deployment controller (a CodeDeploy one is replaced); "
            "store this document in SSM under the stack's ConfigParameterPrefix/<service>\n"
        )
        return 0
    try:
        if args.command in ("deploy", "plan"):
            release = release_input(args, operator.load_config(args.service).containerName)
            if args.command == "plan":
                return operator.plan(args.service, release)
            arn = operator.deploy(args.service, release=release)
            return operator.follow(arn) if args.follow else 0
        if args.command == "status":
            return operator.status(args.service)
        if args.command == "history":
            return operator.history(args.service, args.limit)
        if args.command == "rollback" and args.to_previous:
            arn = operator.rollback_to_previous(args.service, args.reason, args.require_approval)
            return operator.follow(arn) if args.follow else 0
        if args.command == "stats":
            return operator.stats(args.service, args.since, args.json)
        if args.command in ("approve", "reject", "rollback", "finish"):
            return operator.answer(args.service, args.command, getattr(args, "reason", ""))
        if args.command == "follow":
            return operator.follow(args.execution_arn)
        if args.command == "selftest":
            from .selftest import SelfTest

            return SelfTest(
                operator,
                listener_arn=args.listener_arn,
                cluster=args.cluster,
                subnets=[s for s in args.subnets.split(",") if s],
                security_groups=[s for s in args.security_groups.split(",") if s],
                images=args.image,
                task_definition=args.task_definition,
            ).run(keep=args.keep)
        if args.command == "doctor":
            from .doctor_aws import doctor

            return doctor(operator, args.service, stack)
        if args.command == "events":
            return operator.events_replay(dry_run=args.dry_run)
        if args.command == "adopt":
            return _adopt(operator, args)
    except BlueGreenError as error:  # e.g. TransientAwsError from the shared package
        raise CliError(error.message, "try again") from error
    raise UsageError(f"unknown command {args.command}")


def _adopt(operator: Any, args: argparse.Namespace) -> int:
    """``bluegreen adopt`` (start, or ``--confirm``)."""
    import json

    from .adopt import Adopter

    adopter = Adopter(operator)
    if args.confirm:
        return adopter.confirm(args.service, args.cluster, args.new_name)
    if not args.production_rule or not args.test_rule:
        raise UsageError("adopt needs --production-rule and --test-rule", "see bluegreen adopt --help")
    extra = {}
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as handle:
                extra = json.load(handle)
        except (OSError, ValueError) as error:
            raise UsageError(f"cannot read --config {args.config}: {error}", "pass a JSON object") from error
    arn = adopter.start(
        args.service,
        args.cluster,
        args.production_rule,
        args.test_rule,
        new_name=args.new_name,
        tag=args.tag,
        extra=extra,
        overwrite=args.overwrite,
    )
    return operator.follow(arn) if args.follow else 0


def describe_failure(error: Exception) -> tuple[int, str]:
    """``(exit status, one line)`` for an unexpected failure: AWS access problems first."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    if isinstance(error, ProfileNotFound):
        return 2, f"error: {error}; check --profile, AWS_PROFILE and ~/.aws/config"
    if isinstance(error, NoRegionError):
        return 2, "error: no AWS region configured; pass --region or set AWS_REGION"
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return 1, "error: no AWS credentials found; configure them (aws configure, AWS_PROFILE or --profile)"
    if isinstance(error, EndpointConnectionError):
        return 1, f"error: {error}; check the network, the region and AWS_ENDPOINT_URL"
    if isinstance(error, ClientError):
        info: dict[str, Any] = error.response.get("Error", {})
        code, message = info.get("Code", "Error"), " ".join(str(info.get("Message", "")).split())
        hint = "check the IAM permissions of your identity" if "AccessDenied" in code else "try again"
        if code in ("ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException"):
            hint = "refresh your AWS credentials"
        return 1, f"error: {error.operation_name} failed: {code}: {message}; {hint}"
    if isinstance(error, BotoCoreError):
        return 1, f"error: {' '.join(str(error).split())}; check your AWS configuration"
    text = " ".join(str(error).split())
    return 1, f"error: unexpected {type(error).__name__}: {text}; rerun with --debug for details"


if __name__ == "__main__":
    sys.exit(main())
