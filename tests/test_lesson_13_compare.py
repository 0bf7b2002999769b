"""Lesson 13 (Ray and its alternatives) computes every table and verdict it prints, in that run.

Each table is read back from the executed lesson and its verdict recomputed here from the
printed seconds and outcomes; the claims the lesson's text makes are asserted on the same rows.
"""

from __future__ import annotations

import re

import pytest

LESSON = "13_compare.ipynb"
TINY, BATCH, ARRAY_MB, CALLS, CRASH = 500, 50, 40, 200, 20  # the small-mode sizes
_NUMBER = r"([-+\d.e]+|NaN)"


@pytest.fixture(scope="module")
def text(executed):
    return executed.text(LESSON)


def _table(text: str, job: str, systems: list[str]) -> dict[str, dict]:
    """The rows of the table printed under ``== job ==``: seconds, lines and outcome each."""
    start = text.index(f"== {job} ==")
    block = text[start : text.index("verdict:", start)]
    rows = {}
    for system in systems:
        found = re.search(
            rf"^\s*{re.escape(system)}\s+{_NUMBER}\s+{_NUMBER}\s+(\d+)\s+(.+?)\s*$", block, re.M
        )
        assert found, f"the {job!r} table has a row for {system}"
        rows[system] = {
            "seconds": float(found.group(1)),
            "lines": int(found.group(3)),
            "outcome": found.group(4),
        }
    return rows


def _verdict(text: str, job: str) -> str:
    start = text.index(f"== {job} ==")
    return re.search(r"^verdict: (.+)$", text[start:], re.M).group(1)


def _check_verdict(text: str, job: str, rows: dict[str, dict]) -> str:
    """The verdict names the fastest row whose outcome is ok, and the slowest's factor."""
    ok = {s: r["seconds"] for s, r in rows.items() if r["outcome"] == "ok"}
    fastest = min(ok, key=ok.get)
    verdict = _verdict(text, job)
    assert verdict.startswith(f"{job}: fastest {fastest} ("), verdict
    slowest = max(ok, key=ok.get)
    if len(ok) > 1:
        factor = re.search(rf"([\d.]+)x faster than the slowest, {re.escape(slowest)}", verdict)
        assert factor, verdict
        # The table shows 4 significant figures; the verdict one decimal of the exact ratio.
        exact = ok[slowest] / ok[fastest]
        assert float(factor.group(1)) == pytest.approx(exact, rel=0.01, abs=0.06)
    for system, row in rows.items():
        if row["outcome"] != "ok":
            assert f"{system} ({row['outcome']}" in verdict, "every failure is in the verdict"
    tied = _tied(verdict, list(rows))
    for system, seconds in ok.items():  # away from the band's edge, the printed figures decide
        if system != fastest and seconds < ok[fastest] * 1.24:
            assert system in tied, f"{system} ties with {fastest}: {verdict}"
        if seconds > ok[fastest] * 1.26:
            assert system not in tied, f"{system} does not tie with {fastest}: {verdict}"
    return fastest


def _names(listing: str, systems: list[str]) -> list[str]:
    """The systems in a ", "-joined listing, where a name may hold ", " itself ("Celery, a
    file"): at each place the longest of the table's systems that fits."""
    names = []
    while listing:
        fits = [s for s in systems if listing == s or listing.startswith(f"{s}, ")]
        assert fits, f"{listing!r} starts with none of {systems}"
        names.append(max(fits, key=len))
        listing = listing[len(names[-1]) :].removeprefix(", ")
    return names


def _tied(verdict: str, systems: list[str]) -> list[str]:
    """The systems the verdict says are tied with the fastest."""
    tied = re.search(r"tied within 1\.25x with (.+?);", verdict)
    return _names(tied.group(1), systems) if tied else []


def _right_choices(text: str, anchor: str) -> list[str]:
    """The choices the first observe line after ``anchor`` counts as right."""
    after = text[text.index(anchor) :]
    line = re.search(r"The right (?:choice was|choices were) (.+)\.$", after, re.M)
    return re.findall(r"'([^']+)'", line.group(1))


def _check_right_choices(text: str, job: str, fastest: str, systems: list[str]) -> None:
    """A prediction of the fastest, or of a system tied with it, is counted right."""
    winners = [fastest, *_tied(_verdict(text, job), systems)]
    assert sorted(_right_choices(text, f"== {job} ==")) == sorted(winners), _verdict(text, job)


def test_every_system_starts_and_says_how_long(text):
    for system in ("process pool", "Dask", "Celery", "Ray"):
        assert re.search(rf"^{system}\s+[\d.]+$", text, re.M), f"{system}'s start is timed"


def test_celerys_default_polling_is_shown_and_the_tables_poll_faster(text):
    """A group's get() at Celery's default interval usually waits one interval (0.5 s): the
    median of five rounds does; the lesson's own interval makes the same tasks far quicker."""
    timed = dict(re.findall(r"^8 Celery tasks, get\(interval=([\d.]+)\): ([\d.]+) s$", text, re.M))
    assert set(timed) == {"0.5", "0.001"}, timed
    assert float(timed["0.5"]) >= 0.5 * 0.9, "the median waits one default interval"
    assert float(timed["0.001"]) < float(timed["0.5"]), timed


def test_tiny_tasks_the_loop_wins_by_orders_of_magnitude_and_each_cost_is_printed(text):
    systems = ["plain loop", "process pool", "Dask", "Celery", "Ray"]
    rows = _table(text, f"{TINY} tiny tasks", systems)
    assert all(r["outcome"] == "ok" for r in rows.values()), rows
    assert _check_verdict(text, f"{TINY} tiny tasks", rows) == "plain loop"
    loop = rows["plain loop"]["seconds"]
    assert all(rows[s]["seconds"] >= 100 * loop for s in systems[1:]), "orders of magnitude"
    per_task = re.search(r"microseconds per task: (.+)$", text, re.M).group(1)
    for system in systems:
        shown = float(re.search(rf"{system} ([\d.e+-]+)", per_task).group(1))
        assert shown == pytest.approx(rows[system]["seconds"] / TINY * 1e6, rel=0.01)
    assert rows["Ray"]["lines"] == 2 and rows["plain loop"]["lines"] == 2
    assert "No prediction made. Measured: plain loop. The right choice was 'plain loop'." in text
    _check_right_choices(text, f"{TINY} tiny tasks", "plain loop", systems)


def test_batching_speeds_every_system_up_and_the_gain_is_computed(text):
    systems = ["process pool", "Dask", "Celery", "Ray"]
    tiny = _table(text, f"{TINY} tiny tasks", systems)
    batched = _table(text, f"{TINY} squares in {TINY // BATCH} tasks", systems)
    assert all(r["outcome"] == "ok" for r in batched.values()), batched
    _check_verdict(text, f"{TINY} squares in {TINY // BATCH} tasks", batched)
    gains = {s: tiny[s]["seconds"] / batched[s]["seconds"] for s in systems}
    assert all(g > 1 for g in gains.values()), gains
    best = re.search(rf"batching in chunks of {BATCH} helped (.+) most: ([\d.]+)x", text)
    assert best and best.group(1) == max(gains, key=gains.get)
    assert float(best.group(2)) == pytest.approx(max(gains.values()), rel=0.02, abs=0.06)
    # A gain within 1.25x of the best ties with it, and a prediction of it counts as right.
    right = _right_choices(text, best.group(0))
    assert best.group(1) in right, right
    top = max(gains.values())
    for system, g in gains.items():
        if g * 1.24 > top:
            assert system in right, f"{system}'s {g:.1f}x ties with {top:.1f}x: {right}"
        if g * 1.26 < top:
            assert system not in right, f"{system}'s {g:.1f}x does not tie with {top:.1f}x"


def test_a_large_array_is_cheaper_by_reference_in_ray_and_dask(text):
    systems = [
        "process pool, by value",
        "Dask, by value",
        "Dask, scattered",
        "Celery, a file",
        "Ray, by value",
        "Ray, ray.put",
    ]
    job = f"{ARRAY_MB} MB array, 8 tasks"
    rows = _table(text, job, systems)
    assert all(r["outcome"] == "ok" for r in rows.values()), rows
    _check_right_choices(text, job, _check_verdict(text, job, rows), systems)
    # Which is faster is what the lesson measures, not a bound: at 40 MB on a busy host CI
    # once timed ray.put at 0.21 s and by value at 0.14 s. The figure it prints must be right.
    ratio = re.search(r"ray.put once [\d.e+-]+ s: ([\d.]+)x the speed", text)
    measured = rows["Ray, by value"]["seconds"] / rows["Ray, ray.put"]["seconds"]
    assert ratio and float(ratio.group(1)) == pytest.approx(measured, rel=0.02, abs=0.006)


def test_only_the_actors_keep_one_count(text):
    systems = ["plain object", "process pool", "Dask actor", "Celery", "Ray actor"]
    rows = _table(text, f"{CALLS} calls to one counter", systems)
    for system in ("plain object", "Dask actor", "Ray actor"):
        assert rows[system]["outcome"] == "ok", rows[system]
    for system in ("process pool", "Celery"):
        wrong = re.fullmatch(r"wrong result: (\d+)", rows[system]["outcome"])
        assert wrong and 0 < int(wrong.group(1)) < CALLS, "one process's share of the calls"
    _check_verdict(text, f"{CALLS} calls to one counter", rows)
    assert "The right choice was 'the actors only (Ray and Dask)'." in text


def test_a_killed_worker_breaks_the_pool_and_loses_celerys_task_but_not_dask_or_ray(text):
    systems = ["process pool", "Dask", "Celery", "Celery, acks_late", "Ray"]
    job = f"{CRASH} tasks, one worker killed"
    rows = _table(text, job, systems)
    assert rows["process pool"]["outcome"].startswith("BrokenProcessPool")
    assert rows["Celery"]["outcome"].startswith("WorkerLostError")
    for system in ("Dask", "Celery, acks_late", "Ray"):
        assert rows[system]["outcome"] == "ok", rows[system]
    _check_verdict(text, job, rows)
    assert "every result despite the crash: " in text
    assert "The right choice was 'Dask, Ray and Celery with acks_late'." in text


def test_pandas_wins_the_small_groupby_and_every_system_agrees(text):
    job = "groupby of 200,000 rows"
    systems = ["pandas", "Dask DataFrame", "Ray Data"]
    rows = _table(text, job, systems)
    assert all(r["outcome"] == "ok" for r in rows.values()), "the same means from each"
    assert _check_verdict(text, job, rows) == "pandas"
    _check_right_choices(text, job, "pandas", systems)
    assert "200,000 rows, 13 columns, 3 cultivars" in text


def test_the_summary_lists_every_job_with_its_computed_winner(text):
    start = text.index("fastest (right result)")
    summary = text[start:]
    for job in (f"{TINY} tiny tasks", f"{CALLS} calls to one counter", "groupby of 200,000 rows"):
        winner = re.search(r"fastest (.+?) \(", _verdict(text, job)).group(1)
        assert re.search(rf"{re.escape(job)}\s+{re.escape(winner)}\s", summary), job
