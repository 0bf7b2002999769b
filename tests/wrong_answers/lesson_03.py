"""Plausible wrong answers to lesson 03's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "03.put-once": [
        # The array itself: every task call copies it into the store again.
        "table_ref = table\n"
        "totals = ray.get([row_total.remote(table_ref, i) for i in range(10)])\n",
        # Put once, but kept the futures.
        "table_ref = ray.put(table)\n"
        "totals = [row_total.remote(table_ref, i) for i in range(10)]\n",
        # One put per task: a list of refs, one copy each.
        "table_ref = [ray.put(table) for i in range(10)]\n"
        "totals = ray.get([row_total.remote(ref, i) for i, ref in enumerate(table_ref)])\n",
    ],
    "03.free": [
        # Dropped the ref, but the zero-copy view from ray.get still pins the object.
        "wrong_ref = ray.put(np.ones(ARRAY_MB * MB // 8))\n"
        "wrong_view = ray.get(wrong_ref)\n"
        "freed_id = wrong_ref.hex()\n"
        "del wrong_ref\n",
        # Dropped the name, but a list still holds the ref.
        "wrong_ref = ray.put(np.ones(ARRAY_MB * MB // 8))\n"
        "wrong_batch = [wrong_ref, wrong_ref]\n"
        "freed_id = wrong_ref.hex()\n"
        "del wrong_ref\n",
        # Kept the ref itself, not its id.
        "freed_id = ray.put(np.ones(ARRAY_MB * MB // 8))\n",
        # An id typed in: not an object of this job.
        'freed_id = "ab" * 28\n',
    ],
    "03.chain": [
        # Fetched the array into the notebook, then passed the value on.
        "big_ref = make_array.remote(ARRAY_MB * MB // 8)\n"
        "big = ray.get(big_ref)\n"
        "total = ray.get(checksum.remote(big))\n",
        # Fetched it and put it back: a second copy, made by the notebook.
        "big_ref = ray.put(ray.get(make_array.remote(ARRAY_MB * MB // 8)))\n"
        "total = ray.get(checksum.remote(big_ref))\n",
        # Kept the checksum's future, not its value.
        "big_ref = make_array.remote(ARRAY_MB * MB // 8)\ntotal = checksum.remote(big_ref)\n",
    ],
    "03.nested": [
        # Stopped after the first ray.get: the list holds refs, not pieces.
        "part_refs = ray.get(split.remote(data_ref, N_PARTS))\nparts = part_refs\n",
        # Kept the outer ref, whose ray.get is the list of refs.
        "part_refs = split.remote(data_ref, N_PARTS)\nparts = ray.get(part_refs)\n",
        # Cut and put the pieces in the notebook instead of using split's refs.
        "part_refs = [ray.put(p) for p in np.array_split(data, N_PARTS)]\n"
        "parts = ray.get(part_refs)\n",
    ],
}
