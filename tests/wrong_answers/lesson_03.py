"""Plausible wrong answers to lesson 03's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "03.put-once": [
        # The array itself: every task call copies it into the store again.
        "table_ref = table\n"
        "totals = ray.get([row_total.remote(table_ref, i) for i in range(10)])\n",
        # Put once, but kept the futures.
        "table_ref = ray.put(table)\n"
        "totals = [row_total.remote(table_ref, i) for i in range(10)]\n",
    ],
}
