"""``raykit.load_test`` against a tiny HTTP server on 127.0.0.1: counts, failures, retries."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import raykit
from raykit import ConfigError


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server = self.server
        with server.lock:
            server.seen.append(body)
            server.calls += 1
            # Fail every `fail_every`-th call: a retry of that request lands on a call that works.
            failing = server.fail_every and server.calls % server.fail_every == 0
        status = 500 if failing else 200
        reply = json.dumps({"echo": body}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture
def server():
    """A threaded HTTP server on 127.0.0.1 at a free port; stopped after the test."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.lock, httpd.seen, httpd.calls, httpd.fail_every = threading.Lock(), [], 0, 0
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _url(httpd) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}/predict"


def test_counts_every_request_at_each_level_and_sends_the_payloads(server):
    report = raykit.load_test(
        _url(server), payloads=[{"x": 1}, {"x": 2}], concurrency=(1, 4), requests=20
    )
    table = report.table
    assert list(table.columns) == ["concurrency", "requests", "failures", "rps", "p50_ms", "p99_ms"]
    assert table.concurrency.tolist() == [1, 4]
    assert table.requests.tolist() == [20, 20]
    assert table.failures.tolist() == [0, 0]
    assert (table.rps > 0).all() and (table.p99_ms >= table.p50_ms).all()
    assert server.calls == 40
    assert {b["x"] for b in server.seen} == {1, 2}, "payloads are cycled through"


def test_server_errors_are_counted_as_failures_without_retry(server):
    server.fail_every = 4
    report = raykit.load_test(_url(server), payloads=[{}], concurrency=1, requests=20)
    assert report.failures == 5
    assert report.failure_reasons == {"HTTP 500": 5}
    assert report.table.requests.tolist() == [20]


def test_a_retry_brings_failures_to_zero(server):
    server.fail_every = 4
    report = raykit.load_test(_url(server), payloads=[{}], concurrency=2, requests=20, retries=2)
    assert report.failures == 0
    assert report.levels[0].retries > 0
    assert server.calls > 20, "the failed calls were sent again"


def test_an_unreachable_server_fails_fast_and_is_counted(server):
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    report = raykit.load_test(
        f"http://127.0.0.1:{port}/", payloads=[{}], concurrency=2, requests=4, timeout=2
    )
    assert report.failures == 4
    assert set(report.failure_reasons) == {"ConnectError"}


def test_a_callable_target_counts_exceptions_as_failures():
    calls = []

    def flaky(payload):
        calls.append(payload)
        if len(calls) % 2 == 0:
            raise RuntimeError("boom")

    report = raykit.load_test(flaky, payloads=[1], concurrency=1, requests=10)
    assert report.failures == 5 and report.failure_reasons == {"RuntimeError": 5}


def test_time_limit_bounds_a_level():
    import time

    report = raykit.load_test(
        lambda p: time.sleep(0.05), payloads=[0], concurrency=1, requests=10_000, time_limit_s=0.3
    )
    assert 1 <= report.requests < 100


def test_plot_overlays_two_reports(server):
    import matplotlib

    matplotlib.use("Agg")
    first = raykit.load_test(_url(server), payloads=[{}], concurrency=(1, 2), requests=5)
    second = raykit.load_test(_url(server), payloads=[{}], concurrency=(1, 2), requests=5)
    fig = first.plot(label="first")
    second.plot(axes=fig.axes, label="second")
    throughput, latency = fig.axes
    assert len(throughput.lines) == 2 and len(latency.lines) == 4
    assert [line.get_label() for line in throughput.lines] == ["first", "second"]


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"target": "http://example.com/"}, "target"),
        ({"target": "http://10.0.0.1:8000/"}, "target"),
        ({"target": 42}, "target"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": (1, 1000)}, "concurrency"),
        ({"requests": 0}, "requests"),
        ({"retries": -1}, "retries"),
        ({"payloads": []}, "payloads"),
    ],
)
def test_bad_arguments_raise_config_error_naming_them(kwargs, named):
    args = {"target": "http://127.0.0.1:9/", "payloads": [{}], **kwargs}
    target = args.pop("target")
    with pytest.raises(ConfigError, match=named):
        raykit.load_test(target, **args)
