"""Lesson 03 (object store) prints the figures and outcomes its text talks about.

Reads the executed copy (run once per session in small mode by the ``executed`` fixture).
Measured figures are asserted to be printed, never to fall in a range.
"""

from __future__ import annotations

import re

TICK = "\u2713"
SOLVED = "solved by you."  # the lesson run typed each solution in


def test_03_object_store_prints_its_measurements_and_outcomes(executed):
    text = executed.text("03_object_store.ipynb")

    # Zero-copy reads: read-only views on shared memory.
    assert "arr.flags.writeable: False" in text
    assert "whose base is <ray._raylet.SubBuffer" in text
    assert "two gets share memory: True" in text
    assert "ValueError: assignment destination is read-only" in text
    assert "copy writeable: True" in text

    # Reference counting, read from the State API; IPython's output cache pins a displayed ref.
    assert re.search(r"held by a DRIVER \(pid \d+\) as LOCAL_REFERENCE", text)
    assert "after temp_ref = None: []" in text
    assert re.search(r"store: [\d.]+ MB used before, [\d.]+ MB now", text)
    assert re.search(r"after shown_ref = None: \['\w+'\]", text), "the displayed ref stays held"
    assert re.search(r"IPython holds it as: \['Out\[\d+\]'", text)
    assert "after %xdel of _, __, ___: []" in text

    # A task's result held as a reference, then pinned by a ray.get in the notebook.
    assert "this notebook holds: ['LOCAL_REFERENCE']" in text
    assert "after ray.get:       ['PINNED_IN_MEMORY']" in text
    assert "after made = None: ['LOCAL_REFERENCE']" in text
    assert re.search(r"after ray\.kill\(maker\): OwnerDiedError", text)

    # Measured: by value versus by reference, ray.get versus pickle; predictions beside them.
    assert re.search(
        r"one reference is ([\d.]+x faster|slower \([\d.]+x\)) than passing the array", text
    )
    assert re.search(r"once it settles: [\d.]+ MB", text)
    assert re.search(r"No prediction made\. Measured: [\d.]+x\. The right choice was", text)
    assert re.search(
        r"ray\.get of \d+ MB: [\d.]+ ms; pickle round trip: [\d.]+ ms; ray\.get is \d+x faster",
        text,
    )

    # Spilling: bytes go to disk, then come back; the spill files go with the references.
    spilled = re.search(r"spilled by this cell: ([\d.]+) MB; spill files on disk: ([\d.]+)", text)
    assert spilled and float(spilled[1]) > 0, "overfilling the store must spill"
    assert float(spilled[2]) > 0, "the spill files are on this machine's disk"
    assert "usage within capacity: True" in text
    assert "The right choice was 'Ray writes objects to disk and carries on'" in text
    restored = re.search(r"restored from disk by this cell: ([\d.]+) MB", text)
    assert restored and float(restored[1]) > 0, "reading the spilled arrays must restore them"
    assert re.search(r"all \d+ arrays read back correctly: True", text)
    left = re.search(
        r"spill files on disk: ([\d.]+) MB before fill = None, ([\d.]+) MB after", text
    )
    assert left and float(left[2]) < float(left[1]), "dropping the refs deleted spill files"

    # The exercises, each solution typed in: the checks grade it as the learner's.
    for exercise in ("03.put-once", "03.free", "03.chain", "03.nested"):
        assert f"{TICK} {exercise}: {SOLVED}" in text, exercise
    assert f"{TICK} `table_ref` is one object in the store" in text
    assert f"{TICK} `totals` is right." in text
    assert f"{TICK} the object `freed_id` names is gone" in text
    assert f"{TICK} `big_ref` is a task's result that this notebook holds only as a ref" in text
    assert f"{TICK} `part_refs` holds 4 refs from inside the result" in text
