"""Plausible wrong answers to lesson 01's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "01.fix-loop": [
        # Still waits for each task before submitting the next one.
        "fixed_refs = []\nfixed_squares = []\nfor i in range(8):\n"
        "    ref = slow_square.remote(i)\n    fixed_refs.append(ref)\n"
        "    fixed_squares.append(ray.get(ref))\n",
    ],
}
