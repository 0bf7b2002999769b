"""Plausible wrong answers to lesson 00's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "00.cube": [
        # Forgot @ray.remote: a plain function, called locally; no tasks, no refs.
        "def cube(x):\n    return x**3\n\n\ncubes = [cube(i) for i in range(10)]\n",
        # Kept the futures instead of their values.
        "@ray.remote\ndef cube(x):\n    return x**3\n\n\n"
        "cube_refs = [cube.remote(i) for i in range(10)]\ncubes = cube_refs\n",
        # Right values, computed here: the refs are objects put in the store, no task of cube.
        "@ray.remote\ndef cube(x):\n    return x**3\n\n\n"
        "cubes = [i**3 for i in range(10)]\ncube_refs = [ray.put(c) for c in cubes]\n",
        # Right refs, but the values were typed in (or computed here), not fetched.
        "@ray.remote\ndef cube(x):\n    return x**3\n\n\n"
        "cube_refs = [cube.remote(i) for i in range(10)]\n"
        "cubes = [i * i * i for i in range(1, 11)]\n",
    ],
    "00.where": [
        # os.getpid() called here, in the notebook, not in the worker.
        "@ray.remote\ndef worker_pid():\n    return os.getpid()\n\n\n"
        "pid_refs = [worker_pid.remote() for _ in range(n)]\n"
        "pids = [os.getpid() for _ in pid_refs]\n",
        # The worker's id, not its process id.
        "@ray.remote\ndef worker_pid():\n    return ray.get_runtime_context().get_worker_id()\n\n\n"
        "pid_refs = [worker_pid.remote() for _ in range(n)]\npids = ray.get(pid_refs)\n",
        # Kept the futures instead of their values.
        "@ray.remote\ndef worker_pid():\n    return os.getpid()\n\n\n"
        "pid_refs = [worker_pid.remote() for _ in range(n)]\npids = pid_refs\n",
    ],
    "00.half-cpu": [
        # No request: each task reserves the default, one CPU.
        "half_refs = [slow_square.remote(i) for i in range(2 * num_cpus)]\n",
        # Twice as much instead of half.
        "half_refs = [slow_square.options(num_cpus=2).remote(i) for i in range(2 * num_cpus)]\n",
    ],
}
