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


# --- raykit.sweep -------------------------------------------------------------------------------


def _sweep_of(clock, medians_s: dict[str, list[float]], values: list, **kwargs):
    """A sweep whose case ``label`` takes ``medians_s[label][i]`` seconds at ``values[i]``."""
    cases = {}
    for label, durations in medians_s.items():
        by_value = dict(zip(values, durations, strict=True))

        def fn(value, by_value=by_value):
            clock.now += by_value[value]

        cases[label] = fn
    return raykit.sweep(cases, values, repeat=1, warmup=0, **kwargs)


def test_sweep_times_each_case_at_each_value_in_order(clock):
    calls = []

    def chunks(size):
        calls.append(("chunks", size))
        clock.now += 1.0 / size

    def loop(size):
        calls.append(("loop", size))
        clock.now += 0.05

    result = raykit.sweep(
        {"chunks": chunks, "loop": loop},
        [10, 100],
        name="chunk_size",
        columns={"tasks": lambda size: 1000 // size},
        repeat=2,
        warmup=1,
    )
    # Each value: warm-up + 2 timed runs of each case, cases in the order given.
    assert (
        calls
        == [("chunks", 10)] * 3 + [("loop", 10)] * 3 + [("chunks", 100)] * 3 + [("loop", 100)] * 3
    )
    table = result.table
    assert list(table.columns) == ["chunk_size", "tasks", "chunks_ms", "loop_ms"]
    assert table["chunk_size"].tolist() == [10, 100]
    assert table["tasks"].tolist() == [100, 10]
    assert table["chunks_ms"].tolist() == pytest.approx([100.0, 10.0])
    assert table["loop_ms"].tolist() == pytest.approx([50.0, 50.0])
    assert result.median("chunks", 100) == pytest.approx(0.01)
    assert result.labels == ["chunks", "loop"]


def test_levels_off_is_the_first_value_within_the_fraction_of_the_best(clock):
    # Best is 100 ms at 1000; 108 ms at 250 is within 10%, 120 ms at 100 is not.
    result = _sweep_of(
        clock, {"chunks": [0.5, 0.12, 0.108, 0.1, 0.104]}, [10, 100, 250, 1000, 5000]
    )
    assert result.best() == (1000, pytest.approx(0.1))
    assert result.levels_off(within=0.10) == 250
    assert result.levels_off(within=0.25) == 100
    assert result.levels_off(within=0.0) == 1000
    assert result.levels_off("chunks", within=10) == 10


def test_crossover_needs_every_later_value_to_win_too(clock):
    values = [1, 10, 100, 1000, 10000]
    result = _sweep_of(
        clock,
        # ray wins at 10 by luck, loses at 100, then wins from 1000 on.
        {"loop": [0.001, 0.01, 0.1, 1.0, 10.0], "ray": [0.05, 0.009, 0.2, 0.5, 2.0]},
        values,
    )
    assert result.crossover("ray", over="loop") == 1000
    assert result.wins("ray", over="loop") == 3
    assert result.crossover("loop", over="ray") is None  # ray wins at the last value
    assert result.wins("loop", over="ray") == 2


def test_crossover_is_none_when_the_other_case_always_wins(clock):
    result = _sweep_of(clock, {"loop": [0.1, 0.2], "ray": [0.3, 0.4]}, [1, 2])
    assert result.crossover("ray", over="loop") is None
    assert result.wins("ray", over="loop") == 0


def test_sweep_prints_its_table_in_milliseconds(clock):
    result = _sweep_of(clock, {"loop": [0.0015, 1.25]}, [1000, 1000000], name="work_size")
    lines = repr(result).splitlines()
    assert lines[0].split() == ["work_size", "loop_ms"]
    assert lines[1].split() == ["1,000", "1.50"]
    assert lines[2].split() == ["1,000,000", "1,250.00"]
    assert lines[-1] == "(median of 1 runs each, in ms)"


def test_sweep_plot_draws_the_curve_the_rule_and_the_points(clock, tmp_path):
    result = _sweep_of(clock, {"chunks": [0.5, 0.12, 0.108, 0.1]}, [10, 100, 250, 1000])
    chart = result.plot(within=0.10, points={"one task per item": (1, 2.0)}, title="sweep")
    ax = chart.figure.axes[0]
    assert ax.get_title() == "sweep" and ax.get_xscale() == "log"
    curve = ax.lines[0]
    assert curve.get_xdata().tolist() == [10, 100, 250, 1000]
    assert curve.get_ydata().tolist() == pytest.approx([500.0, 120.0, 108.0, 100.0])
    threshold, level_off = ax.lines[1], ax.lines[2]
    assert threshold.get_ydata()[0] == pytest.approx(110.0)
    assert level_off.get_xdata()[0] == 250
    point = ax.collections[0].get_offsets()[0].tolist()
    assert point == pytest.approx([1.0, 2000.0])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "levels off: 250" in labels and "one task per item" in labels
    assert chart._repr_png_().startswith(b"\x89PNG")
    assert chart.save(tmp_path / "sweep.png").endswith("sweep.png")


@pytest.mark.parametrize(
    "call, named",
    [
        (lambda: raykit.sweep([print], [1]), "cases="),
        (lambda: raykit.sweep({}, [1]), "cases="),
        (lambda: raykit.sweep({"a": 3}, [1]), "cases['a']"),
        (lambda: raykit.sweep({"a": print}, []), "values=[]"),
        (lambda: raykit.sweep({"a": print}, "abc"), "values='abc'"),
        (lambda: raykit.sweep({"a": print}, [1], name=3), "name=3"),
        (lambda: raykit.sweep({"a": print}, [1], columns={"x": 1}), "columns="),
        (lambda: raykit.sweep({"a": print}, [1], repeat=0), "repeat=0"),
        (lambda: raykit.sweep({"a": print}, [1], warmup=-1), "warmup=-1"),
    ],
)
def test_sweep_names_a_bad_argument(call, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        call()


def test_sweep_methods_name_a_bad_argument(clock):
    one = _sweep_of(clock, {"a": [0.1, 0.2]}, [1, 2])
    two = _sweep_of(clock, {"a": [0.1, 0.2], "b": [0.2, 0.1]}, [1, 2])
    with pytest.raises(ConfigError, match="label='z': no case named 'z'; the cases are 'a'"):
        one.levels_off("z")
    with pytest.raises(ConfigError, match="label=None"):
        two.levels_off()  # two cases: which one?
    with pytest.raises(ConfigError, match="within=-0.1"):
        one.levels_off(within=-0.1)
    with pytest.raises(ConfigError, match="value=3 was not swept"):
        one.median("a", 3)
    with pytest.raises(ConfigError, match="within=0.1 draws the level-off rule"):
        two.plot(within=0.1)
    with pytest.raises(ConfigError, match=re.escape("points['x']=5")):
        one.plot(points={"x": 5})
    with pytest.raises(ConfigError, match="path="):
        one.plot().save("chart.doc")
