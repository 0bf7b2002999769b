"""Plausible wrong answers to lesson 07's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "07.gpu-scaling": [
        # Forgot the CPUs each worker needs for its data loading.
        "gpu_scaling = ScalingConfig(num_workers=4, use_gpu=True)\n",
        # Forgot use_gpu=True: four CPU-only workers.
        'gpu_scaling = ScalingConfig(num_workers=4, resources_per_worker={"CPU": 2})\n',
    ],
}
