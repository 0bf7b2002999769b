"""``raykit.measure``, ``compare`` and ``sweep``: every figure in the lessons is timed alike."""

from __future__ import annotations

import numbers
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
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
        return _case(self.timings, label, argument)

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


class Sweep:
    """Timings of one or more cases at each value of a parameter (a chunk size, a work size).

    Made by :func:`sweep`. ``table`` holds the medians; :meth:`levels_off`, :meth:`crossover` and
    :meth:`wins` read verdicts off them by a stated rule; :meth:`plot` draws them.
    """

    def __init__(
        self,
        name: str,
        values: Sequence,
        timings: Mapping[str, Sequence[Timing]],
        columns: Mapping[str, Sequence] | None = None,
    ):
        self.name = name
        self.values = list(values)
        self.timings = {label: list(runs) for label, runs in timings.items()}
        self.columns = {key: list(column) for key, column in (columns or {}).items()}
        for label, runs in self.timings.items():
            if len(runs) != len(self.values):
                raise ConfigError(
                    f"timings[{label!r}] has {len(runs)} timings for {len(self.values)} values: "
                    "pass one Timing per value."
                )

    @property
    def labels(self) -> list[str]:
        """The cases, in the order they were timed."""
        return list(self.timings)

    @property
    def table(self):
        """A pandas DataFrame: the swept value, any extra columns, then ``<case>_ms`` (median
        milliseconds) for each case."""
        import pandas as pd

        data: dict = {self.name: self.values, **self.columns}
        for label, runs in self.timings.items():
            data[f"{label}_ms"] = [t.median * 1e3 for t in runs]
        return pd.DataFrame(data)

    def median(self, label: str, value) -> float:
        """Median seconds of case ``label`` at ``value``."""
        runs = self._runs(label)
        try:
            return runs[self.values.index(value)].median
        except ValueError:
            raise ConfigError(
                f"value={value!r} was not swept; the values are {self.values!r}."
            ) from None

    def best(self, label: str | None = None) -> tuple:
        """``(value, seconds)`` of the fastest median of case ``label``."""
        medians = self._medians(label)
        index = min(range(len(medians)), key=medians.__getitem__)
        return self.values[index], medians[index]

    def levels_off(self, label: str | None = None, within: float = 0.10):
        """The first value (in sweep order) whose median is within ``within`` (a fraction) of
        the best median of case ``label``: where the curve stops improving by much."""
        _check_fraction("within", within)
        medians = self._medians(label)
        limit = min(medians) * (1 + within)
        return next(v for v, m in zip(self.values, medians, strict=True) if m <= limit)

    def crossover(self, label: str, over: str):
        """The first value from which ``label`` is faster than ``over`` at that value and every
        later one; ``None`` when ``over`` is faster (or as fast) at the last value."""
        faster = [a < b for a, b in zip(self._medians(label), self._medians(over), strict=True)]
        for index in range(len(faster)):
            if all(faster[index:]):
                return self.values[index]
        return None

    def wins(self, label: str, over: str) -> int:
        """At how many values ``label``'s median is below ``over``'s."""
        pairs = zip(self._medians(label), self._medians(over), strict=True)
        return sum(a < b for a, b in pairs)

    def plot(
        self,
        *,
        within: float | None = None,
        points: Mapping[str, tuple] | None = None,
        title: str | None = None,
        xlabel: str | None = None,
    ) -> Chart:
        """Draw the median time of each case against the swept value, on log-log axes.

        Parameters
        ----------
        within
            Also draw the level-off rule of :meth:`levels_off` for a sweep of one case: a dashed
            line ``within`` above the best median and a dotted one at the value it picks.
        points
            Single measurements to mark beside the curves, ``{label: (value, seconds)}``, e.g.
            ``{"one task per item": (1, 0.8)}``.
        title, xlabel
            The chart's title and x-axis label (the swept name by default).

        Returns
        -------
        Chart
            Shows as the chart in a notebook; ``.figure``, ``.save(path)``.
        """
        if within is not None:
            _check_fraction("within", within)
            if len(self.timings) != 1:
                raise ConfigError(
                    f"within={within!r} draws the level-off rule of a sweep of one case; this "
                    f"sweep has {len(self.timings)} ({', '.join(map(repr, self.timings))})."
                )
        points = _check_points(points)
        if title is not None and not isinstance(title, str):
            raise ConfigError(f"title={title!r}: pass the chart's title as a string, or None.")
        return Chart(_draw_sweep(self, within, points, title, xlabel or self.name))

    def _runs(self, label: str | None) -> list[Timing]:
        if label is None and len(self.timings) == 1:
            return next(iter(self.timings.values()))
        return _case(self.timings, label, "label")

    def _medians(self, label: str | None) -> list[float]:
        return [t.median for t in self._runs(label)]

    def _rows(self) -> tuple[list[str], list[list[str]]]:
        header = [self.name, *self.columns, *(f"{label}_ms" for label in self.timings)]
        rows = []
        for i, value in enumerate(self.values):
            cells = [_fmt_cell(value), *(_fmt_cell(c[i]) for c in self.columns.values())]
            cells += [f"{runs[i].median * 1e3:,.2f}" for runs in self.timings.values()]
            rows.append(cells)
        return header, rows

    def __repr__(self) -> str:
        header, rows = self._rows()
        widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        title = "  ".join(c.rjust(w) for c, w in zip(header, widths, strict=True))
        runs = len(next(iter(self.timings.values()))[0].runs)
        return "\n".join([title, *lines, f"(median of {runs} runs each, in ms)"])


class Chart:
    """A matplotlib figure that shows itself in a notebook (no pyplot state involved)."""

    def __init__(self, figure):
        self.figure = figure

    def save(self, path) -> str:
        """Write the chart to ``path`` (``.png``, ``.svg``...) and return the path as a string."""
        from ._timeline import _check_path

        path = _check_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.figure.savefig(path, dpi=110, bbox_inches="tight")
        return str(path)

    def _repr_png_(self) -> bytes:
        import io

        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        return buffer.getvalue()

    def __repr__(self) -> str:
        axes = self.figure.axes[0] if self.figure.axes else None
        return f"Chart({axes.get_title()!r})" if axes is not None else "Chart()"


def sweep(
    cases: Mapping[str, Callable[[object], object]],
    values: Sequence,
    *,
    name: str = "value",
    columns: Mapping[str, Callable[[object], object]] | None = None,
    repeat: int = 3,
    warmup: int = 1,
) -> Sweep:
    """Time each case at each value with :func:`measure`: a parameter sweep.

    Parameters
    ----------
    cases
        ``{label: fn}`` where ``fn(value)`` runs the case at one value of the parameter, e.g.
        ``{"chunks": lambda size: run_in_chunks(size)}``. For Ray work, ``fn`` must wait for the
        result (``ray.get``) so the timing covers it.
    values
        The values to sweep, in the order to time them (and to read :meth:`Sweep.levels_off` and
        :meth:`Sweep.crossover` in), e.g. ``[10, 100, 1000]``.
    name
        What the values are, e.g. ``"chunk_size"``: the table's first column and the chart's
        x-axis label.
    columns
        Extra table columns computed from each value, ``{column: fn(value)}``, e.g.
        ``{"tasks": lambda size: math.ceil(n_items / size)}``.
    repeat, warmup
        Passed to :func:`measure` for every case at every value.

    Returns
    -------
    Sweep
        Prints as a text table; ``.table`` (a DataFrame), ``.levels_off()``, ``.crossover()``,
        ``.wins()``, ``.best()``, ``.median(label, value)``, ``.plot()``.

    Raises
    ------
    ConfigError
        ``cases`` is not a dict of functions, ``values`` is empty or not a list, ``name`` is not
        a string, a column is not a function, or a count is out of range; the message names it.
    """
    if not isinstance(cases, Mapping) or not cases:
        raise ConfigError(
            f"cases={cases!r}: pass a dict of labelled functions of one value, e.g. "
            "cases={'chunks': lambda size: run_in_chunks(size)}."
        )
    not_callable = [label for label, fn in cases.items() if not callable(fn)]
    if not_callable:
        raise ConfigError(
            f"cases[{not_callable[0]!r}] is not a function: each case is a function of the swept "
            "value, e.g. {'chunks': lambda size: run_in_chunks(size)}."
        )
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence) or not values:
        raise ConfigError(
            f"values={values!r}: pass a non-empty list of the values to sweep, e.g. "
            "values=[10, 100, 1000]."
        )
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"name={name!r}: pass what the values are as a string, e.g. 'chunk_size'."
        )
    columns = dict(columns or {})
    if any(not callable(fn) for fn in columns.values()):
        raise ConfigError(
            f"columns={columns!r}: pass {{column: function of the value}}, e.g. "
            "columns={'tasks': lambda size: math.ceil(n / size)}."
        )
    _check_count("repeat", repeat, minimum=1)
    _check_count("warmup", warmup, minimum=0)
    timings: dict[str, list[Timing]] = {label: [] for label in cases}
    for value in values:
        for label, fn in cases.items():
            timings[label].append(
                measure(lambda fn=fn, value=value: fn(value), repeat=repeat, warmup=warmup)
            )
    extra = {key: [fn(v) for v in values] for key, fn in columns.items()}
    return Sweep(name, values, timings, extra)


def _check_fraction(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ConfigError(f"{name}={value!r}: pass a fraction >= 0, e.g. {name}=0.10 for 10%.")


def _check_points(points) -> dict[str, tuple[float, float]]:
    if points is None:
        return {}
    hint = "pass {label: (value, seconds)}, e.g. points={'one task per item': (1, 0.8)}."
    if not isinstance(points, Mapping):
        raise ConfigError(f"points={points!r}: {hint}")
    checked = {}
    for label, point in points.items():
        if (
            not isinstance(point, tuple | list)
            or len(point) != 2
            or not all(isinstance(p, numbers.Real) and not isinstance(p, bool) for p in point)
        ):
            raise ConfigError(f"points[{label!r}]={point!r}: {hint}")
        checked[str(label)] = (float(point[0]), float(point[1]))
    return checked


def _fmt_cell(value) -> str:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, numbers.Real):
        return f"{value:.3g}"
    return str(value)


def _draw_sweep(result: Sweep, within, points, title, xlabel):
    from matplotlib.figure import Figure

    # A bare Figure, not pyplot: the Chart displays it once, and no pyplot state is left behind.
    fig = Figure(figsize=(6.5, 3.8))
    ax = fig.add_subplot()
    for label, runs in result.timings.items():
        medians_ms = [t.median * 1e3 for t in runs]
        ax.plot(result.values, medians_ms, marker="o", label=f"{label} (median)")
    for label, (x, seconds) in points.items():
        ax.scatter([x], [seconds * 1e3], color="tab:red", zorder=3, label=label)
    if within is not None:
        best_s = result.best()[1]
        level_off = result.levels_off(within=within)
        ax.axhline(
            best_s * (1 + within) * 1e3,
            color="grey",
            linestyle="--",
            label=f"within {within:.0%} of the best",
        )
        ax.axvline(level_off, color="tab:green", linestyle=":", label=f"levels off: {level_off}")
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="time (ms)")
    if title:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def _case(timings: Mapping, label, argument: str):
    """``timings[label]``, or a ConfigError naming ``argument`` and the cases there are."""
    try:
        return timings[label]
    except (KeyError, TypeError):
        raise ConfigError(
            f"{argument}={label!r}: no case named {label!r}; the cases are "
            f"{', '.join(map(repr, timings))}."
        ) from None
