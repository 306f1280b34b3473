"""``bluegreen local serve``: the embedded emulator as an AWS endpoint on 127.0.0.1.

Any AWS client works against it (``aws --endpoint-url http://127.0.0.1:4566 ...``, boto3,
the ``bluegreen`` CLI with ``AWS_ENDPOINT_URL``). The stack is deployed, the demo service is
seeded, the simulated data plane runs, and the Slack interactivity callback answers at
``/slack/interactions`` on the same port. Pushing an image to the demo repository
(``ecr put-image``) starts a deployment the way EventBridge would.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, TextIO

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from . import behaviours as image_behaviours
from .emulator import STACK, Emulator
from .fake_slack import http_api_event
from .simclock import CLOCK_LAG, RealTimeTicker, serve_clock

SLACK_PATH = "/slack/interactions"
DEMO_TAG_PATTERN = r"v\d+(\.\d+)*"  # pushes of v4, v4.1, ... to the demo repository deploy it
PACE = 60.0  # while a deployment waits for an answer, one real second is a simulated minute


def _slack_app(emu: Emulator) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
        except ValueError:
            length = 0
        raw = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        try:
            request = http_api_event(raw.decode("utf-8"), headers, method=environ["REQUEST_METHOD"], path=SLACK_PATH)
        except UnicodeDecodeError:
            # As API Gateway does with a body it cannot pass as text: base64, flagged; the callback answers 400.
            request = http_api_event("", headers, method=environ["REQUEST_METHOD"], path=SLACK_PATH)
            request.update(body=base64.b64encode(raw).decode("ascii"), isBase64Encoded=True)
        event = json.dumps(request)
        with emu.clock.hold():
            answer = json.loads(emu.dispatcher.invoke(emu.function_name("SlackCallbackFunction"), event, {}))
        status = int(answer.get("statusCode", 500))
        start_response(f"{status} {HTTPStatus(status).phrase}", list((answer.get("headers") or {}).items()))
        return [str(answer.get("body") or "").encode()]

    return app


def _application(emu: Emulator) -> Callable[..., Iterable[bytes]]:
    moto_app = DomainDispatcherApplication(create_backend_app)
    slack_app = _slack_app(emu)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == SLACK_PATH:
            return slack_app(environ, start_response)
        return moto_app(environ, start_response)

    return app


def _slack_settings(out: TextIO) -> dict[str, str]:
    """SLACK_* from the environment, or the defaults the emulator picks (printed)."""
    defaults = {
        "SLACK_SIGNING_SECRET": "emulator-signing-secret",
        "SLACK_BOT_TOKEN": "xoxb-emulator-token",
    }
    for name, value in defaults.items():
        if not os.environ.get(name):
            os.environ[name] = value
            print(f"{name} not set: using {value}", file=out)
    return {name: os.environ[name] for name in defaults}


def _port_problem(port: int) -> str | None:
    """Why ``port`` cannot be served on 127.0.0.1 (``None``: it can)."""
    if not 1 <= port <= 65535:
        return f"port {port} is not a TCP port (1-65535); pick another with --port"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"port {port} on 127.0.0.1 is busy; stop what uses it or pick another with --port"
            return f"cannot listen on 127.0.0.1:{port} ({error.strerror or error}); pick another with --port"
    return None


def serve(
    port: int = 4566,
    out: TextIO = sys.stdout,
    ready: threading.Event | None = None,
    behaviours: str | None = None,
    snapshot: str | None = None,
) -> int:
    problem = _port_problem(port)
    if problem:
        sys.stderr.write(f"error: {problem}\n")
        return 2
    try:
        rules = image_behaviours.load(behaviours).rules if behaviours else []
    except image_behaviours.BehavioursError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    rehearsed = None
    if snapshot:  # refused before anything starts: a malformed or newer-format file says what to do
        from bluegreen_cli.common import CliError
        from bluegreen_cli.snapshot import load

        try:
            rehearsed = load(snapshot)
        except CliError as error:
            sys.stderr.write(error.line() + "\n")
            return error.code
    _slack_settings(out)
    external_slack = os.environ.get("SLACK_API_URL")
    auto_approve = os.environ.get("BLUEGREEN_AUTO_APPROVE") == "1"
    settings: dict[str, Any] = {
        "auto_approve": auto_approve,
        "slack_api_url": external_slack or None,
        "pace": PACE,
        "clock": serve_clock(),
        "behaviours": rules,
    }
    if rehearsed:
        from .rehearsal import emulator_for

        emulator = emulator_for(rehearsed, **settings)
    else:
        emulator = Emulator(**settings)
    with emulator as emu:
        try:
            server = make_server(
                "127.0.0.1", port, _application(emu), threaded=True, request_handler=MotoRequestHandler
            )
        except SystemExit:  # werkzeug exits when the port was taken meanwhile
            sys.stderr.write(f"error: port {port} on 127.0.0.1 is busy; pick another with --port\n")
            return 2
        if rehearsed:
            from .rehearsal import seed_snapshot

            demo = seed_snapshot(emu, rehearsed)
        else:
            demo = emu.seed_service(config_overrides={"tagPattern": DEMO_TAG_PATTERN})
        endpoint = f"http://127.0.0.1:{port}"
        emu.user_functions.endpoint_url = endpoint  # users' functions call AWS through this endpoint
        slack = external_slack or (emu.slack.base_url if emu.slack else "none")
        print(
            f"Emulator listening on {endpoint} (region {emu.region}, account {emu.account}, any credentials)", file=out
        )
        if rehearsed:
            print(f"  rehearsal of    {snapshot} (taken {rehearsed.takenAt})", file=out)
        print(f"  state machine   {emu.state_machine_arn}", file=out)
        print(f"  table           {emu.store.table.name}", file=out)
        print(f"  demo service    {demo.name} (repository {demo.repository}, tags {', '.join(demo.digests)})", file=out)
        print("  any service     built with the AWS CLI runs too (docs/emulator-behaviours.md)", file=out)
        print(f"  Slack callback  {endpoint}{SLACK_PATH}   Slack Web API {slack}", file=out)
        print(f"  auto-approve    {'on' if auto_approve else 'off (BLUEGREEN_AUTO_APPROVE=1 turns it on)'}", file=out)
        print(f"  time            waits for an answer run {PACE:.0f}x faster than real time", file=out)
        print(f"  clock           starts {CLOCK_LAG} behind the wall clock, runs with it, never ahead", file=out)
        if rules:
            print(f"  behaviours      {len(rules)} rule(s) from {behaviours}", file=out)
        print("Use it with:", file=out)
        print(f"  export AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION={emu.region}", file=out)
        print(f"  export BLUEGREEN_STATE_MACHINE_ARN={emu.state_machine_arn}", file=out)
        print(f"  export BLUEGREEN_TABLE={emu.store.table.name}", file=out)
        print(f"  export BLUEGREEN_STACK={STACK}  # bluegreen doctor finds the stack's functions by it", file=out)
        print(f"  bluegreen deploy {demo.name} {'TAG' if rehearsed else 'v2'} --follow", file=out)
        print("Ready. Ctrl-C to stop.", file=out, flush=True)
        # Polled every 50 ms for a stop (the default, 0.5 s, made every Ctrl-C wait up to half a second).
        stop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        stop.start()
        ticker = RealTimeTicker(emu.clock)  # time passes whether or not a deployment runs
        ticker.start()
        if ready:
            ready.set()
        interrupted = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: interrupted.set())
        try:
            interrupted.wait()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.shutdown()
            ticker.stop()
            # A deployment in flight is stopped (and cleaned up, as StopExecution is in AWS) rather than
            # waited for: it may be waiting for an approval nobody will give.
            stopped = emu.stop_running()
            print(f"Stopped{f' ({stopped} deployment(s) in flight aborted)' if stopped else ''}.", file=out)
    return 0
