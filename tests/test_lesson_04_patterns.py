"""Lesson 04 (patterns) prints the figures and outcomes its text talks about.

Reads the executed copy (run once per session in small mode by the ``executed`` fixture).
Measured figures are asserted to be printed, never to fall in a range.
"""

from __future__ import annotations

import re

import nbformat

TICK = "\u2713"


def test_04_patterns_prints_its_measurements_and_verdicts(executed):
    text = executed.text("04_patterns.ipynb")

    # Batching: the speed-up, the sweep's level-off point by its stated rule, and the chart.
    assert re.search(r"one task each took [\d.]+ s, chunks of \d+ took [\d.]+ s: batching", text)
    assert re.search(r"batching is [\d.]+x faster", text)
    assert re.search(
        r"the time levels off at chunks of \d+ items \(\d+ tasks\): the smallest chunk size "
        r"within 10% of the best",
        text,
    )
    nb = nbformat.read(executed("04_patterns.ipynb").output, as_version=4)
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the chunk-size sweep is plotted"

    # Pipelining with ray.wait.
    assert re.search(r"finished in order:  \[[\d, ]+\]", text)
    assert re.search(r"saved -?[\d.]+ s of [\d.]+ s \([\d.]+x\)", text)

    # Nested tasks: the CPU case's observed verdict; the GPU case hangs, is cancelled, is fixed.
    assert re.search(r"\d+ of \d+ parents finished in [\d.]+ s on \d+ CPUs", text)
    assert re.search(r"verdict: (no deadlock\. While a task waits|\d+ parents are stuck)", text)
    assert re.search(r"after \d+ s: 0 of \d+ GPU parents finished", text)
    assert "verdict: stuck: a deadlock" in text
    assert "parents: ['cancelled', 'cancelled']" in text
    assert "GPUs free again: 2 of 2" in text
    assert "verdict: fixed: no deadlock" in text

    # Serialization: state lost silently, then kept; caught by a round-trip test.
    assert "in a task: latency: n=0, total=0.0" in text
    assert "in a task: latency: n=3, total=6.0" in text
    assert "RunningStats: LOSES {'n': (3, 0), 'total': (6.0, 0.0)}" in text
    assert "FixedStats: survives the round trip" in text
    assert "TypeError: Could not serialize the argument" in text
    assert "serializable: False" in text

    # When not to use Ray: the crossover verdict is computed from the table.
    assert re.search(
        r"verdict: Ray (never beat the plain loop at the sizes measured here|beats the plain "
        r"loop from a work size of [\d,]+ per item up)",
        text,
    )
    assert re.search(r"the process pool beat Ray at \d+ of \d+ sizes", text)

    assert f"{TICK} `squares` is right." in text
    assert f"{TICK} `n_tasks` is right." in text
