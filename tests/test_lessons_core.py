"""The core lessons (01-04) print the figures and outcomes their text talks about.

Each test reads the executed copy of one lesson (run once per session in small mode by the
``executed`` fixture). Measured figures are asserted to be printed, never to fall in a range.
"""

from __future__ import annotations

import re

import nbformat

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


def test_02_actors_prints_its_measurements_and_outcomes(executed):
    text = executed.text("02_actors.ipynb")

    assert "three calls return: [1, 2, 3]" in text
    assert "no increment lost: True" in text
    assert "in submission order: True" in text

    applied = re.search(r"(\d+) trainers x (\d+) steps: (\d+) gradients applied", text)
    assert applied and int(applied[3]) == int(applied[1]) * int(applied[2])
    errors = re.search(r"mean squared error: ([\d.]+) before, ([\d.]+) after", text)
    assert errors and float(errors[2]) < float(errors[1]), "the parameter server learned"

    assert re.search(r"the plain actor took [\d.]+ s", text)
    assert re.search(r"async actor: [\d.]+ s, [\d.]+x the plain actor's speed", text)
    assert re.search(r"threaded, max_concurrency=\d+: [\d.]+ s", text)
    assert re.search(r"calls running at the same time, at most: \d+", text)

    assert "one actor behind them all: True" in text
    assert "lesson02-counter" in text
    assert re.search(r"items per actor process: \{", text)

    assert "the call in flight: ActorDiedError (a RayActorError: True)" in text
    assert "a call made after the kill: ActorDiedError" in text
    assert re.search(r"the actor started 3 times: 2 restarts", text)
    assert "work('job-1') was attempted 3 times" in text
    assert "job-1 done in life 3" in text
    assert "restarts used up: ActorDiedError" in text

    assert re.search(r"keeping the state in the actor was [\d.]+x the speed of shipping it", text)

    assert f"{TICK} `account` is a handle to a BankAccount actor." in text
    assert f"{TICK} `account` keeps its state: two calls of deposit returned 10 then 20." in text
    assert "killed the detached actor 'lesson02-counter'" in text


def test_03_object_store_prints_its_measurements_and_outcomes(executed):
    text = executed.text("03_object_store.ipynb")

    # Zero-copy reads: read-only views on shared memory.
    assert "arr.flags.writeable: False" in text
    assert "whose base is <ray._raylet.SubBuffer" in text
    assert "two gets share memory: True" in text
    assert "ValueError: assignment destination is read-only" in text
    assert "copy writeable: True" in text

    # Reference counting, and IPython's output cache pinning a displayed ref until it is cleared.
    assert "after temp_ref = None: []" in text
    assert re.search(r"after shown_ref = None: \['\w+'\]", text), "the displayed ref stays held"
    assert re.search(r"IPython holds it as: \['Out\[\d+\]'", text)
    assert "after %xdel of _, __, ___: []" in text
    assert re.search(r"after ray\.kill\(maker\): OwnerDiedError", text)

    # Measured: by value versus by reference, ray.get versus pickle.
    assert re.search(
        r"one reference is ([\d.]+x faster|slower \([\d.]+x\)) than passing the array", text
    )
    assert re.search(
        r"ray\.get of \d+ MB: [\d.]+ ms; pickle round trip: [\d.]+ ms; ray\.get is \d+x faster",
        text,
    )

    # Spilling: bytes go to disk, then come back.
    spilled = re.search(r"spilled by this cell: ([\d.]+) MB", text)
    assert spilled and float(spilled[1]) > 0, "overfilling the store must spill"
    restored = re.search(r"restored from disk by this cell: ([\d.]+) MB", text)
    assert restored and float(restored[1]) > 0, "reading the spilled arrays must restore them"
    assert re.search(r"all \d+ arrays read back correctly: True", text)

    assert f"{TICK} `table_ref` is one object in the store" in text
    assert f"{TICK} `totals` is right." in text


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
