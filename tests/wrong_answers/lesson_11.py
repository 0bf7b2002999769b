"""Plausible wrong answers to lesson 11's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "11.cpu-pool": [
        # Upper bound forgotten: the group cannot grow beyond its one replica.
        'pool = RayCluster(\n    "cpu-pool",\n    head_runs_tasks=False,\n    autoscaling=True,\n'
        '    worker_groups=[\n        WorkerGroup("cpu", cpu=4, memory="16Gi", replicas=1,'
        " min_replicas=1)\n    ],\n)\n",
        # Workers of 2 CPUs where the exercise asks for 4.
        'pool = RayCluster(\n    "cpu-pool",\n    worker_groups=[\n        WorkerGroup("cpu",'
        ' cpu=2, memory="16Gi", replicas=1, min_replicas=1, max_replicas=6)\n    ],\n)\n',
    ],
}
