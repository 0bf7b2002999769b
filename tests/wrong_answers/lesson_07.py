"""Plausible wrong answers to lesson 07's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "07.gpu-scaling": [
        # Forgot the CPUs each worker needs for its data loading.
        "gpu_scaling = ScalingConfig(num_workers=4, use_gpu=True)\n",
        # Forgot use_gpu=True: four CPU-only workers.
        'gpu_scaling = ScalingConfig(num_workers=4, resources_per_worker={"CPU": 2})\n',
    ],
    "07.local-run": [
        # Kept the trainer, never ran it.
        "local_result = TorchTrainer(\n"
        "    train_loop,\n"
        '    train_loop_config={**hyperparameters, "epochs": 1},\n'
        "    scaling_config=ScalingConfig(num_workers=0),\n"
        '    datasets={"train": train_ds},\n'
        ")\n",
        # Ran every epoch instead of one (still local, so it costs seconds, not a worker group).
        "local_result = TorchTrainer(\n"
        "    train_loop,\n"
        "    train_loop_config=hyperparameters,\n"
        "    scaling_config=ScalingConfig(num_workers=0),\n"
        '    datasets={"train": train_ds},\n'
        ").fit()\n",
    ],
    "07.fit": [
        # Built the trainer, and took it for the result: fit() never ran (so no run is paid).
        "trainer = TorchTrainer(\n"
        "    train_loop,\n"
        "    train_loop_config=hyperparameters,\n"
        "    scaling_config=scaling,\n"
        "    run_config=RunConfig(\n"
        "        name=f\"digits_mlp_{time.strftime('%Y%m%d-%H%M%S')}\",\n"
        "        storage_path=str(STORAGE),\n"
        "        callbacks=[report_log],\n"
        "    ),\n"
        '    datasets={"train": train_ds},\n'
        ")\n"
        "result = trainer\n",
    ],
    "07.best-model": [
        # Found the best checkpoint, built the model, but never loaded the weights into it.
        'best_checkpoint = result.get_best_checkpoint(metric="accuracy", mode="max")\n'
        "with best_checkpoint.as_directory() as folder:\n"
        '    state = torch.load(Path(folder) / "model.pt", map_location="cpu")\n'
        "best_model = build_model(HIDDEN)\n"
        "best_model.eval()\n",
    ],
    "07.crash": [
        # No FailureConfig (and not run yet: run as it is, the crash would end it).
        "crash_trainer = TorchTrainer(\n"
        "    train_loop,\n"
        '    train_loop_config={**hyperparameters, "crash_at": CRASH_AT_EPOCH},\n'
        "    scaling_config=scaling,\n"
        "    run_config=RunConfig(\n"
        "        name=f\"digits_crash_{time.strftime('%Y%m%d-%H%M%S')}\",\n"
        "        storage_path=str(STORAGE),\n"
        "        checkpoint_config=CheckpointConfig(num_to_keep=1),\n"
        "        callbacks=[report_log],\n"
        "    ),\n"
        '    datasets={"train": train_ds},\n'
        ")\n",
    ],
}
