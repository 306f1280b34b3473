"""A tiny fake of the Slack Web API on 127.0.0.1, and signed button clicks as Slack sends them.

``FakeSlack`` serves ``chat.postMessage``, ``chat.update`` and ``chat.postEphemeral``
under ``base_url`` (point ``SLACK_API_URL`` at it) and ``/response/<id>`` URLs usable
as a click's ``response_url``. It records every call, keeps the messages it holds,
and can be told to fail the next calls. ``signed_interaction`` builds exactly the
form body and headers Slack posts to the interactivity URL when a button is clicked.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlencode

from slack_sdk.signature import SignatureVerifier

from .loopback import LoopbackServer

CHANNEL_ID_PREFIXES = ("C", "G", "D")


@dataclass
class SlackCall:
    """One request the fake received: the API method (or ``response``) and its JSON-decoded arguments."""

    method: str
    args: dict[str, Any]
    token: str | None = field(default=None, repr=False)
    response_id: str | None = None
    status: int = 200


@dataclass
class _Failure:
    status: int
    error: str


def _is_channel_id(value: str) -> bool:
    return len(value) >= 3 and value[0] in CHANNEL_ID_PREFIXES and value[1:].isalnum() and value.upper() == value


def _decode_form(raw: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if value[:1] in ("[", "{"):
            try:
                args[key] = json.loads(value)
                continue
            except ValueError:
                pass
        args[key] = value
    return args


class FakeSlack(LoopbackServer):
    """A Slack Web API fake. Use as a context manager; thread-safe."""

    def __init__(self, token: str | None = None) -> None:
        """``token``: when given, API calls without ``Authorization: Bearer <token>`` get ``invalid_auth``."""
        super().__init__()
        self.token = token
        self._lock = threading.Lock()
        self._calls: list[SlackCall] = []
        self._failures: list[_Failure] = []
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._channels: dict[str, str] = {}
        self._counter = itertools.count(1)
        self._epoch = int(time.time())
        self.open = threading.Event()  # cleared: every request waits (a slow Slack) until it is set again
        self.open.set()

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server names it so
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # silence the access log
                return

        self._serve(Handler, "fake-slack")
        return self

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The Web API base URL (ends in ``/api/``), for ``SLACK_API_URL``."""
        return f"{self.url}/api/"

    def response_url(self, response_id: str | None = None) -> str:
        """A fresh ``response_url`` served by this fake."""
        return f"{self.url}/response/{response_id or uuid.uuid4().hex}"

    def channel_id(self, name: str) -> str:
        """The id this fake gives a channel name (ids are kept as they are)."""
        with self._lock:
            return self._channel_id_locked(name)

    # --- what happened ---------------------------------------------------------------------
    @property
    def calls(self) -> list[SlackCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    def responses(self, response_id: str | None = None) -> list[SlackCall]:
        """What was posted to response URLs (of one id, or all)."""
        return [c for c in self.calls_to("response") if response_id is None or c.response_id == response_id]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The current text and blocks of a message posted (and maybe updated) through this fake."""
        with self._lock:
            found = self._messages.get((channel, ts))
            return json.loads(json.dumps(found)) if found else None

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._failures.clear()

    def fail_next(self, n: int = 1, *, status: int = 500, error: str = "fatal_error") -> None:
        """Fail the next ``n`` requests with HTTP ``status`` (e.g. 500, 429) and ``{"ok": false, "error": error}``.

        With status 200, Web API calls answer ``{"ok": false}`` as Slack does; a ``response_url`` answers 404.
        """
        with self._lock:
            self._failures.extend(_Failure(status, error) for _ in range(n))

    # --- serving ---------------------------------------------------------------------------
    def _next_ts(self) -> str:
        return f"{self._epoch}.{next(self._counter):06d}"

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        self.open.wait(timeout=60)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length).decode("utf-8") if length else ""
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            args = json.loads(raw) if content_type == "application/json" and raw else _decode_form(raw)
        except ValueError:
            args = {"_raw": raw}
        if not isinstance(args, dict):
            args = {"_raw": args}
        auth = request.headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        path = request.path.split("?", 1)[0]
        if path.startswith("/response/"):
            call = SlackCall("response", args, token, response_id=path.removeprefix("/response/"))
        elif path.startswith("/api/"):
            call = SlackCall(path.removeprefix("/api/"), args, token)
        else:
            self._reply(request, 404, {"ok": False, "error": "not_found"})
            return
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
            self._calls.append(call)
            if failure is None:
                status, body = self._answer(call)
            else:
                # A response_url never answers 200 to a failure (e.g. 404 expired_url).
                status = 404 if call.method == "response" and failure.status == 200 else failure.status
                body = {"ok": False, "error": failure.error}
            call.status = status
        if call.method == "response":
            self._reply(request, status, "ok" if status == 200 and body.get("ok") else str(body.get("error")))
        else:
            self._reply(request, status, body)

    def _answer(self, call: SlackCall) -> tuple[int, dict[str, Any]]:
        """The answer to a call (the lock is held)."""
        if call.method == "response":
            return 200, {"ok": True}
        if self.token is not None and call.token != self.token:
            return 200, {"ok": False, "error": "invalid_auth" if call.token else "not_authed"}
        args = call.args
        channel = str(args.get("channel") or "")
        if not channel:
            return 200, {"ok": False, "error": "channel_not_found"}
        if call.method == "chat.postMessage":
            channel_id = self._channel_id_locked(channel)
            ts = self._next_ts()
            message = {"text": args.get("text"), "blocks": args.get("blocks"), "thread_ts": args.get("thread_ts")}
            self._messages[(channel_id, ts)] = message
            return 200, {"ok": True, "channel": channel_id, "ts": ts, "message": {**message, "ts": ts}}
        if call.method == "chat.update":
            if not _is_channel_id(channel):
                return 200, {"ok": False, "error": "channel_not_found"}  # chat.update needs the channel id
            key = (channel, str(args.get("ts") or ""))
            if key not in self._messages:
                return 200, {"ok": False, "error": "message_not_found"}
            self._messages[key].update({"text": args.get("text"), "blocks": args.get("blocks")})
            return 200, {"ok": True, "channel": channel, "ts": key[1], "text": args.get("text")}
        if call.method == "chat.postEphemeral":
            if not args.get("user"):
                return 200, {"ok": False, "error": "user_not_in_channel"}
            ts = self._next_ts()
            return 200, {"ok": True, "channel": self._channel_id_locked(channel), "ts": ts, "message_ts": ts}
        return 404, {"ok": False, "error": "unknown_method"}

    def _channel_id_locked(self, name: str) -> str:
        name = name.lstrip("#")
        if _is_channel_id(name):
            return name
        if name not in self._channels:
            self._channels[name] = f"CFAKE{len(self._channels) + 1:04d}"
        return self._channels[name]

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        if isinstance(body, str):
            data, content_type = body.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, content_type = json.dumps(body).encode("utf-8"), "application/json; charset=utf-8"
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(data)))
        if status == 429:
            request.send_header("Retry-After", "0")
        request.end_headers()
        request.wfile.write(data)


# --- what Slack sends when a button is clicked ------------------------------------------------
def interaction_payload(
    user_id: str,
    action_id: str,
    gate_id: str,
    channel: str = "C0DEMO",
    ts: str = "1700000000.000100",
    response_url: str = "https://hooks.slack.com/actions/T0DEMO/1/fake",
    user_name: str | None = None,
    team_id: str = "T0DEMO",
) -> dict[str, Any]:
    """The ``block_actions`` payload of a click on a gate message's button."""
    name = user_name or user_id.lower()
    action_ts = f"{time.time():.6f}"
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": name, "name": name, "team_id": team_id},
        "api_app_id": "A0BLUEGREEN",
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": f"{int(time.time())}.1.{uuid.uuid4().hex[:16]}",
        "team": {"id": team_id, "domain": "demo"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "deploys"},
        "message": {"type": "message", "user": "U0BLUEGREEN", "ts": ts, "bot_id": "B0BLUEGREEN", "text": "gate"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": f"gate-{gate_id}",
                "text": {"type": "plain_text", "text": action_id.capitalize(), "emoji": True},
                "value": gate_id,
                "type": "button",
                "action_ts": action_ts,
            }
        ],
    }


def sign(signing_secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack adds to a request with ``body``."""
    stamp = str(int(time.time()) if timestamp is None else int(timestamp))
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=stamp, body=body)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
    }


def signed_interaction(
    signing_secret: str,
    user_id: str,
    action_id: str,
    gate_id: str,
    channel: str = "C0DEMO",
    ts: str = "1700000000.000100",
    response_url: str = "https://hooks.slack.com/actions/T0DEMO/1/fake",
    timestamp: int | None = None,
    user_name: str | None = None,
) -> tuple[str, dict[str, str]]:
    """``(body, headers)`` of the POST Slack sends to the interactivity URL when ``user_id`` clicks a button."""
    payload = interaction_payload(user_id, action_id, gate_id, channel, ts, response_url, user_name)
    body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
    return body, sign(signing_secret, body, timestamp)


def http_api_event(
    body: str,
    headers: dict[str, str],
    *,
    base64_body: bool = False,
    method: str = "POST",
    path: str = "/slack/interactions",
) -> dict[str, Any]:
    """The API Gateway HTTP API (payload format 2.0) event that carries Slack's request to the callback."""
    now = time.time()
    user_agent = "Slackbot 1.0 (+https://api.slack.com/robots)"
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "application/json,*/*",
            "content-length": str(len(body.encode("utf-8"))),
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "user-agent": user_agent,
            "x-forwarded-for": "3.4.5.6",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            **{key.lower(): value for key, value in headers.items()},  # API Gateway lowercases header names
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "3.4.5.6",
                "userAgent": user_agent,
            },
            "requestId": uuid.uuid4().hex[:16] + "=",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": base64.b64encode(body.encode("utf-8")).decode("ascii") if base64_body else body,
        "isBase64Encoded": base64_body,
    }
