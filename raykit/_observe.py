"""Observability helpers: one number from Ray's metrics, a panel of series, and probe tasks."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .exceptions import ConfigError

# What metric_value evaluates without a Prometheus server: an optional sum( ... ) around one
# metric name with an optional {label matchers} block. Anything else needs the real PromQL.
_SIMPLE = re.compile(r"^\s*(?:sum\s*\(\s*(?P<inner>[^()]*?)\s*\)|(?P<bare>[^()]*?))\s*$", re.DOTALL)
_SELECTOR = re.compile(
    r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{(?P<matchers>.*)\})?$", re.DOTALL
)
_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')
_ONLY_SIMPLE = (
    'without a Prometheus server only sum(metric{label="value", ...}) or metric{...} can be '
    "evaluated (from one scrape of Ray's metrics endpoints); start raykit.Prometheus() for the "
    "rest of PromQL"
)


def _prometheus_running(prom: Any) -> bool:
    from ._prometheus import Prometheus

    if prom is None:
        return False
    if not isinstance(prom, Prometheus):
        raise ConfigError(
            f"prom={prom!r:.60} is not a raykit.Prometheus: pass the server you started "
            "(prom = raykit.Prometheus(); prom.start()), or None to read one scrape instead."
        )
    return prom.running


def _parse_simple(promql: str) -> tuple[str, list[tuple[str, str, str]]]:
    """``(metric name, [(label, op, value), ...])`` of a query in the subset, or ConfigError."""
    whole = _SIMPLE.match(promql)
    selector = whole and (whole["inner"] if whole["inner"] is not None else whole["bare"])
    found = _SELECTOR.match(selector.strip()) if selector else None
    if not found:
        raise ConfigError(f"promql={promql!r}: {_ONLY_SIMPLE}.")
    matchers = []
    for part in filter(str.strip, (found["matchers"] or "").split(",")):
        matcher = _MATCHER.match(part)
        if not matcher:
            raise ConfigError(f"promql={promql!r}: cannot read the matcher {part.strip()!r}.")
        matchers.append((matcher[1], matcher[2], matcher[3].replace('\\"', '"')))
    return found["name"], matchers


def _matches(labels: Mapping[str, str], matchers: list[tuple[str, str, str]]) -> bool:
    for label, op, value in matchers:
        got = labels.get(label, "")
        if op == "=" and got != value:
            return False
        if op == "!=" and got == value:
            return False
        if op in ("=~", "!~") and (re.fullmatch(value, got) is not None) != (op == "=~"):
            return False
    return True


def evaluate_on_scrape(promql: str, snapshot) -> float:
    """The summed value of a query in the simple subset, over one ``scrape_metrics`` snapshot."""
    name, matchers = _parse_simple(promql)
    rows = snapshot[snapshot["name"] == name]
    keep = rows["labels"].map(lambda labels: _matches(labels, matchers))
    return float(rows[keep]["value"].sum())


def metric_value(promql: str, prom: Any = None) -> float:
    """The value of a PromQL expression now, summed over the series it returns.

    Parameters
    ----------
    promql : str
        The expression, e.g. ``'sum(ray_tasks{Name="work", State="FINISHED"})'``.
    prom : raykit.Prometheus, optional
        A running server to ask. Without one (``None``, or a server that is not running), the
        cluster's metrics endpoints are read once (:func:`raykit.scrape_metrics`) and the
        expression is evaluated here, which understands only ``sum(metric{label="value", ...})``
        and ``metric{...}``, with the matchers ``=``, ``!=``, ``=~`` and ``!~``.

    Returns
    -------
    float
        The sum of the values (0.0 when no series matches yet: metrics trail the workload).

    Raises
    ------
    ConfigError
        ``promql`` is not a string, Prometheus rejected it, or, without a server, it is
        outside the subset above.
    """
    if not isinstance(promql, str) or not promql.strip():
        raise ConfigError(
            f"promql={promql!r} must be a PromQL expression as a string, e.g. "
            "'sum(ray_tasks{State=\"FINISHED\"})'."
        )
    if _prometheus_running(prom):
        frame = prom.query(promql)
        return float(frame["value"].sum()) if not frame.empty else 0.0
    _parse_simple(promql)  # a query outside the subset fails before the scrape
    from ._prometheus import scrape_metrics

    return evaluate_on_scrape(promql, scrape_metrics())


def plot_metrics(
    prom: Any,
    panels: Sequence[tuple[str, str, float]],
    start: float,
    end: float,
    *,
    bands: Mapping[str, tuple[float, float]] | None = None,
    step: float | None = None,
):
    """Draw PromQL series over a time window, one panel each, with shaded bands.

    Parameters
    ----------
    prom : raykit.Prometheus
        A running server (``query_range`` needs its history).
    panels : sequence of (title, promql, scale)
        One panel per entry; each series' values are divided by ``scale`` (1e6 for MB).
    start, end : float
        The window, in Unix seconds; the x axis shows seconds since ``start``.
    bands : mapping of label to (start, end), optional
        Stretches of time to shade on every panel, e.g. ``{"workload": (t0, t1)}``.
    step : float, optional
        Seconds between points; the server's scrape interval by default.

    Returns
    -------
    raykit.Chart
        The figure; it shows itself in a notebook and saves with ``.save(path)``.
    """
    from matplotlib.figure import Figure  # no pyplot: the Chart shows itself

    from ._measure import Chart

    if not _prometheus_running(prom):
        raise ConfigError("prom must be a running raykit.Prometheus: call prom.start() first.")
    if not panels or not all(isinstance(p, tuple | list) and len(p) == 3 for p in panels):
        raise ConfigError(
            f"panels={panels!r:.80} must be a list of (title, promql, scale) tuples, e.g. "
            "[('tasks/s', 'sum(rate(ray_tasks{State=\"FINISHED\"}[5s]))', 1.0)]."
        )
    if end <= start:
        raise ConfigError(f"start={start} must be before end={end}.")
    rows = (len(panels) + 1) // 2
    figure = Figure(figsize=(11, 3 * rows))
    axes = figure.subplots(rows, 2, sharex=True, squeeze=False).flat
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:red")
    for ax, (title, promql, scale) in zip(axes, panels, strict=False):
        frame = prom.query_range(promql, start, end, step=step)
        labels = [c for c in frame.columns if c not in ("time", "value")]
        for key, series in frame.groupby(labels) if labels else [("", frame)]:
            name = key[0] if isinstance(key, tuple) else key
            ax.plot(series["time"] - start, series["value"] / scale, label=name or None)
        for colour, (label, (t0, t1)) in zip(colours, (bands or {}).items(), strict=False):
            ax.axvspan(t0 - start, t1 - start, color=colour, alpha=0.1, label=f"[{label}]")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
    for ax in list(figure.axes)[-2:]:
        ax.set_xlabel("seconds since the start")
    figure.tight_layout()
    return Chart(figure)


# -- probe tasks: the checks run some of their own, so that a typed answer cannot keep up -------


def raykit_probe(fail: bool) -> str:
    """A task body for the checks: it fails on purpose when ``fail``, else returns ``"ok"``."""
    if fail:
        raise RuntimeError("raykit's check made this task fail on purpose")
    return "ok"


def run_probes(failing: int) -> str:
    """Run ``failing`` tasks of :func:`raykit_probe` that fail; return the function's name as
    Ray's State API records it. Waits for them to end, not for Ray to report them."""
    import ray

    probe = ray.remote(max_retries=0)(raykit_probe)
    wait_out([probe.remote(True) for _ in range(failing)])
    return raykit_probe.__name__


def wait_out(refs: list) -> None:
    """Wait for the tasks behind ``refs`` to end, reading their errors: an error never read is
    logged as an "Unhandled error" once its ref is dropped, which would only be noise here."""
    import ray

    for ref in refs:
        try:
            ray.get(ref, timeout=120)
        except ray.exceptions.RayError:
            pass


def task_count(function_name: str, state: str | None = None) -> int:
    """How many tasks of ``function_name`` (in ``state``) the State API lists, cluster-wide."""
    from ray.util.state import list_tasks

    from ._session import state_api_address

    filters = [("func_or_class_name", "=", function_name)]
    if state:
        filters.append(("state", "=", state))
    rows = list_tasks(
        address=state_api_address(), filters=filters, limit=10_000, raise_on_missing_output=False
    )
    return len({row.task_id for row in rows})


def failed_by_function() -> dict[str, int]:
    """``{function: number of FAILED tasks}`` from Ray's task summary (cluster-wide)."""
    from ray.util.state import summarize_tasks

    from ._session import state_api_address

    summary = summarize_tasks(address=state_api_address(), raise_on_missing_output=False)
    return {
        name: entry["state_counts"]["FAILED"]
        for name, entry in summary["cluster"]["summary"].items()
        if entry["state_counts"].get("FAILED")
    }
