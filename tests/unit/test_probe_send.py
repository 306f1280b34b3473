"""The probe function's requests (bluegreen.probe.run) against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import ValidationError

from bluegreen import probe
from bluegreen.probe import ProbeRequest


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802
        Recorder.seen.append((self.path, self.headers.get("Host", "")))
        status = 500 if self.path.endswith("/broken") else 200
        body = f"web v2 answered {self.path}".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002
        return


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_direct_requests_send_the_routes_host_and_judge_status_and_body(server, monkeypatch):
    # Given no proxy
    monkeypatch.delenv("PROBE_PROXY_URL", raising=False)
    request = ProbeRequest.model_construct(  # a local server stands for the load balancer
        url=f"http://{server}/checkout",
        host="test.web.example.com",
        requests=3,
        requestTimeoutSeconds=2,
        bodyPattern=r"web v2\b",
    )

    # When the probe function runs
    answer = probe.run(request)

    # Then each request carried the route's host name and got the server's answer
    assert Recorder.seen == [("/checkout", "test.web.example.com")] * 3
    assert [(s.status, s.bodyMatched, s.error) for s in answer.samples] == [(200, True, None)] * 3


def test_through_a_proxy_the_request_names_the_load_balancer_and_keeps_the_host(server, monkeypatch):
    # Given a proxy (the emulator's load balancers, or a company's egress proxy)
    monkeypatch.setenv("PROBE_PROXY_URL", f"http://{server}")
    request = ProbeRequest(
        url="http://web-alb-1.us-east-1.elb.amazonaws.com/broken",
        host="www.example.com",
        requests=2,
        requestTimeoutSeconds=2,
    )

    answer = probe.run(request)

    # Then the proxy got the absolute URL and the Host header, and the answers' statuses came back
    assert Recorder.seen == [("http://web-alb-1.us-east-1.elb.amazonaws.com/broken", "www.example.com")] * 2
    assert [(s.status, s.bodyMatched) for s in answer.samples] == [(500, None)] * 2


def test_a_refused_connection_is_a_failed_request_not_an_error(monkeypatch):
    monkeypatch.delenv("PROBE_PROXY_URL", raising=False)
    request = ProbeRequest.model_construct(
        url=f"http://127.0.0.1:{closed_port()}/", host=None, requests=2, requestTimeoutSeconds=2, bodyPattern=None
    )

    answer = probe.run(request)

    assert [(s.status, s.error) for s in answer.samples] == [(None, "connection failed")] * 2


@pytest.mark.parametrize(
    "url",
    [
        "http://web-alb-123.eu-west-1.elb.amazonaws.com/checkout",
        "https://internal-web-123.eu-west-1.elb.amazonaws.com:8443/",
        "http://web-nlb-0a1b2c.elb.eu-west-1.amazonaws.com/",
        "http://web-alb-1.cn-north-1.elb.amazonaws.com.cn/",
    ],
)
def test_the_probe_function_sends_to_load_balancers(url):
    assert ProbeRequest(url=url, requests=1, requestTimeoutSeconds=1).url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://internal.example.com/",
        "http://x.elb.amazonaws.com.evil.example/",
        "file:///etc/passwd",
    ],
)
def test_the_probe_function_refuses_anything_else(url):
    # Given a request to something other than a load balancer (whoever may invoke the function)
    # Then it is refused before anything is sent
    with pytest.raises(ValidationError):
        ProbeRequest(url=url, requests=1, requestTimeoutSeconds=1)
