"""Plausible wrong answers to lesson 13's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "13.batched": [
        # Batched, but the batches never flattened: a list of lists.
        "batch_refs = [square_batch_r.remote(chunk) for chunk in chunks]\n"
        "batched_squares = ray.get(batch_refs)\n",
        # Not batched: one task per item, as before.
        "batch_refs = [square_r.remote(x) for x in xs]\nbatched_squares = ray.get(batch_refs)\n",
        # Batched on the driver, no Ray task at all.
        "batch_refs = [jobs13.square_batch(chunk) for chunk in chunks]\n"
        "batched_squares = [y for batch in batch_refs for y in batch]\n",
    ],
    "13.by-reference": [
        # The array itself: every call would copy it into the store again.
        "big_ref = big\n"
        "ref_sums = ray.get([slice_sum_r.remote(big_ref, i, parts) for i in range(parts)])\n",
        # One put per task: as many copies as by value.
        "big_ref = [ray.put(big) for _ in range(parts)]\n"
        "ref_sums = ray.get([slice_sum_r.remote(r, i, parts) for i, r in enumerate(big_ref)])\n",
        # Put once, but every task sums the first slice.
        "big_ref = ray.put(big)\n"
        "ref_sums = ray.get([slice_sum_r.remote(big_ref, 0, parts) for i in range(parts)])\n",
    ],
}
