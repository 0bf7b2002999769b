"""Lesson 03 (object store) prints the figures and outcomes its text talks about.

Reads the executed copy (run once per session in small mode by the ``executed`` fixture).
Measured figures are asserted to be printed, never to fall in a range.
"""

from __future__ import annotations

import re

TICK = "\u2713"


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
