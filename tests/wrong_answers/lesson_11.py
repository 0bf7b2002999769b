"""Plausible wrong answers to lesson 11's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "11.mend-yaml": [
        # Only the float fixed: the misspelt workerGroupSpec and the missing rayVersion remain.
        "fixed_yaml = BROKEN_YAML.replace('cpu: 0.5', 'cpu: \"500m\"')\n",
        # Float and field fixed, rayVersion still missing.
        "fixed_yaml = (\n"
        "    BROKEN_YAML.replace('cpu: 0.5', 'cpu: \"500m\"')\n"
        "    .replace('workerGroupSpec:', 'workerGroupSpecs:')\n"
        ")\n",
        # The float "fixed" by rounding it to a whole CPU: valid, but twice what was meant.
        "fixed_yaml = (\n"
        "    BROKEN_YAML.replace('cpu: 0.5', 'cpu: \"1\"')\n"
        "    .replace('workerGroupSpec:', 'workerGroupSpecs:')\n"
        "    .replace('spec:\\n  headGroupSpec:', f'spec:\\n  rayVersion: \"{RAY_VERSION}\"\\n"
        "  headGroupSpec:')\n"
        ")\n",
        # rayVersion added at the wrong depth, under metadata: the YAML no longer parses.
        "fixed_yaml = BROKEN_YAML.replace(\n"
        "    '  name: batch-cluster\\n', '  name: batch-cluster\\n rayVersion: \"2.60.0\"\\n'\n"
        ")\n",
    ],
    "11.gpu-group": [
        # The builder's GPU toleration only: the team's taint keeps the Pods off the nodes.
        'gpu_cluster = RayCluster(\n    "gpu-cluster",\n    head_runs_tasks=False,\n'
        "    autoscaling=True,\n"
        '    worker_groups=[WorkerGroup("gpu", gpus=1, cpu=8, memory="32Gi", replicas=0,'
        " max_replicas=4)],\n)\n",
        # A toleration whose value is not the taint's.
        'gpu_cluster = RayCluster(\n    "gpu-cluster",\n    head_runs_tasks=False,\n'
        "    autoscaling=True,\n"
        '    worker_groups=[WorkerGroup("gpu", gpus=1, cpu=8, memory="32Gi", replicas=0,'
        " max_replicas=4,\n"
        '        tolerations=[{"key": "team", "operator": "Equal", "value": "ml-team",'
        ' "effect": "NoSchedule"}])],\n)\n',
        # max_replicas forgotten: it defaults to replicas, 0, and the group can never grow.
        'gpu_cluster = RayCluster(\n    "gpu-cluster",\n    head_runs_tasks=False,\n'
        "    autoscaling=True,\n"
        '    worker_groups=[WorkerGroup("gpu", gpus=1, cpu=8, memory="32Gi", replicas=0,\n'
        '        tolerations=[{"key": "team", "operator": "Exists", "effect": "NoSchedule"}])],'
        "\n)\n",
        # Bounds and tolerations right, but no autoscaler to act on them.
        'gpu_cluster = RayCluster(\n    "gpu-cluster",\n    head_runs_tasks=False,\n'
        '    worker_groups=[WorkerGroup("gpu", gpus=1, cpu=8, memory="32Gi", replicas=0,'
        " max_replicas=4,\n"
        '        tolerations=[{"key": "team", "operator": "Exists"}])],\n)\n',
    ],
    "11.train-job": [
        # The laptop's folder as working_dir: the cluster's Pods cannot read it.
        'train_job = RayJob(\n    "digits-train",\n    entrypoint="python train_digits.py",\n'
        '    cluster=pool,\n    runtime_env={"working_dir": ".", "env_vars": {"DIGITS_TASKS":'
        ' "4"}},\n    ttl_seconds_after_finished=600,\n    active_deadline_seconds=3600,\n)\n',
        # An int where Ray wants a string.
        'train_job = RayJob(\n    "digits-train",\n    entrypoint="python train_digits.py",\n'
        '    cluster=pool,\n    runtime_env={"working_dir": CODE_URI, "env_vars":'
        ' {"DIGITS_TASKS": 4}},\n    ttl_seconds_after_finished=600,\n'
        "    active_deadline_seconds=3600,\n)\n",
        # KubeRay's default: the cluster keeps running, and billing, after the job.
        'train_job = RayJob(\n    "digits-train",\n    entrypoint="python train_digits.py",\n'
        '    cluster=pool,\n    runtime_env={"working_dir": CODE_URI, "env_vars":'
        ' {"DIGITS_TASKS": "4"}},\n    shutdown_after_job_finishes=False,\n'
        "    ttl_seconds_after_finished=0,\n    active_deadline_seconds=3600,\n)\n",
    ],
    "11.serve-app": [
        # "replicas" is not a Serve field: Serve ignores it and runs one replica.
        'digits_service = RayService(\n    "digits-serve",\n    import_path="serve_digits:app",\n'
        '    app_name="digits",\n    route_prefix="/digits",\n'
        '    deployments=[{"name": "DigitModel", "replicas": 4}],\n'
        '    cluster=RayCluster("unused", autoscaling=True,'
        ' worker_groups=[WorkerGroup("cpu", cpu=2, max_replicas=2)]),\n)\n',
        # Autoscaling right, on the default head-only cluster: 2 CPUs for up to 4 replicas.
        'digits_service = RayService(\n    "digits-serve",\n    import_path="serve_digits:app",\n'
        '    app_name="digits",\n    route_prefix="/digits",\n'
        '    deployments=[{"name": "DigitModel", "autoscaling_config": {"min_replicas": 1,'
        ' "max_replicas": 4},\n        "ray_actor_options": {"num_cpus": 1}}],\n)\n',
        # Served at the root, not at /digits.
        'digits_service = RayService(\n    "digits-serve",\n    import_path="serve_digits:app",\n'
        '    app_name="digits",\n'
        '    deployments=[{"name": "DigitModel", "autoscaling_config": {"min_replicas": 1,'
        ' "max_replicas": 4}}],\n'
        '    cluster=RayCluster("unused", autoscaling=True,'
        ' worker_groups=[WorkerGroup("cpu", cpu=2, max_replicas=2)]),\n)\n',
    ],
    "11.autoscale": [
        # One CPU each and nothing else: a cpu node fits, so the autoscaler starts that type.
        "big_refs = [crunch.remote(TASK_S) for _ in range(2)]\n",
        # Two big_mem each: no node type has two, so the request is infeasible.
        'big_refs = [crunch.options(resources={"big_mem": 2}).remote(TASK_S) for _ in range(2)]\n',
    ],
}
