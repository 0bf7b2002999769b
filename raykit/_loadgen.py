"""``raykit.load_test``: a small concurrent load generator for loopback HTTP and callables."""

from __future__ import annotations

import collections
import ipaddress
import itertools
import math
import numbers
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

from .exceptions import ConfigError

# Hard ceilings, so that a typo cannot turn a lesson into a stress test of the host.
MAX_CONCURRENCY = 256
MAX_REQUESTS = 100_000


@dataclass
class LevelResult:
    """What one concurrency level measured: latencies of the requests that succeeded, failures."""

    concurrency: int
    requests: int
    failures: int
    seconds: float
    latencies_s: list[float] = field(repr=False)
    retries: int = 0
    reasons: collections.Counter = field(default_factory=collections.Counter, repr=False)

    @property
    def rps(self) -> float:
        """Requests answered successfully per second of wall-clock time at this level."""
        return (self.requests - self.failures) / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        """The ``q``-th percentile (0..100) of successful latencies, in milliseconds.

        Nearest-rank definition: the smallest latency with at least ``q`` % of the requests at
        or below it, i.e. the ``ceil(q / 100 * n)``-th fastest of ``n`` (the 1st for ``q=0``).
        It is NumPy's ``np.percentile(..., method="inverted_cdf")`` (Hyndman & Fan type 1):
        p50 of 10 requests is the 5th fastest, p99 of 100 the 99th, p99 of 10 the slowest.
        ``nan`` when no request succeeded.
        """
        return nearest_rank(self.latencies_s, q) * 1000


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values`` by the nearest-rank method; ``nan`` if empty.

    Why nearest rank and not NumPy's default linear interpolation: a latency percentile should be
    a latency some request really had (as HdrHistogram and most load tools report it), and for
    the tail it must not be pulled down by averaging with a faster neighbour: p99 of 100 requests
    is the 99th, never a blend of the 99th and the 100th.
    """
    if isinstance(q, bool) or not isinstance(q, numbers.Real) or not 0 <= q <= 100:
        raise ConfigError(f"q={q!r}: a percentile is a number from 0 to 100, e.g. q=99.")
    if not values:
        return float("nan")
    ordered = sorted(values)
    # Exact arithmetic on q as written: in floats 99.9 / 100 * 1000 is 999.0000000000001, whose
    # ceiling would turn p99.9 of 1,000 requests into the slowest one (NumPy has that slip).
    rank = math.ceil(Fraction(str(q)) * len(ordered) / 100)
    return ordered[min(max(rank, 1), len(ordered)) - 1]


class LoadReport:
    """The result of :func:`load_test`: one :class:`LevelResult` per concurrency level."""

    def __init__(self, levels: Sequence[LevelResult], target: str, label: str | None = None):
        self.levels = list(levels)
        self.target = target
        self.label = label

    @property
    def table(self):
        """A pandas DataFrame: concurrency, requests, failures, rps, p50_ms, p99_ms."""
        import pandas as pd

        rows = [
            {
                "concurrency": lv.concurrency,
                "requests": lv.requests,
                "failures": lv.failures,
                "rps": round(lv.rps, 1),
                "p50_ms": round(lv.percentile_ms(50), 2),
                "p99_ms": round(lv.percentile_ms(99), 2),
            }
            for lv in self.levels
        ]
        df = pd.DataFrame(rows)
        if self.label is not None:
            df.insert(0, "label", self.label)
        return df

    @property
    def failures(self) -> int:
        """Requests that failed after every retry, over all levels."""
        return sum(lv.failures for lv in self.levels)

    @property
    def requests(self) -> int:
        """Requests sent (each counted once, however many retries it took), over all levels."""
        return sum(lv.requests for lv in self.levels)

    @property
    def failure_reasons(self) -> dict[str, int]:
        """Why requests failed (``"HTTP 500"``, ``"ReadTimeout"``...), counted over all levels."""
        total: collections.Counter = collections.Counter()
        for lv in self.levels:
            total.update(lv.reasons)
        return dict(total)

    def plot(self, axes=None, label: str | None = None):
        """Plot throughput and latency (p50 solid, p99 dashed) against concurrency.

        Parameters
        ----------
        axes
            Two matplotlib axes from an earlier ``plot`` call (``fig.axes``) to draw this report
            beside another one; ``None`` makes a new figure.
        label
            Legend name of this report's lines; defaults to the report's label, or its target.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        else:
            fig = axes[0].figure
        name = label or self.label or self.target
        table = self.table
        throughput, latency = axes[0], axes[1]
        line = throughput.plot(table.concurrency, table.rps, marker="o", label=name)[0]
        latency.plot(table.concurrency, table.p50_ms, marker="o", color=line.get_color(),
                     label=f"{name} p50")  # fmt: skip
        latency.plot(table.concurrency, table.p99_ms, marker="^", linestyle="--",
                     color=line.get_color(), label=f"{name} p99")  # fmt: skip
        for ax in axes:
            ax.set_xscale("log", base=2)
            ax.set_xticks(table.concurrency, [str(c) for c in table.concurrency])
            ax.set_xlabel("concurrent clients")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
            # Rescale to every line drawn so far (an overlay adds lines), then start at zero:
            # a small difference must look small.
            ax.relim()
            ax.autoscale(True, axis="y")
            ax.autoscale_view()
            ax.set_ylim(bottom=0)
        throughput.set_ylabel("requests per second")
        throughput.set_title("throughput")
        latency.set_ylabel("latency (ms)")
        latency.set_title("latency: p50 solid, p99 dashed")
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        head = f"LoadReport of {self.target}" + (f" ({self.label})" if self.label else "")
        return head + "\n" + self.table.to_string(index=False)

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False)


def load_test(
    target: str | Callable[[Any], Any],
    *,
    payloads: Iterable[Any],
    concurrency: int | Sequence[int] = (1, 4, 16),
    requests: int = 200,
    timeout: float = 10.0,
    retries: int = 0,
    time_limit_s: float = 60.0,
    label: str | None = None,
) -> LoadReport:
    """Send requests from concurrent clients, level by level, and measure rps and latency.

    Each concurrency level runs ``concurrency`` client threads that send requests one after
    another, cycling through ``payloads``, until ``requests`` were sent or ``time_limit_s`` has
    passed. An HTTP target gets each payload as a JSON ``POST`` body over one keep-alive
    connection per client (httpx); an answer of status 400 or more, a timeout or a connection
    error is a failure.

    Parameters
    ----------
    target
        An ``http://`` URL on this host (127.0.0.1, ``localhost`` or ``::1``: the load stays on
        loopback), or a function of one payload; a function that raises counts as a failure.
    payloads
        What to send, cycled through; at least one.
    concurrency
        One level or several; each is a number of clients sending at the same time (1..256).
    requests
        Requests per level (1..100,000); each is counted once however many retries it takes.
    timeout
        Seconds each HTTP request may take before it counts as failed.
    retries
        How many more times a failed request is tried (after 50 ms, 100 ms, ...) before it
        counts as a failure.
    time_limit_s
        Per level: no new request starts after this many seconds.
    label
        A name for this run, shown in the table and the plot legend.

    Returns
    -------
    LoadReport
        ``.table`` (concurrency, requests, failures, rps, p50_ms, p99_ms), ``.plot()``,
        ``.failures`` and ``.failure_reasons``. Percentiles are nearest-rank
        (:meth:`LevelResult.percentile_ms`): each is a latency some request really had.

    Raises
    ------
    ConfigError
        An argument is out of range or of the wrong kind (a URL off this host, no payloads...);
        the message names it and the fix.
    """
    levels = _check_levels(concurrency)
    if isinstance(payloads, (str, bytes, Mapping)) or not isinstance(payloads, Iterable):
        raise ConfigError(
            f"payloads={payloads!r}: pass a list of payloads to cycle through, even for one "
            f"payload: payloads=[{payloads!r}]."
        )
    payloads = list(payloads)
    if not payloads:
        raise ConfigError("payloads is empty: pass at least one payload, e.g. payloads=[{}].")
    if not _is_whole(requests) or not 1 <= requests <= MAX_REQUESTS:
        raise ConfigError(f"requests={requests!r}: pass a count from 1 to {MAX_REQUESTS:,}.")
    if not _is_whole(retries) or retries < 0:
        raise ConfigError(f"retries={retries!r}: pass 0 (no retry) or a positive count.")
    for name, seconds in (("timeout", timeout), ("time_limit_s", time_limit_s)):
        if not _is_number(seconds) or not 0 < seconds < math.inf:
            raise ConfigError(f"{name}={seconds!r}: pass a positive number of seconds, e.g. 10.")
    if isinstance(target, str):
        _check_loopback_url(target)
        name = target
    elif callable(target):
        name = getattr(target, "__name__", repr(target))
    else:
        raise ConfigError(
            f"target={target!r} is neither a URL nor a function: pass 'http://127.0.0.1:PORT/...' "
            "or a function of one payload."
        )
    results = [
        _run_level(target, payloads, level, requests, timeout, retries, time_limit_s)
        for level in levels
    ]
    return LoadReport(results, name, label)


def _is_whole(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_levels(concurrency) -> list[int]:
    if isinstance(concurrency, numbers.Integral):
        levels = [concurrency]
    elif isinstance(concurrency, Iterable) and not isinstance(concurrency, (str, bytes)):
        levels = list(concurrency)
    else:
        levels = []
    if not levels or any(not _is_whole(c) or not 1 <= c <= MAX_CONCURRENCY for c in levels):
        raise ConfigError(
            f"concurrency={concurrency!r}: pass a whole number of clients from 1 to "
            f"{MAX_CONCURRENCY}, or a list of them, e.g. concurrency=(1, 4, 16)."
        )
    return [int(c) for c in levels]


def _check_loopback_url(url: str) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme not in ("http", "https") or not loopback:
        raise ConfigError(
            f"target={url!r}: load_test only sends load to this host. Pass an http:// URL on "
            "127.0.0.1, localhost or [::1], e.g. 'http://127.0.0.1:8000/'."
        )


def _run_level(target, payloads, concurrency, requests, timeout, retries, time_limit_s):
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    reasons: collections.Counter = collections.Counter()
    totals = {"sent": 0, "failures": 0, "retries": 0}
    deadline = time.perf_counter() + time_limit_s

    def client(worker: int) -> None:
        send, close = _sender(target, timeout)
        try:
            while time.perf_counter() < deadline:
                with lock:
                    index = next(counter)
                if index >= requests:
                    return
                payload = payloads[index % len(payloads)]
                start = time.perf_counter()
                reason, attempt = None, 0
                while True:
                    reason = send(payload)
                    if reason is None or attempt >= retries:
                        break
                    attempt += 1
                    time.sleep(0.05 * attempt)  # back off: give a restarting server a moment
                elapsed = time.perf_counter() - start
                with lock:
                    totals["sent"] += 1
                    totals["retries"] += attempt
                    if reason is None:
                        latencies.append(elapsed)
                    else:
                        totals["failures"] += 1
                        reasons[reason] += 1
        finally:
            close()

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="load") as pool:
        list(pool.map(client, range(concurrency)))
    seconds = time.perf_counter() - start
    return LevelResult(
        concurrency=concurrency,
        requests=totals["sent"],
        failures=totals["failures"],
        seconds=seconds,
        latencies_s=latencies,
        retries=totals["retries"],
        reasons=reasons,
    )


def _sender(target, timeout):
    """A ``send(payload) -> failure reason or None`` for one client, and its ``close``."""
    if callable(target):

        def call(payload):
            try:
                target(payload)
            except Exception as exc:  # any exception is the failure being counted
                return type(exc).__name__
            return None

        return call, lambda: None

    import httpx

    client = httpx.Client(timeout=timeout)

    def post(payload):
        try:
            response = client.post(target, json=payload)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return f"HTTP {response.status_code}" if response.status_code >= 400 else None

    return post, client.close
