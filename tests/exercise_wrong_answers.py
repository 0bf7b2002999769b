"""Plausible wrong answers to every exercise in notebooks/, typed into the learner's cell.

Each must run without error and then fail its exercise's check with a hint (``CheckFailed``):
tests/test_exercises.py runs them in the lesson's own kernel, with solutions switched off. Every
exercise needs at least one; write the mistakes learners really make.
"""

WRONG_ANSWERS: dict[str, list[str]] = {
    "00.cube": [
        # Forgot @ray.remote: a plain function, called locally.
        "def cube(x):\n    return x**3\n\n\ncubes = [cube(i) for i in range(10)]\n",
        # Kept the futures instead of their values.
        "@ray.remote\ndef cube(x):\n    return x**3\n\n\n"
        "cubes = [cube.remote(i) for i in range(10)]\n",
    ],
    "01.fix-loop": [
        # Still waits for each task before submitting the next one.
        "fixed_refs = []\nfixed_squares = []\nfor i in range(8):\n"
        "    ref = slow_square.remote(i)\n    fixed_refs.append(ref)\n"
        "    fixed_squares.append(ray.get(ref))\n",
    ],
    "02.bank-account": [
        # The balance is a local variable: nothing is kept between calls.
        "@ray.remote\nclass BankAccount:\n    def deposit(self, amount):\n"
        "        balance = 0\n        balance += amount\n        return balance\n\n\n"
        "account = BankAccount.remote()\n",
        # The class itself, never instantiated as an actor.
        "@ray.remote\nclass BankAccount:\n    def __init__(self):\n        self.balance = 0\n\n"
        "    def deposit(self, amount):\n        self.balance += amount\n"
        "        return self.balance\n\n\naccount = BankAccount\n",
    ],
    "03.put-once": [
        # The array itself: every task call copies it into the store again.
        "table_ref = table\n"
        "totals = ray.get([row_total.remote(table_ref, i) for i in range(10)])\n",
        # Put once, but kept the futures.
        "table_ref = ray.put(table)\n"
        "totals = [row_total.remote(table_ref, i) for i in range(10)]\n",
    ],
    "04.batch": [
        # One task per number: the overhead the exercise is about.
        "@ray.remote\ndef square(x):\n    return x * x\n\n\n"
        "chunk_refs = [square.remote(i) for i in range(1000)]\nn_tasks = len(chunk_refs)\n"
        "squares = ray.get(chunk_refs)\n",
    ],
    "05.zone-b": [
        # The other zone's label.
        "@ray.remote\ndef node_of_task():\n    return ray.get_runtime_context().get_node_id()\n\n\n"
        'zone_b_node = ray.get(node_of_task.options(label_selector={"zone": "a"}).remote())\n',
        # The future, not the node id it resolves to.
        "@ray.remote\ndef node_of_task():\n    return ray.get_runtime_context().get_node_id()\n\n\n"
        'zone_b_node = node_of_task.options(label_selector={"zone": "b"}).remote()\n',
    ],
    "06.mean-alcohol": [
        # The wrong aggregate.
        'rows = raykit.read_dataset("wine").groupby("cultivar").max("alcohol").take_all()\n'
        'mean_alcohol = {row["cultivar"]: row["max(alcohol)"] for row in rows}\n',
        # The lazy dataset, never turned into values.
        'mean_alcohol = raykit.read_dataset("wine").groupby("cultivar").mean("alcohol")\n',
    ],
    "07.gpu-scaling": [
        # Forgot the CPUs each worker needs for its data loading.
        "gpu_scaling = ScalingConfig(num_workers=4, use_gpu=True)\n",
        # Forgot use_gpu=True: four CPU-only workers.
        'gpu_scaling = ScalingConfig(num_workers=4, resources_per_worker={"CPU": 2})\n',
    ],
    "08.best-lr": [
        # The best trial's Result, not its learning rate.
        'lr_results, _ = run_experiment(\n    "my_grid",\n'
        '    {"hidden": 32, "lr": tune.grid_search([0.001, 0.01, 0.1]), "epochs": MAX_EPOCHS},\n'
        "    reuse_actors=True,\n)\nbest_lr = lr_results.get_best_result()\n",
    ],
    "09.three-replicas": [
        # Redeployed without .options(num_replicas=3): one replica.
        'serve.run(DigitModel.bind(str(MODEL_DIR)), name="digits", route_prefix="/digits")\n'
        'replicas_running = running_replicas("digits")\n',
    ],
    "10.count-from-metrics": [
        # Summed every ray_tasks sample: all task names and all states, not only the finished
        # exercise_square tasks.
        'rows = raykit.scrape_metrics()\n'
        'finished_from_metrics = int(rows[rows["name"] == "ray_tasks"]["value"].sum())\n',
    ],
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
