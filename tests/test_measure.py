"""``raykit.measure`` and ``raykit.compare``: the arithmetic, on a fake clock, and the displays."""

from __future__ import annotations

import re

import numpy as np
import pytest

import raykit
from raykit import ConfigError, _measure


class FakeClock:
    """Stands in for time.perf_counter: only the timed functions move it on."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def work(self, *seconds: float):
        """A function that 'takes' each of ``seconds`` in turn, one per call."""
        durations = iter(seconds)

        def fn():
            self.now += next(durations)

        return fn


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(_measure.time, "perf_counter", fake)
    return fake


def test_measure_times_each_run_after_the_warmup(clock):
    # The warm-up call takes 9 s and must not count.
    timing = raykit.measure(clock.work(9.0, 0.3, 0.1, 0.2), repeat=3, warmup=1)
    assert timing.runs == pytest.approx((0.3, 0.1, 0.2))
    assert timing.median == pytest.approx(0.2)
    assert timing.min == pytest.approx(0.1) and timing.max == pytest.approx(0.3)
    assert repr(timing) == "0.200 s median of 3 (min 0.100 s)"


def test_measure_calls_the_function_warmup_plus_repeat_times():
    calls = []
    raykit.measure(lambda: calls.append(1), repeat=4, warmup=2)
    assert len(calls) == 6


def test_short_timings_read_in_milliseconds(clock):
    assert repr(raykit.measure(clock.work(0.0123), repeat=1, warmup=0)) == (
        "12.30 ms median of 1 (min 12.30 ms)"
    )


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"repeat": 0}, "repeat=0"),
        ({"repeat": 2.5}, "repeat=2.5"),
        ({"repeat": "3"}, "repeat='3'"),
        ({"warmup": -1}, "warmup=-1"),
        ({"warmup": None}, "warmup=None"),
    ],
)
def test_measure_rejects_nonsense_counts(kwargs, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        raykit.measure(lambda: None, **kwargs)


def test_measure_names_a_value_passed_instead_of_a_function():
    with pytest.raises(ConfigError, match="fn=42 is not callable"):
        raykit.measure(42)


@pytest.mark.parametrize("n", range(1, 12))
def test_median_is_numpys_median(clock, n):
    """Odd and even counts: an even count averages the two middle runs, as np.median does."""
    rng = np.random.default_rng(n)
    durations = rng.uniform(0.01, 2.0, size=n).tolist()
    timing = raykit.measure(clock.work(*durations), repeat=n, warmup=0)
    assert timing.median == pytest.approx(float(np.median(durations)), rel=1e-9)
    result = raykit.compare({"a": clock.work(*durations)}, repeat=n, warmup=0)
    assert result.table["median_s"][0] == pytest.approx(float(np.median(durations)), rel=1e-9)


def test_compare_speedups_are_relative_to_the_first_case(clock):
    result = raykit.compare(
        {"one by one": clock.work(0, 2.0, 2.2, 1.8), "all at once": clock.work(0, 0.5, 0.4, 0.6)},
        repeat=3,
    )
    assert result.baseline == "one by one"
    assert result.median("one by one") == pytest.approx(2.0)
    assert result.speedup("all at once") == pytest.approx(4.0)
    assert result.speedup("one by one", over="all at once") == pytest.approx(0.25)
    table = result.table
    assert list(table.columns) == ["label", "median_s", "min_s", "runs", "speedup"]
    assert list(table["label"]) == ["one by one", "all at once"]
    assert table["speedup"].tolist() == pytest.approx([1.0, 4.0])
    assert table["runs"].tolist() == [3, 3]


def test_compare_with_a_named_baseline(clock):
    result = raykit.compare(
        {"a": clock.work(0, 1.0), "b": clock.work(0, 3.0)}, repeat=1, baseline="b"
    )
    assert result.speedup("a") == pytest.approx(3.0)
    assert result.table["speedup"].tolist() == pytest.approx([3.0, 1.0])


def test_compare_names_the_cases_when_a_label_is_wrong(clock):
    result = raykit.compare({"a": clock.work(0, 1.0)}, repeat=1)
    with pytest.raises(ConfigError, match="label='z': no case named 'z'; the cases are 'a'"):
        result.median("z")
    with pytest.raises(ConfigError, match="over='z'"):
        result.speedup("a", over="z")
    with pytest.raises(ConfigError, match="baseline='z'"):
        raykit.compare({"a": lambda: None}, baseline="z")
    with pytest.raises(ConfigError, match="cases is empty"):
        raykit.compare({})


@pytest.mark.parametrize(
    "cases, kwargs, named",
    [
        ([lambda: None], {}, "cases="),
        ({"a": 3}, {}, "cases['a']"),
        ({"a": lambda: None}, {"repeat": 0}, "repeat=0"),
        ({"a": lambda: None}, {"warmup": -2}, "warmup=-2"),
    ],
)
def test_compare_names_a_bad_argument(cases, kwargs, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        raykit.compare(cases, **kwargs)


def test_comparison_prints_a_text_table_and_renders_html(clock):
    result = raykit.compare({"slow": clock.work(0, 1.5), "fast <b>": clock.work(0, 0.5)}, repeat=1)
    lines = repr(result).splitlines()
    assert lines[0].split() == ["case", "median", "min", "runs", "vs", "slow"]
    assert lines[1].split() == ["slow", "1.500", "s", "1.500", "s", "1", "1.00x"]
    assert lines[2].split()[-1] == "3.00x"
    html = result._repr_html_()
    assert html.count("<tr>") == 3 and "3.00x" in html
    assert "fast &lt;b&gt;" in html, "labels are HTML-escaped"
