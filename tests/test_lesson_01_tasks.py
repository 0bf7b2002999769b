"""Lesson 01 (tasks) prints the figures and outcomes its text talks about.

Reads the executed copy (run once per session in small mode by the ``executed`` fixture, with
each exercise's solution typed in as the learner's, so each check grades it). Measured figures
are asserted to be printed, never to fall in a range.
"""

from __future__ import annotations

import re

TICK = "\u2713"
EXERCISES = ["01.finish-order", "01.chain", "01.fix-loop", "01.reserve", "01.retry"]


def test_01_tasks_prints_its_measurements_and_outcomes(executed):
    text = executed.text("01_tasks.ipynb")

    assert re.search(r"\.remote\(\) returned after [\d.]+ ms", text)
    assert re.search(r"ray\.get returned 49 after [\d.]+ s", text)
    assert "GetTimeoutError:" in text
    assert re.search(r"first ready: sleep_for\([123]\); 2 not ready yet", text)
    assert "ray.get(refs), in the order of refs: [3, 1, 2]" in text

    # Every exercise's solution was typed in: its check graded it as the learner's.
    for exercise_id in EXERCISES:
        assert f"{TICK} {exercise_id}: solved by you." in text

    # Results as they finish: the order Ray recorded, printed beside the order of submission.
    assert re.search(
        rf"{TICK} `finish_order` lists the results in the order Ray recorded the tasks "
        r"finishing, \[[124], [124], [124]\], not the order of submission, \[4, 1, 2\]\.",
        text,
    )

    # Futures into tasks.
    assert "'values arrived as': 'list'" in text
    assert "the task got the value; type of its first item: int" in text
    assert "the task got the list as is; type of its first item: ObjectRef" in text
    assert (
        f"{TICK} `total_ref` holds 14: its task was submitted while the 4 tasks in `part_refs` "
        "still ran, and Ray held it until they had finished." in text
    )

    # The anti-pattern: predicted (nobody answers under papermill), measured, drawn.
    ratio = re.search(r"submitting all first is ([\d.]+)x faster than ray\.get in the loop", text)
    assert ratio, "the measured ratio of the two versions must be printed"
    assert re.search(r"No prediction made\. Measured: [\d.]+x\.", text)
    maxima = re.findall(r"^tasks running at the same time, at most: (\d+)", text, re.M)
    assert len(maxima) == 2 and maxima[0] == "1"
    assert re.search(r"Timeline: \d+ tasks? on \d+ workers?", text), "timelines are displayed"
    assert re.search(rf"{TICK} \d+ of the tasks in `fixed_refs` ran at the same time\.", text)
    assert f"{TICK} `fixed_squares` is right." in text

    # Resources: the heavy tasks reserved a whole node each, so they took turns.
    cpus = re.search(r"the largest node has (\d+) CPUs", text)
    assert cpus, "the node's CPU count must be printed"
    assert (
        f"{TICK} each of the 3 tasks in `heavy_refs` reserved {cpus[1]} CPUs; at most 1 ran at "
        "once, and this cluster has room for 1." in text
    )
    assert "heavy tasks running at the same time, at most: 1" in text

    # A task asking for a resource nobody has stays pending, then is cancelled.
    assert re.search(r"finished within [\d.]+ s: False", text)
    assert "state: PENDING_NODE_ASSIGNMENT" in text
    assert "ray.get raised TaskCancelledError" in text
    assert "state after ray.cancel: FAILED (TASK_CANCELLED)" in text

    # Retries, read from Ray's records of each attempt.
    assert (
        "ray.get raised RayTaskError(ConnectionError) -> "
        "ConnectionError: attempt 1: the service did not answer" in text
    )
    assert "attempts recorded by Ray: 1 -> FAILED" in text
    assert (
        f"{TICK} Ray made 3 attempts of the task in `retry_ref`: FAILED, FAILED, FINISHED." in text
    )
    assert "result: news: answered on attempt 3" in text
    assert "attempts on the timeline: 3 -> FAILED, FAILED, FINISHED" in text
