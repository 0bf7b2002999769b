"""Ray Tune results at a glance: each trial's learning curve, and where early stopping cut it."""

from __future__ import annotations

from typing import Any

from ._measure import Chart
from .exceptions import ConfigError


def _results_of(results: Any, argument: str = "results") -> list:
    """The ``Result`` of every trial in ``results`` (a ``ResultGrid``); a ConfigError otherwise."""
    from ray.tune import ResultGrid

    if not isinstance(results, ResultGrid):
        raise ConfigError(
            f"{argument} is a {type(results).__name__}, not a ResultGrid: pass what "
            "tune.Tuner(...).fit() returned."
        )
    return list(results)


def trial_iterations(results: Any) -> list[int]:
    """The iterations (``tune.report`` calls) each trial of ``results`` ran, in trial order.

    A trial that never started (an experiment stopped early) counts 0.

    Parameters
    ----------
    results
        A ``ResultGrid``, as ``tune.Tuner(...).fit()`` returns it.

    Returns
    -------
    list of int
    """
    return [int((r.metrics or {}).get("training_iteration", 0)) for r in _results_of(results)]


def learning_curves(
    results: Any, metric: str, *, max_t: int | None = None, title: str | None = None
) -> Chart:
    """Draw ``metric`` against the iteration for every trial of a Tune experiment.

    A cross marks the last iteration of each trial that stopped before ``max_t`` (a scheduler
    such as ASHA stopped it early).

    Parameters
    ----------
    results
        A ``ResultGrid``, as ``tune.Tuner(...).fit()`` returns it.
    metric
        The reported metric to draw, e.g. ``"accuracy"``.
    max_t
        The iterations a trial runs when nothing stops it; by default the longest trial's.
    title
        The chart's title; by default the number of trials.

    Returns
    -------
    Chart
        Shows itself in a notebook; ``.save(path)`` writes it to a file.
    """
    from matplotlib.figure import Figure

    trials = _results_of(results)
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f"metric={metric!r} must be the name of a reported metric, e.g. 'acc'.")
    if max_t is not None and (isinstance(max_t, bool) or not isinstance(max_t, int) or max_t < 1):
        raise ConfigError(f"max_t={max_t!r} must be a whole number of iterations >= 1, or None.")
    curves = [r.metrics_dataframe for r in trials]
    curves = [c for c in curves if c is not None and not c.empty]  # never-started trials: none
    if curves and metric not in curves[0].columns:
        shown = ", ".join(c for c in curves[0].columns if "/" not in c)
        raise ConfigError(f"metric={metric!r} was not reported; the trials reported: {shown}.")
    longest = max((int(c.training_iteration.max()) for c in curves), default=1)
    max_t = max_t or longest
    figure = Figure(figsize=(6, 3.6))
    ax = figure.subplots()
    for curve in curves:
        line = ax.plot(curve.training_iteration, curve[metric], marker=".", alpha=0.8)[0]
        if curve.training_iteration.iloc[-1] < max_t:
            last = curve.iloc[-1]
            ax.plot(last.training_iteration, last[metric], "x", color=line.get_color())
    ax.set_title(title or f"{len(curves)} trials; x = stopped early")
    ax.set_xlabel("iteration (tune.report call)")
    ax.set_ylabel(metric)
    ax.set_xticks(range(1, max(max_t, longest) + 1))
    ax.grid(True, alpha=0.3)
    figure.tight_layout()
    return Chart(figure)
