"""Plausible wrong answers to lesson 08's exercises (see tests/exercise_wrong_answers.py)."""

_RUN = "run_config=tune.RunConfig(storage_path=STORAGE, verbose=0)"

WRONG_ANSWERS: dict[str, list[str]] = {
    "08.report": [
        # One report after the loop: Tune sees one iteration, not one per epoch.
        "def train_adam(config):\n"
        '    model = make_model(config["hidden"])\n'
        '    optimizer = __import__("torch").optim.Adam(model.parameters(), lr=config["lr"])\n'
        '    for _ in range(config["epochs"]):\n'
        "        train_one_epoch(model, optimizer, data)\n"
        '    tune.report({"accuracy": validation_accuracy(model, data)})\n\n\n'
        "adam_results = tune.Tuner(\n"
        '    train_adam, param_space={"hidden": 32, "lr": 0.01, "epochs": EX_EPOCHS},\n'
        f"    {_RUN},\n).fit()\n",
        # Reported each epoch, but under another name than the one asked for.
        "def train_adam(config):\n"
        '    model = make_model(config["hidden"])\n'
        '    optimizer = __import__("torch").optim.Adam(model.parameters(), lr=config["lr"])\n'
        '    for _ in range(config["epochs"]):\n'
        "        train_one_epoch(model, optimizer, data)\n"
        '        tune.report({"acc": validation_accuracy(model, data)})\n\n\n'
        "adam_results = tune.Tuner(\n"
        '    train_adam, param_space={"hidden": 32, "lr": 0.01, "epochs": EX_EPOCHS},\n'
        f"    {_RUN},\n).fit()\n",
    ],
    "08.tuner": [
        # No metric and mode: the Tuner runs, but nothing knows which trial is best.
        "lr_results = tune.Tuner(\n    trainable,\n"
        '    param_space={"hidden": 32, "lr": tune.grid_search([0.001, 0.01, 0.1]),'
        ' "epochs": EX_EPOCHS},\n'
        f"    tune_config=tune.TuneConfig(reuse_actors=True),\n    {_RUN},\n).fit()\n",
        # The wrong direction: the lowest accuracy counts as the best.
        "lr_results = tune.Tuner(\n    trainable,\n"
        '    param_space={"hidden": 32, "lr": tune.grid_search([0.001, 0.01, 0.1]),'
        ' "epochs": EX_EPOCHS},\n'
        '    tune_config=tune.TuneConfig(metric="accuracy", mode="min", reuse_actors=True),\n'
        f"    {_RUN},\n).fit()\n",
        # tune.choice samples one of the rates for one trial instead of trying each.
        "lr_results = tune.Tuner(\n    trainable,\n"
        '    param_space={"hidden": 32, "lr": tune.choice([0.001, 0.01, 0.1]),'
        ' "epochs": EX_EPOCHS},\n'
        '    tune_config=tune.TuneConfig(metric="accuracy", mode="max", reuse_actors=True),\n'
        f"    {_RUN},\n).fit()\n",
    ],
    "08.space": [
        # The learning rate listed as a second grid: 4 trials, but only 2 rates, repeated.
        "space_results = tune.Tuner(\n    trainable,\n"
        '    param_space={"hidden": tune.grid_search([16, 64]),'
        ' "lr": tune.grid_search([0.01, 0.1]), "epochs": 1},\n'
        '    tune_config=tune.TuneConfig(metric="accuracy", mode="max", reuse_actors=True),\n'
        f"    {_RUN},\n).fit()\n",
        # num_samples left out: one sample, so the grid runs once.
        "space_results = tune.Tuner(\n    trainable,\n"
        '    param_space={"hidden": tune.grid_search([16, 64]),'
        ' "lr": tune.loguniform(1e-3, 0.3), "epochs": 1},\n'
        '    tune_config=tune.TuneConfig(metric="accuracy", mode="max", reuse_actors=True),\n'
        f"    {_RUN},\n).fit()\n",
    ],
    "08.asha": [
        # No scheduler: every sampled trial trains all its epochs.
        "my_asha_results = tune.Tuner(\n    trainable,\n"
        '    param_space={**search_space, "epochs": EX_EPOCHS},\n'
        "    tune_config=tune.TuneConfig(\n"
        '        metric="accuracy", mode="max", num_samples=EX_SAMPLES, reuse_actors=True\n'
        f"    ),\n    {_RUN},\n).fit()\n",
    ],
}
