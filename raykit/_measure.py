"""``raykit.measure`` and ``raykit.compare``: every figure in the lessons is timed the same way."""

from __future__ import annotations

import numbers
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ._html import render
from .exceptions import ConfigError


@dataclass(frozen=True)
class Timing:
    """The wall-clock seconds of each timed run of one function."""

    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        """Median seconds of the timed runs (robust to one slow run on a busy host)."""
        return statistics.median(self.runs)

    @property
    def min(self) -> float:
        """Fastest run, in seconds."""
        return min(self.runs)

    @property
    def max(self) -> float:
        """Slowest run, in seconds."""
        return max(self.runs)

    def __repr__(self) -> str:
        median, fastest = _fmt_s(self.median), _fmt_s(self.min, like=self.median)
        return f"{median} median of {len(self.runs)} (min {fastest})"


def measure(fn: Callable[[], object], *, repeat: int = 5, warmup: int = 1) -> Timing:
    """Time ``fn()``: run it ``warmup`` times untimed, then ``repeat`` times timed.

    Parameters
    ----------
    fn
        A function of no arguments (wrap a call with ``lambda: ...``). Its result is discarded;
        for Ray work, make ``fn`` wait for the result (``ray.get``) so the timing covers it.
    repeat
        Timed runs; the median is reported, so one slow run on a busy host does not skew it.
    warmup
        Untimed runs first: the first Ray tasks also pay for starting worker processes.

    Returns
    -------
    Timing
        ``.median``, ``.min``, ``.max`` and ``.runs``, in seconds.

    Raises
    ------
    ConfigError
        ``fn`` is not callable, or ``repeat``/``warmup`` is not a whole number in range.
    """
    if not callable(fn):
        raise ConfigError(
            f"fn={fn!r} is not callable: pass a function of no arguments, e.g. "
            "fn=lambda: ray.get(f.remote())."
        )
    _check_count("repeat", repeat, minimum=1)
    _check_count("warmup", warmup, minimum=0)
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return Timing(tuple(runs))


class Comparison:
    """Timings of several labelled cases, with speed-ups against a baseline case."""

    def __init__(self, timings: Mapping[str, Timing], baseline: str | None = None):
        if not timings:
            raise ConfigError("timings is empty: a Comparison needs at least one case.")
        self.timings = dict(timings)
        self.baseline = next(iter(self.timings)) if baseline is None else baseline
        self._timing(self.baseline, "baseline")

    @property
    def table(self):
        """A pandas DataFrame: label, median_s, min_s, runs, speedup (baseline median / median)."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "label": label,
                    "median_s": t.median,
                    "min_s": t.min,
                    "runs": len(t.runs),
                    "speedup": self.speedup(label),
                }
                for label, t in self.timings.items()
            ]
        )

    def median(self, label: str) -> float:
        """Median seconds of case ``label``."""
        return self._timing(label).median

    def speedup(self, label: str, over: str | None = None) -> float:
        """How many times faster ``label`` is than ``over`` (default: the baseline), by median."""
        reference = self._timing(self.baseline if over is None else over, "over").median
        mine = self._timing(label).median
        return reference / mine if mine > 0 else float("inf")

    def _timing(self, label: str, argument: str = "label") -> Timing:
        try:
            return self.timings[label]
        except (KeyError, TypeError):
            raise ConfigError(
                f"{argument}={label!r}: no case named {label!r}; the cases are "
                f"{', '.join(map(repr, self.timings))}."
            ) from None

    def _rows(self) -> list[dict]:
        return [
            {
                "label": label,
                "median": _fmt_s(t.median),
                "min": _fmt_s(t.min, like=t.median),
                "runs": len(t.runs),
                "speedup": f"{self.speedup(label):.2f}x",
            }
            for label, t in self.timings.items()
        ]

    def __repr__(self) -> str:
        header = {
            "label": "case",
            "median": "median",
            "min": "min",
            "runs": "runs",
            "speedup": f"vs {self.baseline}",
        }
        rows = [header, *self._rows()]
        widths = {k: max(len(str(r[k])) for r in rows) for k in header}
        lines = [
            "  ".join(
                str(r[k]).ljust(widths[k]) if k == "label" else str(r[k]).rjust(widths[k])
                for k in header
            ).rstrip()
            for r in rows
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return render("comparison.html", rows=self._rows(), baseline=self.baseline)


def compare(
    cases: Mapping[str, Callable[[], object]],
    *,
    repeat: int = 3,
    warmup: int = 1,
    baseline: str | None = None,
) -> Comparison:
    """Time each case with :func:`measure` and compare them.

    Parameters
    ----------
    cases
        ``{label: fn}``, timed in the order given.
    repeat, warmup
        Passed to :func:`measure` for every case.
    baseline
        The label the speed-ups are relative to; the first case when ``None``.

    Returns
    -------
    Comparison
        Prints as a text table, renders as an HTML table in a notebook; ``.median(label)``,
        ``.speedup(label, over=None)``, ``.table`` (a DataFrame).

    Raises
    ------
    ConfigError
        ``cases`` is empty or not a dict of functions, ``baseline`` is not one of its labels, or a
        count is out of range; the message names the argument.
    """
    if not isinstance(cases, Mapping):
        raise ConfigError(
            f"cases={cases!r}: pass a dict of labelled functions, e.g. "
            "cases={'loop': run_loop, 'ray': run_ray}."
        )
    if not cases:
        raise ConfigError("cases is empty: compare needs at least one case, {label: function}.")
    not_callable = [label for label, fn in cases.items() if not callable(fn)]
    if not_callable:
        raise ConfigError(
            f"cases[{not_callable[0]!r}] is not a function: each case is a function of no "
            "arguments, e.g. {'ray': lambda: ray.get(refs)}."
        )
    if baseline is not None and baseline not in cases:
        raise ConfigError(
            f"baseline={baseline!r} is not one of the cases {', '.join(map(repr, cases))}: "
            "pass one of those labels, or None for the first case."
        )
    _check_count("repeat", repeat, minimum=1)
    _check_count("warmup", warmup, minimum=0)
    timings = {label: measure(fn, repeat=repeat, warmup=warmup) for label, fn in cases.items()}
    return Comparison(timings, baseline)


def _check_count(name: str, value, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{name}={value!r}: pass a whole number >= {minimum}.")


def _fmt_s(seconds: float, like: float | None = None) -> str:
    """Seconds, or milliseconds when ``like`` (default: ``seconds``) is short, so that three
    significant digits stay visible; figures shown side by side share ``like``'s unit."""
    if (seconds if like is None else like) >= 0.1:
        return f"{seconds:.3f} s"
    return f"{seconds * 1000:.2f} ms"
