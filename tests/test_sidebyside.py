"""raykit.SideBySide: timings, results checked against the expected one, lines counted by hand."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import raykit
from raykit import ConfigError, SideBySide
from raykit._sidebyside import TIE_FACTOR, Entry, _same, lines_of_code


def squares_loop(xs):
    """A docstring is not code."""
    # nor is a comment
    out = []
    for x in xs:
        out.append(x * x)

    return out


def squares_comprehension(xs):
    return [x * x for x in xs]


def test_lines_of_code_counts_statements_not_blanks_comments_or_docstrings():
    # By hand: def, out = [], for, append, return.
    assert lines_of_code(squares_loop) == 5
    assert lines_of_code(squares_comprehension) == 2
    assert lines_of_code(squares_loop, squares_comprehension) == 7
    assert lines_of_code("a = 1\n\n# c\nb = (1,\n     2)\n") == 2  # one statement per line


def test_lines_of_code_reads_through_ray_wrappers_and_names_a_bad_argument():
    import ray

    remote = ray.remote(squares_comprehension)
    assert lines_of_code(remote) == 2

    class Counter:
        def increment(self):
            return 1

    assert lines_of_code(ray.remote(Counter)) == 3  # class, def, return
    with pytest.raises(ConfigError, match="code=.*no source found"):
        lines_of_code(42)


def _table(entries):
    """A SideBySide whose runs take the given seconds (a fake clock: no sleeping)."""
    table = SideBySide("job", items=10, expected=[1, 4])
    for system, seconds, result in entries:
        table.measure(system, lambda r=result: r)
        table.entries[-1].seconds = seconds
    return table


def test_wrong_results_and_exceptions_are_failures_and_the_fastest_right_one_wins(capsys):
    table = SideBySide("squares", items=2, expected=[1, 4], unit="tasks")
    table.measure("right", squares_comprehension, [1, 2])
    table.measure("wrong", lambda xs: [[1], [4]], [1, 2])
    table.measure("raises", lambda: 1 / 0)
    out = capsys.readouterr().out
    assert "wrong: " in out and "wrong result: [[1], [4]]" in out
    assert table.entry("raises").failed == "ZeroDivisionError: division by zero"
    assert table.winner == "right"
    frame = table.table()
    assert list(frame.columns) == ["system", "seconds", "tasks/s", "lines", "outcome"]
    assert list(frame.outcome) == ["ok", "wrong result: [[1], [4]]", table.entry("raises").failed]
    right = table.entry("right")
    assert frame["tasks/s"][0] == pytest.approx(2 / right.seconds)
    assert frame.lines[0] == 2


def test_verdict_is_computed_from_the_seconds():
    table = _table([("slow", 4.0, [1, 4]), ("fast", 0.5, [1, 4]), ("near", 0.6, [1, 4])])
    table.measure("broken", lambda: None)
    assert [e.system for e in table.ranking()] == ["fast", "near", "slow"]
    verdict = table.verdict()
    assert verdict.startswith("job: fastest fast (0.5 s)")
    assert 0.6 <= 0.5 * TIE_FACTOR and "tied within 1.25x with near" in verdict
    assert "8.0x faster than the slowest, slow" in verdict  # 4.0 / 0.5
    assert "failed: broken (wrong result: None)" in verdict
    nobody = _table([("a", 1.0, [0])])
    assert nobody.winner is None and nobody.verdict() == "job: no system returned the right result."


def test_winners_are_the_fastest_and_those_within_the_tie_factor_of_it():
    # seconds 1.0, 1.2, 1.3, 0.9 and a wrong result at 0.1: hand-ranked 0.9, 1.0, 1.2, 1.3;
    # the tie band is 0.9 * 1.25 = 1.125, so 0.9 and 1.0 tie and 1.2 is out.
    table = _table([("a", 1.0, [1, 4]), ("b", 1.2, [1, 4]), ("c", 1.3, [1, 4]), ("d", 0.9, [1, 4])])
    table.entries.append(Entry("wrong", 0.1, None, "wrong result: []"))
    assert table.winner == "d" and table.winners == ["d", "a"]
    assert "tied within 1.25x with a;" in table.verdict()
    assert _table([("alone", 2.0, [1, 4])]).winners == ["alone"]
    assert _table([("a", 1.0, [0])]).winners == []


def test_show_prints_the_table_and_the_verdict(capsys):
    table = _table([("a", 1.0, [1, 4]), ("b", 2.0, [1, 4])])
    capsys.readouterr()
    table.show()
    out = capsys.readouterr().out
    assert out.startswith("== job ==\n")
    assert re.search(r"^\s+a\s+1\s+10\s+1\s+ok$", out, re.M)  # items/s: 10 items / 1 s
    assert "verdict: job: fastest a (1 s); 2.0x faster than the slowest, b" in out


def test_same_compares_frames_arrays_and_floats_as_a_user_means_it():
    expected = pd.DataFrame({"k": ["a", "b"], "v": [1.0, 2.0]})
    shuffled = pd.DataFrame({"v": [2, 1], "k": pd.Series(["b", "a"], dtype=object)})
    assert _same(shuffled, expected)  # row order, column order, int vs float, object vs str
    assert not _same(shuffled.assign(v=[2, 1.5]), expected)
    assert not _same(expected[["k"]], expected)
    assert _same(np.arange(3) * 1.0, np.arange(3))
    assert _same(0.1 + 0.2, 0.3) and not _same(0.31, 0.3)
    assert _same((1, 4), [1, 4]) and not _same([1, 4, 9], [1, 4])


def test_bad_arguments_name_the_fix():
    with pytest.raises(ConfigError, match="job=''"):
        SideBySide("", items=1)
    with pytest.raises(ConfigError, match="items=0 must be"):
        SideBySide("job", items=0)
    table = SideBySide("job", items=1)
    with pytest.raises(ConfigError, match="run=3 is not callable"):
        table.measure("Ray", 3)
    table.measure("Ray", lambda: 1)
    with pytest.raises(ConfigError, match="'Ray' was measured already"):
        table.measure("Ray", lambda: 1)
    with pytest.raises(ConfigError, match="'Dask' was not measured in this table"):
        table.entry("Dask")
    assert raykit.SideBySide is SideBySide
