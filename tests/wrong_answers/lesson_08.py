"""Plausible wrong answers to lesson 08's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "08.best-lr": [
        # The best trial's Result, not its learning rate.
        'lr_results, _ = run_experiment(\n    "my_grid",\n'
        '    {"hidden": 32, "lr": tune.grid_search([0.001, 0.01, 0.1]), "epochs": MAX_EPOCHS},\n'
        "    reuse_actors=True,\n)\nbest_lr = lr_results.get_best_result()\n",
    ],
}
