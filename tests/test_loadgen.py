"""``raykit.load_test`` against a tiny HTTP server on 127.0.0.1: counts, failures, retries."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

import raykit
from raykit import ConfigError
from raykit._loadgen import LevelResult, LoadReport


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server
    failed_last = False  # whether this connection's last call failed (one handler per connection)

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server = self.server
        with server.lock:
            server.seen.append(body)
            server.calls += 1
            # Fail every `fail_every`-th call, but never the call after a failure on the same
            # connection (one per client), so a retry works. Counting calls alone, the other
            # client's calls during the retry's back-off could land the retry on the next failing
            # call (a make test run failed so).
            failing = bool(
                server.fail_every and server.calls % server.fail_every == 0 and not self.failed_last
            )
        self.failed_last = failing
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
        ({"payloads": {"x": 1}}, "payloads"),
        ({"payloads": 7}, "payloads"),
        ({"concurrency": "4"}, "concurrency"),
        ({"concurrency": 2.0}, "concurrency"),
        ({"requests": "10"}, "requests"),
        ({"retries": 0.5}, "retries"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": "10"}, "timeout"),
        ({"time_limit_s": -1}, "time_limit_s"),
    ],
)
def test_bad_arguments_raise_config_error_naming_them(kwargs, named):
    args = {"target": "http://127.0.0.1:9/", "payloads": [{}], **kwargs}
    target = args.pop("target")
    with pytest.raises(ConfigError, match=named):
        raykit.load_test(target, **args)


# --- percentiles ----------------------------------------------------------------------------------

QS = [0, 1, 25, 50, 90, 95, 99, 99.9, 100]
SIZES = [*range(1, 201), 256, 999, 1000, 1001, 2000, 4097]


def _level(latencies_s) -> LevelResult:
    return LevelResult(
        concurrency=1, requests=len(latencies_s), failures=0, seconds=1.0, latencies_s=latencies_s
    )


def test_percentiles_are_numpys_inverted_cdf_on_many_sizes():
    """Nearest rank, checked against NumPy's own implementation of it on shuffled samples."""
    rng = np.random.default_rng(12)
    sizes = SIZES + rng.integers(201, 5000, size=10).tolist()
    float_slips = []
    for n in sizes:
        sample = rng.lognormal(-4, 1, size=n)  # latency-like: a long right tail, no ties
        level = _level(sample.tolist())
        for q in QS:
            ours = level.percentile_ms(q) / 1000
            theirs = float(np.percentile(sample, q, method="inverted_cdf"))
            if ours != pytest.approx(theirs, rel=1e-12):
                float_slips.append((n, q))
                # NumPy ranks with q / 100 * n in floats; the kit with exact arithmetic. Where
                # they differ, NumPy is one rank too high, and the kit is the exact rank.
                exact_rank = -(-round(q * 10) * n // 1000)  # ceil(q * n / 100), q in tenths
                assert ours == np.sort(sample)[exact_rank - 1]
                assert theirs == np.sort(sample)[exact_rank]
    assert {(1000, 99.9), (2000, 99.9)} <= set(float_slips), "the slips the kit avoids"
    assert len(float_slips) <= 6, "everywhere else the kit and NumPy agree"


@pytest.mark.parametrize(
    "n, q, rank",
    [
        (100, 99, 99),
        (100, 50, 50),
        (10, 50, 5),
        (10, 90, 9),
        (10, 99, 10),
        (1000, 99.9, 999),
        (3, 0, 1),
        (3, 100, 3),
        (1, 50, 1),
        (7, 50, 4),
    ],
)
def test_nearest_rank_by_hand(n, q, rank):
    """The rank written down from the definition: the ceil(q/100 * n)-th fastest, at least 1."""
    latencies = [i / 1000 for i in range(n, 0, -1)]  # n ms down to 1 ms: sorting is needed
    assert _level(latencies).percentile_ms(q) == pytest.approx(rank)


def test_percentile_of_no_successful_request_is_nan_and_a_bad_q_is_named():
    assert np.isnan(_level([]).percentile_ms(50))
    for q in (-1, 101, float("nan"), "99", None):
        with pytest.raises(ConfigError, match=r"q="):
            _level([0.1]).percentile_ms(q)


def test_the_table_reports_the_nearest_rank_p50_and_p99():
    """What users read: the table's p50_ms and p99_ms columns, against NumPy on the same data."""
    latencies = [i / 1000 for i in range(1, 101)]
    table = LoadReport([_level(latencies)], "fake").table
    assert table.p50_ms.tolist() == [np.percentile(range(1, 101), 50, method="inverted_cdf")]
    assert table.p99_ms.tolist() == [99.0], "p99 of 100 requests is the 99th, not the slowest"
