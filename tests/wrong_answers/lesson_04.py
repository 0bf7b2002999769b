"""Plausible wrong answers to lesson 04's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "04.batch": [
        # One task per number: the overhead the exercise is about.
        "@ray.remote\ndef square(x):\n    return x * x\n\n\n"
        "chunk_refs = [square.remote(i) for i in range(1000)]\nn_tasks = len(chunk_refs)\n"
        "squares = ray.get(chunk_refs)\n",
    ],
}
