"""Plausible wrong answers to lesson 10's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "10.count-from-metrics": [
        # Summed every ray_tasks sample: all task names and all states, not only the finished
        # exercise_square tasks.
        "rows = raykit.scrape_metrics()\n"
        'finished_from_metrics = int(rows[rows["name"] == "ray_tasks"]["value"].sum())\n',
    ],
}
