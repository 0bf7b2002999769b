"""Plausible wrong answers to lesson 12's exercises (see tests/exercise_wrong_answers.py)."""

# The start of a training function that trains and scores one epoch at a time, as the lesson's.
_LOOP_HEAD = (
    "def train_loop(config):\n"
    '    model = ray.train.torch.prepare_model(build_model(config["hidden"]))\n'
    '    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])\n'
    '    train_shard = ray.train.get_dataset_shard("train")\n'
    '    val_shard = ray.train.get_dataset_shard("val")\n'
    '    for epoch in range(config["epochs"]):\n'
    "        train_epoch(model, optimizer, train_shard.iter_torch_batches(\n"
    '            batch_size=config["batch_size"], dtypes=DTYPES))\n'
    "        val_accuracy = accuracy(model, val_shard.iter_torch_batches(\n"
    '            batch_size=config["batch_size"], dtypes=DTYPES))\n'
)

WRONG_ANSWERS: dict[str, list[str]] = {
    "12.data": [
        # Split right, but the pixels never scaled: they still run from 0 to 16.
        'digits = ray.data.read_parquet(raykit.dataset_path("digits/train"))\n'
        'train_ds = digits.filter(lambda row: row["image_id"] % 5 != 0)\n'
        'val_ds = digits.filter(lambda row: row["image_id"] % 5 == 0)\n',
        # The validation images filtered out of val_ds only: train_ds still holds them.
        "def scale(batch):\n"
        '    batch["pixels"] = batch["pixels"] / 16.0\n'
        "    return batch\n\n\n"
        'train_ds = ray.data.read_parquet(raykit.dataset_path("digits/train")).map_batches(scale)\n'
        'val_ds = train_ds.filter(lambda row: row["image_id"] % 5 == 0)\n',
    ],
    "12.train": [
        # Reports the accuracy but no checkpoint: nothing for Tune and Serve to load.
        _LOOP_HEAD
        + '        ray.train.report({"val_accuracy": val_accuracy, "epoch": epoch})\n\n\n'
        "local_result = TorchTrainer(\n"
        "    train_loop,\n"
        '    train_loop_config={**hyperparameters, "epochs": 1},\n'
        "    scaling_config=ScalingConfig(num_workers=0),\n"
        '    datasets={"train": train_ds, "val": val_ds},\n'
        ").fit()\n",
        # Right loop, but run for every epoch instead of one (still local: seconds, not a run).
        _LOOP_HEAD + "        with tempfile.TemporaryDirectory() as folder:\n"
        '            torch.save(getattr(model, "module", model).state_dict(), '
        'Path(folder) / "model.pt")\n'
        '            ray.train.report({"val_accuracy": val_accuracy, "epoch": epoch},\n'
        "                             checkpoint=Checkpoint.from_directory(folder))\n\n\n"
        "local_result = TorchTrainer(\n"
        "    train_loop,\n"
        "    train_loop_config=hyperparameters,\n"
        "    scaling_config=ScalingConfig(num_workers=0),\n"
        '    datasets={"train": train_ds, "val": val_ds},\n'
        ").fit()\n",
    ],
    "12.tune": [
        # The per-worker function handed to Tune itself, no TorchTrainer: it asks for a dataset
        # shard outside Ray Train, and every trial fails at once (so it costs seconds).
        "train_driver = train_loop\n"
        "tune_results = tune.Tuner(\n"
        "    train_loop,\n"
        '    param_space={**hyperparameters, "lr": tune.grid_search(LEARNING_RATES)},\n'
        '    tune_config=tune.TuneConfig(metric="val_accuracy", mode="max"),\n'
        "    run_config=tune.RunConfig(storage_path=str(STORAGE), verbose=0),\n"
        ").fit()\n",
        # The Tuner built, never run.
        "def train_driver(config):\n"
        "    TorchTrainer(train_loop, train_loop_config=config, scaling_config=scaling,\n"
        '                 datasets={"train": train_ds, "val": val_ds}).fit()\n\n\n'
        "tune_results = tune.Tuner(\n"
        "    train_driver,\n"
        '    param_space={**hyperparameters, "lr": tune.grid_search(LEARNING_RATES)},\n'
        ")\n",
    ],
    "12.serve": [
        # The config is written but never sent to Serve (no `serve deploy`).
        'service_config = SERVICE_DIR / "service.yaml"\n'
        'service_config.write_text(f"""\n'
        "applications:\n"
        "  - name: digits\n"
        "    route_prefix: /digits\n"
        "    import_path: digits_service:build\n"
        '    args: {{checkpoint: "{BEST_CHECKPOINT}", hidden: {HIDDEN}}}\n'
        '    runtime_env: {{working_dir: "local://{SERVICE_DIR}"}}\n'
        '""")\n',
        # Deployed, but with another trial's checkpoint (tune_results[0] is often not the best).
        'service_config = SERVICE_DIR / "service.yaml"\n'
        "other = next(r for r in tune_results if r.metrics['checkpoint_path'] != BEST_CHECKPOINT)\n"
        'service_config.write_text(f"""\n'
        "http_options: {{host: 127.0.0.1, port: {PORT}}}\n"
        "applications:\n"
        "  - name: digits\n"
        "    route_prefix: /digits\n"
        "    import_path: digits_service:build\n"
        "    args: {{checkpoint: \"{other.metrics['checkpoint_path']}\", hidden: {HIDDEN}}}\n"
        '    runtime_env: {{working_dir: "local://{SERVICE_DIR}"}}\n'
        '""")\n'
        "!{serve_cli} deploy {service_config} --address {DASHBOARD}\n",
    ],
    "12.job": [
        # No working_dir: the cluster has no train_job.py to run.
        "job_id = client.submit_job(\n"
        '    entrypoint="python train_job.py",\n'
        '    runtime_env={"env_vars": {"DIGITS_LR": str(best.config["lr"]), '
        '"DIGITS_HIDDEN": str(HIDDEN),\n'
        '                             "DIGITS_EPOCHS": str(EPOCHS), '
        '"DIGITS_STORAGE": str(STORAGE), **this_python}},\n'
        ")\n",
        # The hyper-parameters left out of the runtime environment.
        "job_id = client.submit_job(\n"
        '    entrypoint="python train_job.py",\n'
        '    runtime_env={"working_dir": str(JOB_DIR), "env_vars": this_python},\n'
        ")\n",
    ],
}
