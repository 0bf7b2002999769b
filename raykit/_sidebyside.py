"""The same job in several systems, side by side: each run timed, its result checked, tabled.

Unlike :func:`raykit.compare`, which repeats each case for a steady median, a run here happens
once and may fail or return a wrong result: that outcome is part of the measurement (a worker
killed mid-job cannot be killed the same way twice).
"""

from __future__ import annotations

import ast
import inspect
import math
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .exceptions import ConfigError

# Systems within this factor of the fastest are called a tie: these hosts are noisy (GUIDE.md),
# and a verdict that flips between runs teaches nothing.
TIE_FACTOR = 1.25
_NOT_GIVEN = object()


@dataclass
class Entry:
    """One system's run of a job: how long it took, how much code it needed, what went wrong."""

    system: str
    seconds: float
    lines: int | None
    failed: str | None  # None when it ran and returned the expected result
    result: Any = None


def lines_of_code(*code: Any) -> int:
    """Lines of code in functions, classes or source strings: statements as Python reads them
    (one per line once reformatted), without blank lines, comments or docstrings."""
    total = 0
    for obj in code:
        source = obj if isinstance(obj, str) else _source_of(obj)
        tree = ast.parse(textwrap.dedent(source))
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (
                isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and body
                and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
        total += sum(1 for line in ast.unparse(tree).splitlines() if line.strip())
    return total


def _source_of(obj: Any) -> str:
    """The source of a function or class, or of what a Ray, Dask or Celery wrapper wraps."""
    for candidate in (
        obj,
        getattr(obj, "_function", None),  # a Ray remote function
        _ray_actor_class(obj),
        getattr(obj, "run", None) if hasattr(obj, "delay") else None,  # a Celery task
        getattr(obj, "__wrapped__", None),
    ):
        if candidate is None:
            continue
        try:
            return inspect.getsource(candidate)
        except (OSError, TypeError):
            continue
    raise ConfigError(
        f"code={obj!r}: no source found for it. Pass the functions or classes you wrote (defined "
        "in a notebook cell or a file), or their source as a string."
    )


def _same(result: Any, expected: Any) -> bool:
    """Whether a result equals the expected one: NumPy arrays and floats to a relative 1e-9,
    DataFrames whatever their row order and index, lists element by element."""
    import numpy as np
    import pandas as pd

    if isinstance(expected, pd.DataFrame):
        if not isinstance(result, pd.DataFrame) or sorted(result.columns) != sorted(
            expected.columns
        ):
            return False
        columns = sorted(expected.columns)

        def norm(df):
            # Systems return the same values in other dtypes (Ray Data: object for pandas'
            # strings, float for int): compare numbers as float64 and the rest as text.
            df = df[columns].astype(
                {c: "float64" if df[c].dtype.kind in "iuf" else str for c in columns}
            )
            return df.sort_values(columns).reset_index(drop=True)

        try:
            pd.testing.assert_frame_equal(
                norm(result), norm(expected), rtol=1e-9, check_dtype=False
            )
        except AssertionError:
            return False
        return True
    if isinstance(expected, np.ndarray) or isinstance(result, np.ndarray):
        try:
            return bool(np.allclose(np.asarray(result), np.asarray(expected), rtol=1e-9))
        except (TypeError, ValueError):
            return False
    if isinstance(expected, float) and isinstance(result, int | float):
        return math.isclose(result, expected, rel_tol=1e-9)
    if isinstance(expected, list | tuple):
        return (
            isinstance(result, list | tuple)
            and len(result) == len(expected)
            and all(_same(r, e) for r, e in zip(result, expected, strict=True))
        )
    return result == expected


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class SideBySide:
    """One job, run in several systems: each run timed, its result checked, shown as a table.

    Parameters
    ----------
    job
        What the job is, for the table's title (``"500 tiny tasks"``).
    items
        How many units of work one run does (tasks, rows, calls): the table's throughput column
        is ``items`` per second.
    expected
        The right result (from plain Python); a run that returns something else is reported as
        failed with a wrong result. Leave it out to judge only by exceptions.
    unit
        The name of an item in the throughput column (``"tasks"``, ``"rows"``).
    """

    tie_factor = TIE_FACTOR  # for a lesson's own comparisons (speed-ups) to use the same band

    def __init__(self, job: str, items: int, expected: Any = _NOT_GIVEN, unit: str = "items"):
        if not isinstance(job, str) or not job:
            raise ConfigError(f"job={job!r}: name the job as a string, e.g. job='tiny tasks'.")
        if isinstance(items, bool) or not isinstance(items, int) or items < 1:
            raise ConfigError(
                f"items={items!r} must be how many units one run does, a whole number >= 1."
            )
        self.job, self.items, self.expected, self.unit = job, items, expected, unit
        self.entries: list[Entry] = []

    def measure(self, system: str, run: Callable, *args: Any, code: Any = None) -> Any:
        """Time ``run(*args)`` as ``system``'s way of doing the job; return its result (None if
        it raised). ``code``: what to count as this system's lines (default: ``run``)."""
        if not isinstance(system, str) or not system:
            raise ConfigError(f"system={system!r}: name the system as a string, e.g. 'Ray'.")
        if not callable(run):
            raise ConfigError(
                f"run={run!r} is not callable: pass the function that does the job, "
                "e.g. table.measure('Ray', ray_version, xs)."
            )
        if any(e.system == system for e in self.entries):
            raise ConfigError(f"system={system!r} was measured already in this table.")
        code = run if code is None else code
        lines = lines_of_code(*(code if isinstance(code, list | tuple) else [code]))
        failed, result = None, None
        start = time.perf_counter()
        try:
            result = run(*args)
        except Exception as exc:  # what the system reports is the measurement
            failed = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
        seconds = time.perf_counter() - start
        if failed is None and self.expected is not _NOT_GIVEN and not _same(result, self.expected):
            failed = f"wrong result: {_shown(result)}"
        self.entries.append(Entry(system, seconds, lines, failed, result))
        print(f"{system}: {seconds:.3g} s" + (f" ({failed})" if failed else ""))
        return result

    def entry(self, system: str) -> Entry:
        """The measured run of ``system``."""
        for e in self.entries:
            if e.system == system:
                return e
        measured = ", ".join(e.system for e in self.entries) or "none yet"
        raise ConfigError(
            f"system={system!r} was not measured in this table (measured: {measured})."
        )

    def table(self):
        """A pandas DataFrame: a row a system, its seconds, throughput, lines and outcome."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "system": e.system,
                    "seconds": e.seconds,
                    f"{self.unit}/s": self.items / e.seconds if e.seconds else None,
                    "lines": e.lines,
                    "outcome": e.failed or "ok",
                }
                for e in self.entries
            ]
        )

    def ranking(self) -> list[Entry]:
        """The systems that gave the right result, fastest first."""
        return sorted((e for e in self.entries if e.failed is None), key=lambda e: e.seconds)

    @property
    def winner(self) -> str | None:
        """The fastest system with the right result (None if none had it)."""
        ranked = self.ranking()
        return ranked[0].system if ranked else None

    @property
    def winners(self) -> list[str]:
        """The fastest system and those tied with it (within ``TIE_FACTOR``), fastest first: a
        prediction naming any of them is right, as the noise could have crowned it."""
        ranked = self.ranking()
        return [e.system for e in ranked if e.seconds <= ranked[0].seconds * TIE_FACTOR]

    def verdict(self) -> str:
        """One line, computed from the runs: who was fastest by how much, ties, failures."""
        ranked = self.ranking()
        failed = [e for e in self.entries if e.failed]
        if not ranked:
            return f"{self.job}: no system returned the right result."
        best = ranked[0]
        parts = [f"{self.job}: fastest {best.system} ({best.seconds:.3g} s)"]
        tied = self.winners[1:]
        if tied:
            parts.append(f"tied within {TIE_FACTOR}x with {', '.join(tied)}")
        if len(ranked) > 1:
            slowest = ranked[-1]
            factor = slowest.seconds / best.seconds
            parts.append(f"{factor:.1f}x faster than the slowest, {slowest.system}")
        if failed:
            parts.append("failed: " + ", ".join(f"{e.system} ({e.failed})" for e in failed))
        return "; ".join(parts)

    def show(self) -> None:
        """Print the table and the verdict."""
        print(f"== {self.job} ==")
        # Four significant figures: a plain loop's seconds and Celery's differ by 10^5.
        print(self.table().to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        print(f"verdict: {self.verdict()}")


def _ray_actor_class(obj: Any) -> type | None:
    """The class a Ray actor class was made from (Ray subclasses it), or None."""
    modified = getattr(getattr(obj, "__ray_metadata__", None), "modified_class", None)
    return modified.__bases__[0] if modified is not None else None
