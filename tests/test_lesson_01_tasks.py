"""Lesson 01 (tasks) prints the figures and outcomes its text talks about.

Reads the executed copy (run once per session in small mode by the ``executed`` fixture).
Measured figures are asserted to be printed, never to fall in a range.
"""

from __future__ import annotations

import re

TICK = "\u2713"


def test_01_tasks_prints_its_measurements_and_outcomes(executed):
    text = executed.text("01_tasks.ipynb")

    assert re.search(r"\.remote\(\) returned after [\d.]+ ms", text)
    assert re.search(r"ray\.get returned 49 after [\d.]+ s", text)
    assert "GetTimeoutError:" in text
    assert re.search(r"same order as submitted: (True|False)", text)
    assert "'values arrived as': 'list'" in text
    assert "the task got the value; type of its first item: int" in text
    assert "the task got the list as is; type of its first item: ObjectRef" in text

    # The anti-pattern: the ratio is printed, and get-in-the-loop never overlaps tasks.
    ratio = re.search(r"submitting all first is ([\d.]+)x faster than ray\.get in the loop", text)
    assert ratio, "the measured ratio of the two versions must be printed"
    maxima = re.findall(r"tasks running at the same time, at most: (\d+)", text)
    assert len(maxima) == 2 and maxima[0] == "1"
    assert re.search(r"Timeline: \d+ tasks? on \d+ workers?", text), "timelines are displayed"

    assert f"{TICK} " in text and "of the tasks in `fixed_refs` ran at the same time" in text
    assert f"{TICK} `fixed_squares` is right." in text

    # A task asking for a resource nobody has stays pending, then is cancelled.
    assert re.search(r"submitted together: at most 1 ran at once", text)
    assert "finished within" in text and re.search(r"finished within [\d.]+ s: False", text)
    assert "state: PENDING_NODE_ASSIGNMENT" in text
    assert "ray.get raised TaskCancelledError" in text
    assert "state after ray.cancel: FAILED (TASK_CANCELLED)" in text

    # Retries, counted in a file and by Ray.
    assert "result: succeeded on attempt 3" in text
    assert re.findall(r"attempts counted in the file: (\d+)", text) == ["3", "1"]
    assert "attempts recorded by Ray: 3 -> FAILED, FAILED, FINISHED" in text
    assert "ray.get raised RayTaskError(ConnectionError)" in text
