"""Plausible wrong answers to lesson 06's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "06.mean-alcohol": [
        # The wrong aggregate.
        'rows = raykit.read_dataset("wine").groupby("cultivar").max("alcohol").take_all()\n'
        'mean_alcohol = {row["cultivar"]: row["max(alcohol)"] for row in rows}\n',
        # The lazy dataset, never turned into values.
        'mean_alcohol = raykit.read_dataset("wine").groupby("cultivar").mean("alcohol")\n',
    ],
}
