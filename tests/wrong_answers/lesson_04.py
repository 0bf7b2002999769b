"""Plausible wrong answers to lesson 04's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "04.batch": [
        # One task per number: the overhead the exercise is about.
        "@ray.remote\ndef square(x):\n    return x * x\n\n\n"
        "chunk_refs = [square.remote(i) for i in range(1000)]\n"
        "squares = ray.get(chunk_refs)\n",
        # The chunks squared in the driver and put in the store: no task ran at all.
        "chunk_refs = [ray.put([x * x for x in range(i, i + 100)]) for i in range(0, 1000, 100)]\n"
        "squares = [y for part in ray.get(chunk_refs) for y in part]\n",
        # Chunks of 10: 100 tasks, still too fine-grained.
        "@ray.remote\ndef square_chunk(chunk):\n    return [x * x for x in chunk]\n\n\n"
        "chunk_refs = [square_chunk.remote(range(i, i + 10)) for i in range(0, 1000, 10)]\n"
        "squares = [y for part in ray.get(chunk_refs) for y in part]\n",
    ],
    "04.back-pressure": [
        # Every task at once: no cap at all.
        "throttled_refs = [slow_step.remote(i, s) for i, s in enumerate(durations)]\n"
        "throttled_results = ray.get(throttled_refs)\n",
        # A ray.get right after each call: capped, but one task at a time.
        "throttled_refs, throttled_results = [], []\n"
        "for i, s in enumerate(durations):\n"
        "    throttled_refs.append(slow_step.remote(i, s))\n"
        "    throttled_results.append(ray.get(throttled_refs[-1]))\n",
        # `>` where `>=` is meant: one task more than the cap in flight.
        "throttled_refs, throttled_results, pending = [], [], []\n"
        "for i, s in enumerate(durations):\n"
        "    if len(pending) > MAX_IN_FLIGHT:\n"
        "        [ready], pending = ray.wait(pending, num_returns=1)\n"
        "        throttled_results.append(ray.get(ready))\n"
        "    throttled_refs.append(slow_step.remote(i, s))\n"
        "    pending.append(throttled_refs[-1])\n"
        "throttled_results += ray.get(pending)\n",
    ],
    "04.coordinator": [
        # The coordinator keeps a GPU while it waits: the deadlock of the section again.
        "@ray.remote(num_gpus=1)\ndef coordinator(i):\n"
        "    return sum(ray.get([gpu_child.remote(j) for j in range(2)]))\n\n\n"
        "coordinator_refs = [coordinator.remote(i) for i in range(N_FAKE_GPUS)]\n",
        # No deadlock, but no GPU children either: the coordinator does the work itself.
        "@ray.remote\ndef coordinator(i):\n    return sum(range(2))\n\n\n"
        "coordinator_refs = [coordinator.remote(i) for i in range(N_FAKE_GPUS)]\n",
    ],
    "04.stream": [
        # Every ref taken first: the follow-ups start only once the generator has ended.
        "@ray.remote\ndef slow_squares(n):\n    for i in range(n):\n"
        "        time.sleep(STEP_S)\n        yield i * i\n\n\n"
        "stream = slow_squares.remote(N_STREAM)\n"
        "every_ref = list(stream)\n"
        "doubled = [double.remote(ref) for ref in every_ref]\n",
        # A plain task that returns the whole list: nothing streams.
        "@ray.remote\ndef slow_squares(n):\n    squares = []\n    for i in range(n):\n"
        "        time.sleep(STEP_S)\n        squares.append(i * i)\n    return squares\n\n\n"
        "stream = slow_squares.remote(N_STREAM)\n"
        "doubled = [double.remote(x) for x in ray.get(stream)]\n",
        # num_returns set on a generator: a list of refs, all ready only at the task's end.
        "@ray.remote\ndef slow_squares(n):\n    for i in range(n):\n"
        "        time.sleep(STEP_S)\n        yield i * i\n\n\n"
        "stream = slow_squares.options(num_returns=N_STREAM).remote(N_STREAM)\n"
        "doubled = [double.remote(ref) for ref in stream]\n",
    ],
    "04.gpu-share": [
        # The class as it is: a whole GPU each, so half of them wait for one.
        "embedders = [Embedder.remote() for _ in range(2 * N_FAKE_GPUS)]\n",
        # A quarter each: they fit, but four to a GPU, not two.
        "embedders = [Embedder.options(num_gpus=0.25).remote() for _ in range(2 * N_FAKE_GPUS)]\n",
        # No GPU at all: nothing to share.
        "embedders = [Embedder.options(num_gpus=0).remote() for _ in range(2 * N_FAKE_GPUS)]\n",
        # Half a GPU each, but one actor per GPU: half the GPUs' room left unused.
        "embedders = [Embedder.options(num_gpus=0.5).remote() for _ in range(N_FAKE_GPUS)]\n",
    ],
    "04.serve-gpu-share": [
        # The class as it is, one replica per GPU: whole GPUs, and half the replicas.
        "embedder_handle = serve.run(\n"
        "    EmbedderService.options(num_replicas=N_FAKE_GPUS).bind(),\n"
        "    name='embedder', route_prefix=None,\n"
        ")\n",
        # A quarter each: they fit, but four to a GPU, not two.
        "shared = EmbedderService.options(\n"
        "    num_replicas=2 * N_FAKE_GPUS, ray_actor_options={'num_gpus': 0.25, 'num_cpus': 0}\n"
        ")\n"
        "embedder_handle = serve.run(shared.bind(), name='embedder', route_prefix=None)\n",
        # The GPU left out of the options that replace the decorator's: nothing to share.
        "shared = EmbedderService.options(\n"
        "    num_replicas=2 * N_FAKE_GPUS, ray_actor_options={'num_cpus': 0}\n"
        ")\n"
        "embedder_handle = serve.run(shared.bind(), name='embedder', route_prefix=None)\n",
    ],
}
