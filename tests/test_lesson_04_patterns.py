"""Lesson 04 (patterns): the figures and outcomes it prints, and the checks its exercises use.

The first test reads the executed copy (run once per session in small mode by the ``executed``
fixture); measured figures are asserted to be printed, never to fall in a range. The others run
each check of the lesson's exercises on a right, a wrong and a blank answer, on a small cluster
that pretends to have two GPUs.
"""

from __future__ import annotations

import dataclasses
import re
import time

import nbformat
import pytest
import ray
from _tiers import starts_ray
from ray import serve

import raykit
from raykit import check
from raykit._serve import running_replicas
from raykit.check import CheckFailed

TICK = "\u2713"


def test_04_patterns_prints_its_measurements_and_verdicts(executed):
    text = executed.text("04_patterns.ipynb")

    # Batching: a prediction first, the speed-up, the sweep's level-off point by its rule, a chart.
    assert re.search(r"Prediction\('1,000 tiny items on \d+ CPUs: how many times faster", text)
    assert re.search(r"one task each took [\d.]+ s, chunks of \d+ took [\d.]+ s: batching", text)
    assert re.search(r"batching is [\d.]+x faster", text)
    assert re.search(r"No prediction made\. Measured: [\d.]+x\. The right choice was 'about", text)
    assert re.search(r"chunk_size\s+tasks\s+chunks_ms", text), "the sweep's table is printed"
    assert re.search(
        r"the time levels off at chunks of [\d,]+ items: the smallest chunk size within 10% of "
        r"the best",
        text,
    )
    nb = nbformat.read(executed("04_patterns.ipynb").output, as_version=4)
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the chunk-size sweep is plotted"

    # The exercises, each solution typed in (tests/_lessons.py): graded as the learner's.
    for exercise in (
        "04.batch",
        "04.back-pressure",
        "04.stream",
        "04.coordinator",
        "04.gpu-share",
        "04.serve-gpu-share",
    ):
        assert f"{TICK} {exercise}: solved by you." in text
    assert f"{TICK} Ray ran 10 tasks of square_chunk for `chunk_refs`, one per chunk" in text
    assert f"{TICK} `squares` is right." in text
    assert re.search(r"at most [23] of the 6 tasks in `throttled_refs` were in flight", text)
    assert f"{TICK} `throttled_results` holds the right 6 items." in text
    assert "the 2 tasks in `coordinator_refs` finished holding no GPU" in text
    assert re.search(
        r"Ray ran slow_squares once, as one generator task of [\d.]+ s; the first task in "
        r"`doubled` was created [\d.]+ s before it ended, and the 5 follow-ups returned",
        text,
    )
    assert (
        "the 4 actors in `embedders` each hold 0.5 GPU (Ray's record), 2 to a GPU by the ids "
        "ray.get_gpu_ids() gives in each: GPU 0: 2 actors, GPU 1: 2 actors." in text
    )

    # Pipelining with ray.wait.
    assert re.search(r"finished in order:  \[[\d, ]+\]", text)
    assert re.search(r"saved -?[\d.]+ s of [\d.]+ s \([\d.]+x\)", text)

    # Streaming: the items arrive one by one, the first long before Ray recorded the task's end.
    _streaming_figures(text)
    _queue_figures(text)

    # Nested tasks: the CPU case's observed verdict; the GPU case hangs, is cancelled, is fixed.
    assert re.search(r"\d+ of \d+ parents finished on \d+ CPUs", text)
    assert re.search(r"verdict: (no deadlock\. While a task waits|\d+ parents are stuck)", text)
    assert re.search(r"after \d+ s: 0 of \d+ GPU parents finished", text)
    assert "verdict: stuck: a deadlock" in text
    assert "parents: ['cancelled', 'cancelled']" in text
    assert "GPUs free again: 2 of 2" in text
    assert "coordinators finished with sums [1, 1]" in text

    # Fractional GPUs: two half-GPU actors to each id, one more waits, and the GPUs come back.
    _gpu_figures(text)

    # Serialization: state lost silently, then kept; caught by a round-trip test.
    assert "in a task: latency: n=0, total=0.0" in text
    assert "in a task: latency: n=3, total=6.0" in text
    assert "RunningStats: LOSES {'n': (3, 0), 'total': (6.0, 0.0)}" in text
    assert "FixedStats: survives the round trip" in text
    assert "TypeError: Could not serialize the argument" in text
    assert "serializable: False" in text

    # When not to use Ray: the table, and the crossover verdict computed from it.
    assert re.search(r"work_size\s+loop_ms\s+processes_ms\s+ray_ms", text)
    assert re.search(
        r"verdict: Ray (never beat the plain loop at the sizes measured here|beats the plain "
        r"loop from a work size of [\d,]+ per item up)",
        text,
    )
    assert re.search(r"the process pool beat Ray at \d+ of \d+ sizes", text)


N_STREAM, STEP_S = 5, 0.1  # the lesson's sizes in small mode


def _streaming_figures(text: str) -> None:
    assert re.search(r"ObjectRefGenerator back from \.remote\(\) after [\d.]+ s", text)
    arrived = [
        (int(item), float(s))
        for item, s in re.findall(r"item +(\d+) arrived after ([\d.]+) s", text)
    ]
    assert [item for item, _ in arrived] == [i * i for i in range(N_STREAM)]
    times = [s for _, s in arrived]
    assert times == sorted(times), "one after the other"
    assert times[0] >= STEP_S - 0.01, "no item before the source's first sleep"
    assert "Ray's record: 1 task, read_streaming, FINISHED, pid" in text
    first, ended = map(
        float,
        re.search(r"first item after ([\d.]+) s; the task ended after ([\d.]+) s", text).groups(),
    )
    assert first == times[0]
    assert ended >= N_STREAM * STEP_S - 0.01, "the task slept N_STREAM times before it ended"
    gap = float(re.search(r"had its first item ([\d.]+) s before the generator ended", text)[1])
    assert abs(gap - (ended - first)) <= 0.011, "the gap is the end less the first arrival"
    assert gap > 0
    plain = re.search(r"a plain task: all (\d+) items at once, after ([\d.]+) s", text)
    assert int(plain[1]) == N_STREAM and float(plain[2]) >= N_STREAM * STEP_S - 0.01


def _queue_figures(text: str) -> None:
    import ast
    import statistics

    assert re.search(r"the first hand-over, as the two actors started: [\d.]+ ms", text)
    got = ast.literal_eval(re.search(r"the collector got, in this order: (\[.*\])", text)[1])
    assert sorted(got) == sorted(f"{p}{i}" for p in "ab" for i in range(N_STREAM))
    for producer in "ab":  # first in, first out: each producer's items in the order it put them
        assert [g for g in got if g[0] == producer] == [f"{producer}{i}" for i in range(N_STREAM)]
    waited = re.search(r"put to get \(ms\): (\[.*\]); median ([\d.]+) ms", text)
    assert f"{statistics.median(ast.literal_eval(waited[1])):.1f}" == waited[2]
    assert re.search(r"actor _QueueActor +ALIVE  pid \d+", text), "the queue is an actor"
    assert re.search(r"actor Collector +ALIVE  pid \d+", text)


def _gpu_figures(text: str) -> None:
    import ast
    import collections
    import glob

    views = [ast.literal_eval(v) for v in re.findall(r"^(\{'pid': .*\})$", text, re.M)]
    assert len(views) == 4
    for view in views:  # one GPU id each, the one CUDA_VISIBLE_DEVICES names
        assert len(view["gpu_ids"]) == 1 and view["CUDA_VISIBLE_DEVICES"] == view["gpu_ids"][0]
    per_id = dict(collections.Counter(v["gpu_ids"][0] for v in views))
    assert per_id == {"0": 2, "1": 2}
    assert f"actors per GPU id: {per_id}" in text
    assert "GPUs free: 0 of 2" in text
    assert "actor 5 after 3 s: PENDING_CREATION" in text
    # After the deadlock, the actors' demo and exercise, Serve's demo and its exercise.
    assert text.count("GPUs free again: 2 of 2") == 5
    devices = glob.glob("/dev/nvidia[0-9]*") or "none"
    assert f"NVIDIA devices on this host: {devices}" in text


def test_04_patterns_places_train_workers_and_serve_replicas_on_logical_gpus(executed):
    import collections

    text = executed.text("04_patterns.ipynb")

    # Ray Train: one worker per GPU, each seeing both GPUs and picking its own by position.
    assert re.search(r"local_rank\s+gpu_ids\s+CUDA_VISIBLE_DEVICES\s+get_device\(\)", text)
    rows = re.findall(r"^(\d+)\s+(\d+)\s+\[(\d+)\]\s+([\d,]+)\s+cuda:(\d+)\s*$", text, re.M)
    assert len(rows) == 2, rows
    assert sorted(int(rank) for rank, *_ in rows) == [0, 1]
    assert sorted(gpu for _, _, gpu, _, _ in rows) == ["0", "1"], "a different GPU each"
    for rank, local_rank, gpu, visible, device in rows:
        assert visible == "0,1", "Ray Train shows each worker every GPU of its node"
        assert local_rank == rank, "one node: the local rank is the world rank"
        assert int(device) == visible.split(",").index(gpu) == int(local_rank)
    assert "Requesting resources: {'GPU': 1} * 2" in text, "use_gpu=True asks for no CPU"

    # Ray Serve: two half-GPU replicas on each GPU, each seeing its own GPU only.
    replicas = re.findall(
        r"replica pid (\d+): asks \{'GPU': 0\.5\}, gpu ids \[(\d+)\], "
        r"CUDA_VISIBLE_DEVICES='([\d,]+)'",
        text,
    )
    assert len(replicas) == 4 and len({pid for pid, _, _ in replicas}) == 4, replicas
    assert all(visible == gpu for _, gpu, visible in replicas)
    per_gpu = collections.Counter(int(gpu) for _, gpu, _ in replicas)
    assert per_gpu == {0: 2, 1: 2}
    assert f"replicas per GPU id: {dict(sorted(per_gpu.items()))}" in text
    assert text.count("GPUs free: 0 of 2") == 2, "the actors' demo, then the replicas'"
    assert (
        f"{TICK} the 4 replicas of EmbedderService behind `embedder_handle` each hold 0.5 GPU "
        "(Ray's record of each replica actor), 2 to a GPU by the ids ray.get_gpu_ids() gives in "
        "each: GPU 0: 2 replicas, GPU 1: 2 replicas." in text
    )


# --- the checks of the lesson's exercises, on a cluster of 2 CPUs and 2 pretend GPUs -----------


@pytest.fixture(scope="module")
@starts_ray
def gpu_cluster():
    session = raykit.init(num_cpus=2, num_gpus=2)
    yield session
    raykit.shutdown()


@ray.remote
def square_chunk(chunk):
    return [x * x for x in chunk]


@ray.remote
def square(x):
    return x * x


@ray.remote(num_returns=2)
def two_halves(chunk):
    return [x * x for x in chunk[:50]], [x * x for x in chunk[50:]]


@ray.remote
def nap(i, seconds=0.3):
    time.sleep(seconds)
    return i


@ray.remote(num_gpus=1, num_cpus=0)
def gpu_child(i):
    time.sleep(0.1)
    return i


@ray.remote
def coordinator(i):
    return sum(ray.get([gpu_child.remote(j) for j in range(2)]))


@ray.remote(num_gpus=1)
def gpu_parent(i):
    return sum(ray.get([gpu_child.remote(j) for j in range(2)]))


@ray.remote
def lonely(i):
    return 1


CHUNKS = [range(i, i + 100) for i in range(0, 300, 100)]
EXPECTED = [[x * x for x in chunk] for chunk in CHUNKS]


def test_tasks_returned_counts_the_tasks_ray_ran(gpu_cluster, capsys):
    refs = [square_chunk.remote(chunk) for chunk in CHUNKS]
    check.tasks_returned(refs, EXPECTED)
    out = capsys.readouterr().out
    assert f"{TICK} Ray ran 3 tasks of square_chunk for your answer, one per chunk" in out


def test_tasks_returned_wrong_answers(gpu_cluster):
    per_number = [square.remote(x) for x in range(300)]
    with pytest.raises(CheckFailed, match="started 300 tasks, and the work is 3 chunks") as info:
        check.tasks_returned(per_number, EXPECTED)
    assert "one task per chunk" in info.value.hint
    put_refs = [ray.put(values) for values in EXPECTED]
    with pytest.raises(CheckFailed, match="made with ray.put"):
        check.tasks_returned(put_refs, EXPECTED)
    one_task = list(two_halves.remote(range(100)))  # 2 refs, 1 task
    with pytest.raises(CheckFailed, match="come from 1 task"):
        check.tasks_returned(one_task, [[0], [1]])
    wrong_values = [square_chunk.remote(range(i, i + 10)) for i in (0, 100, 200)]
    with pytest.raises(CheckFailed, match=re.escape("[0] returned [0, 1, 4")):
        check.tasks_returned(wrong_values, EXPECTED)
    with pytest.raises(CheckFailed, match="not the ObjectRefs"):
        check.tasks_returned(EXPECTED, EXPECTED)  # the values typed in, no task at all


def test_tasks_returned_blank_answer():
    with pytest.raises(CheckFailed, match="`chunk_refs_never_defined` is not defined yet"):
        check.tasks_returned("chunk_refs_never_defined", EXPECTED)


def _throttled(n: int, cap: int, strict: bool = True) -> tuple[list, int]:
    """Run ``n`` naps with at most ``cap`` pending (``strict``) or ``cap + 1`` (waiting only
    when more than ``cap`` are pending); return the refs and the peak the driver itself saw."""
    refs, pending, peak = [], [], 0
    for i in range(n):
        if len(pending) >= cap + (0 if strict else 1):
            _, pending = ray.wait(pending, num_returns=1)
        ref = nap.remote(i, 0.2)
        refs.append(ref)
        pending.append(ref)
        peak = max(peak, len(pending))
    ray.get(refs)
    return refs, peak


def test_in_flight_at_most_passes_a_cap_and_reports_its_peak(gpu_cluster, capsys):
    refs, driver_peak = _throttled(6, cap=2)
    check.in_flight_at_most(refs, limit=2)
    out = capsys.readouterr().out
    # Ray's records agree with the driver's own count of pending refs.
    assert f"at most {driver_peak} of the 6 tasks in your answer were in flight at once" in out


def test_in_flight_at_most_wrong_answers(gpu_cluster):
    all_at_once = [nap.remote(i, 0.2) for i in range(6)]
    ray.get(all_at_once)
    with pytest.raises(CheckFailed, match="at one moment 6 of the tasks"):
        check.in_flight_at_most(all_at_once, limit=3)
    one_past, driver_peak = _throttled(6, cap=2, strict=False)  # `>` where `>=` was meant
    assert driver_peak == 3
    with pytest.raises(CheckFailed, match="at one moment 3 of the tasks") as info:
        check.in_flight_at_most(one_past, limit=2)
    assert "not > 2" in info.value.hint
    one_by_one = []
    for i in range(4):
        one_by_one.append(nap.remote(i, 0.05))
        ray.get(one_by_one[-1])
    with pytest.raises(CheckFailed, match="ran one at a time"):
        check.in_flight_at_most(one_by_one, limit=3)
    with pytest.raises(CheckFailed, match="holds 2 refs; the exercise needs more than 3 tasks"):
        check.in_flight_at_most(all_at_once[:2], limit=3)


def test_in_flight_at_most_blank_and_bad_limit():
    with pytest.raises(CheckFailed, match="not defined yet"):
        check.in_flight_at_most("throttled_never_defined", limit=3)
    with pytest.raises(raykit.ConfigError, match="limit=1"):
        check.in_flight_at_most([], limit=1)


def test_nested_without_holding_passes_coordinators_that_hold_no_gpu(gpu_cluster, capsys):
    refs = [coordinator.remote(i) for i in range(2)]
    check.nested_without_holding(refs, resource="GPU", timeout_s=120)
    out = capsys.readouterr().out
    assert "the 2 tasks in your answer finished holding no GPU; Ray recorded 4 child" in out
    assert ray.get(refs) == [1, 1]


def test_nested_without_holding_counts_a_child_whose_record_comes_late(
    gpu_cluster, monkeypatch, capsys
):
    """On a loaded host a worker reports its task events seconds late: CI's check once said
    "Ray recorded 3 child tasks" of 4. One coordinator's record and one of its children's are
    held back 4 s here; the check waits for as many children as that record says it started."""
    import ray.util.state

    refs = [coordinator.remote(i) for i in range(2)]
    assert ray.get(refs) == [1, 1]
    late_parent = refs[0].task_id().hex()
    real_list_tasks = ray.util.state.list_tasks
    shown_after = time.monotonic() + 4.0

    def one_child_late(*args, filters=(), **kwargs):
        rows = real_list_tasks(*args, filters=filters, **kwargs)
        if time.monotonic() < shown_after:
            if ("task_id", "=", late_parent) in filters:  # its worker's events not in yet
                return [dataclasses.replace(row, profiling_data=None) for row in rows]
            if ("parent_task_id", "=", late_parent) in filters:
                return rows[1:]
        return rows

    monkeypatch.setattr(ray.util.state, "list_tasks", one_child_late)
    check.nested_without_holding(refs, resource="GPU", timeout_s=120)
    out = capsys.readouterr().out
    assert "Ray recorded 4 child tasks" in out, out


def test_nested_without_holding_fails_gpu_parents_and_frees_their_gpus(gpu_cluster):
    refs = [gpu_parent.remote(i) for i in range(2)]
    with pytest.raises(
        CheckFailed, match="each gpu_parent task in your answer holds 1 GPU"
    ) as info:
        check.nested_without_holding(refs, resource="GPU", timeout_s=120)
    assert "leave num_gpus out" in info.value.hint
    assert "cancelled" in info.value.problem
    assert ray.available_resources().get("GPU", 0) == 2, "the check gave the GPUs back"
    for ref in refs:
        with pytest.raises(ray.exceptions.TaskCancelledError):
            ray.get(ref, timeout=60)


def test_nested_without_holding_fails_tasks_without_gpu_children(gpu_cluster):
    refs = [lonely.remote(i) for i in range(2)]
    with pytest.raises(CheckFailed, match="started no child task that holds a GPU"):
        check.nested_without_holding(refs, resource="GPU", timeout_s=60)


def test_nested_without_holding_blank_and_bad_arguments():
    with pytest.raises(CheckFailed, match="not defined yet"):
        check.nested_without_holding("coordinators_never_defined")
    with pytest.raises(raykit.ConfigError, match="timeout_s=0"):
        check.nested_without_holding([], timeout_s=0)
    with pytest.raises(raykit.ConfigError, match="resource=''"):
        check.nested_without_holding([], resource="")


# --- streaming generators and shared GPUs (04.stream, 04.gpu-share) -----------------------------


@ray.remote
def slow_gen(n, seconds=0.15):
    for i in range(n):
        time.sleep(seconds)
        yield i * i


@ray.remote
def double(x):
    return 2 * x


@ray.remote
def all_at_once(n):
    return [i * i for i in range(n)]


DOUBLED = [2 * i * i for i in range(4)]


def test_streamed_passes_follow_ups_started_as_items_arrive(gpu_cluster, capsys):
    start = time.time()
    stream = slow_gen.remote(4)
    refs, created = [], []
    for ref in stream:
        refs.append(double.remote(ref))
        created.append(time.time())
    check.streamed(stream, refs, DOUBLED)
    out = capsys.readouterr().out
    match = re.search(
        r"Ray ran slow_gen once, as one generator task of ([\d.]+) s; the first task in your "
        r"answer was created ([\d.]+) s before it ended, and the 4 follow-ups returned",
        out,
    )
    assert match, out
    ran_s, ahead_s = map(float, match.groups())
    # The driver's own clock agrees with Ray's records: the task slept 4 x 0.15 s, and the first
    # follow-up came after one sleep, three sleeps before the end.
    assert ran_s >= 4 * 0.15 - 0.01
    assert ahead_s >= 3 * 0.15 - 0.05
    assert created[0] - start < created[-1] - start - 2 * 0.15


def test_streamed_fails_follow_ups_started_after_the_stream_ended(gpu_cluster):
    stream = slow_gen.remote(4)
    every_ref = list(stream)  # waits for the generator's end
    refs = [double.remote(ref) for ref in every_ref]
    with pytest.raises(CheckFailed, match=r"s after the generator task behind your answer ended"):
        check.streamed(stream, refs, DOUBLED)


def test_streamed_fails_what_is_not_one_generator_task(gpu_cluster):
    one_ref = all_at_once.remote(4)
    with pytest.raises(CheckFailed, match="is one ObjectRef: a task that returns all its items"):
        check.streamed(one_ref, [double.remote(x) for x in ray.get(one_ref)], DOUBLED)
    fixed = slow_gen.options(num_returns=4).remote(4)
    with pytest.raises(CheckFailed, match="a list of 4 ObjectRefs") as info:
        check.streamed(fixed, [double.remote(r) for r in fixed], DOUBLED)
    assert "no num_returns" in info.value.hint
    with pytest.raises(CheckFailed, match="a list, not the ObjectRefGenerator"):
        check.streamed([0, 1, 4, 9], [], DOUBLED)


def test_streamed_fails_wrong_follow_ups(gpu_cluster):
    stream = slow_gen.remote(4, 0.01)
    own_refs = list(stream)
    with pytest.raises(CheckFailed, match="refs the generator itself yielded"):
        check.streamed(stream, own_refs, DOUBLED)
    stream = slow_gen.remote(4, 0.01)
    squares = [square.remote(ref) for ref in stream]  # square, not double
    with pytest.raises(CheckFailed, match=re.escape("[1] returned 1, not 2")):
        check.streamed(stream, squares, DOUBLED)
    stream = slow_gen.remote(4, 0.01)
    with pytest.raises(CheckFailed, match="holds 3 refs; the stream has 4 items"):
        check.streamed(stream, [double.remote(ref) for ref in stream][:3], DOUBLED)
    with pytest.raises(CheckFailed, match="values, not the ObjectRefs"):
        check.streamed(slow_gen.remote(2, 0.01), [0, 2], [0, 2])


def test_streamed_blank_answer():
    with pytest.raises(CheckFailed, match="`stream_never_defined` is not defined yet"):
        check.streamed("stream_never_defined", "doubled_never_defined", DOUBLED)


@ray.remote(num_gpus=1, num_cpus=0)
class Model:
    def gpu_ids(self):
        return [str(g) for g in ray.get_gpu_ids()]


def _gpus_free_again() -> None:
    raykit.wait_until(
        lambda: ray.available_resources().get("GPU", 0) == 2,
        timeout_s=60,
        what="the test actors' GPUs coming back",
    )


def test_gpus_shared_passes_two_actors_to_each_gpu(gpu_cluster, capsys):
    actors = [Model.options(num_gpus=0.5).remote() for _ in range(4)]
    try:
        check.gpus_shared(actors, count=4, per_gpu=2)
        out = capsys.readouterr().out
        # The actors' own answer, asked through their method, gives the same sharing.
        ids = [g for gpus in ray.get([a.gpu_ids.remote() for a in actors]) for g in gpus]
        shared = ", ".join(f"GPU {g}: {ids.count(g)} actors" for g in sorted(set(ids)))
        assert shared == "GPU 0: 2 actors, GPU 1: 2 actors"
        assert (
            "the 4 actors in your answer each hold 0.5 GPU (Ray's record), 2 to a GPU by the "
            f"ids ray.get_gpu_ids() gives in each: {shared}." in out
        )
    finally:
        for actor in actors:
            ray.kill(actor)
        _gpus_free_again()


@pytest.mark.parametrize(
    "options, count, problem",
    [
        ({}, 4, "ask for 1 GPU each"),
        ({"num_gpus": 0.25}, 4, "ask for 0.25 GPU each"),
        ({"num_gpus": 0}, 4, "4 of the actors in your answer ask for no GPU"),
        ({"num_gpus": 0.5}, 2, "holds 2 actors; the exercise starts 4"),
        # A CPU each, for life, on a cluster of 2 CPUs: only two of the four could run.
        ({"num_gpus": 0.5, "num_cpus": 1}, 4, "ask for 4 CPUs in all, held for their whole life"),
    ],
)
def test_gpus_shared_wrong_answers_fail_and_stop_the_actors(gpu_cluster, options, count, problem):
    actors = [Model.options(**options).remote() for _ in range(count)]
    with pytest.raises(CheckFailed, match=re.escape(problem)) as info:
        check.gpus_shared(actors, count=4, per_gpu=2)
    assert "The check stopped these actors" in info.value.problem
    assert "num_gpus=0.5" in info.value.hint
    for actor in actors:
        assert raykit.wait_for_actor(actor, "DEAD", timeout_s=30).state == "DEAD"
    _gpus_free_again()


def test_gpus_shared_fails_actors_that_find_no_gpu_free(gpu_cluster, monkeypatch):
    monkeypatch.setattr(check, "_ACTOR_WAIT_S", 3.0)
    holder = Model.remote()  # keeps one GPU, so only two of the four halves fit
    ray.get(holder.gpu_ids.remote())
    actors = [Model.options(num_gpus=0.5).remote() for _ in range(4)]
    # Wait for the two that fit to be up (a worker start can take longer than the check's
    # shortened wait on a loaded host), so exactly the two without a GPU are left pending.
    ray.wait([a.gpu_ids.remote() for a in actors], num_returns=2, timeout=120)
    try:
        with pytest.raises(CheckFailed, match="2 of the actors in your answer were not running"):
            check.gpus_shared(actors, count=4, per_gpu=2)
    finally:
        ray.kill(holder)
        _gpus_free_again()


def test_gpus_shared_blank_and_bad_arguments():
    with pytest.raises(CheckFailed, match="not defined yet"):
        check.gpus_shared("embedders_never_defined", count=4)
    with pytest.raises(CheckFailed, match="holds an actor class, not actors"):
        check.gpus_shared([Model], count=1)
    with pytest.raises(CheckFailed, match="not a list of actor handles"):
        check.gpus_shared([1, 2], count=2)
    with pytest.raises(raykit.ConfigError, match="count=0"):
        check.gpus_shared([], count=0)
    with pytest.raises(raykit.ConfigError, match="per_gpu=1"):
        check.gpus_shared([], count=2, per_gpu=1)


# --- Serve replicas on shared GPUs (04.serve-gpu-share) -----------------------------------------


@serve.deployment(ray_actor_options={"num_gpus": 1, "num_cpus": 0})
class Served:
    def __call__(self) -> list[str]:
        return [str(g) for g in ray.get_gpu_ids()]


@pytest.fixture(scope="module")
def serve_on_gpus(gpu_cluster):
    # As in the lesson: handles only, so no HTTP proxy and no port to race for.
    serve.start(proxy_location="Disabled", logging_config={"log_level": "WARNING"})
    yield
    serve.shutdown()
    _gpus_free_again()


def _deploy(app: str, wait: bool = True, **options):
    """Deploy ``Served`` with ``options`` as ``app``; without ``wait``, return at once, as
    serve.run does not when a replica cannot be placed."""
    target = serve.RunTarget(Served.options(**options).bind(), name=app, route_prefix=None)
    return serve.run_many([target], wait_for_applications_running=wait)[0]


def test_serve_gpus_shared_passes_two_replicas_to_each_gpu(serve_on_gpus, capsys):
    handle = _deploy("shared", num_replicas=4, ray_actor_options={"num_gpus": 0.5, "num_cpus": 0})
    try:
        check.serve_gpus_shared(handle, count=4, per_gpu=2)
        out = capsys.readouterr().out
        # The replicas' own answers, through Serve's router, give the same sharing.
        seen = {tuple(handle.remote().result()) for _ in range(40)}
        assert seen == {("0",), ("1",)}
        assert (
            "the 4 replicas of Served behind your answer each hold 0.5 GPU (Ray's record of each "
            "replica actor), 2 to a GPU by the ids ray.get_gpu_ids() gives in each: GPU 0: 2 "
            "replicas, GPU 1: 2 replicas." in out
        )
    finally:
        serve.delete("shared")
        _gpus_free_again()


@pytest.mark.parametrize(
    "options, problem",
    [
        # The class as it is: a whole GPU each, so two of the four cannot be placed.
        ({"num_replicas": 4}, "ask for 1 GPU each"),
        ({"num_replicas": 4, "ray_actor_options": {"num_cpus": 0}}, "4 of the replicas of Served"),
        # Half a GPU each, but one replica per GPU.
        (
            {"num_replicas": 2, "ray_actor_options": {"num_gpus": 0.5, "num_cpus": 0}},
            "Served runs 2 replicas; the exercise serves 4",
        ),
        (
            {"num_replicas": 4, "ray_actor_options": {"num_gpus": 0.25, "num_cpus": 0}},
            "ask for 0.25 GPU each",
        ),
        # ray_actor_options replace the decorator's: Serve's default of 1 CPU a replica is back.
        (
            {"num_replicas": 4, "ray_actor_options": {"num_gpus": 0.5}},
            "ask for 4 CPUs in all, held for their whole life",
        ),
    ],
    ids=["whole-gpu", "no-gpu", "one-per-gpu", "quarter-gpu", "a-cpu-each"],
)
def test_serve_gpus_shared_wrong_answers_fail_and_delete_the_app(serve_on_gpus, options, problem):
    handle = _deploy("wrong", wait=False, **options)
    with pytest.raises(CheckFailed, match=re.escape(problem)) as info:
        check.serve_gpus_shared(handle, count=4, per_gpu=2)
    assert "The check deleted application 'wrong'" in info.value.problem
    expected_hint = "'num_cpus': 0" if "CPUs" in problem else "replicas of 0.5 GPU each"
    assert expected_hint in info.value.hint
    assert "wrong" not in serve.status().applications
    _gpus_free_again()


def test_serve_gpus_shared_fails_replicas_that_find_no_gpu_free(serve_on_gpus, monkeypatch):
    monkeypatch.setattr(check, "_ACTOR_WAIT_S", 3.0)
    holder = Model.remote()  # keeps one GPU, so only two of the four halves fit
    ray.get(holder.gpu_ids.remote())
    options = {"num_replicas": 4, "ray_actor_options": {"num_gpus": 0.5, "num_cpus": 0}}
    handle = _deploy("crowded", wait=False, **options)
    # Wait for the two that fit, so exactly the two without a GPU are left pending.
    raykit.wait_until(
        lambda: running_replicas("crowded", "Served") == 2, timeout_s=120, what="two replicas"
    )
    try:
        with pytest.raises(CheckFailed, match="2 of the replicas of Served behind your answer"):
            check.serve_gpus_shared(handle, count=4, per_gpu=2)
        assert "crowded" not in serve.status().applications
    finally:
        ray.kill(holder)
        _gpus_free_again()


def test_serve_gpus_shared_blank_and_bad_arguments(serve_on_gpus):
    with pytest.raises(CheckFailed, match="`embedder_handle_never_defined` is not defined yet"):
        check.serve_gpus_shared("embedder_handle_never_defined", count=4)
    with pytest.raises(CheckFailed, match="is a Application, not the DeploymentHandle"):
        check.serve_gpus_shared(Served.bind(), count=4)  # bound, never run
    handle = _deploy("gone", num_replicas=1, ray_actor_options={"num_gpus": 0.5, "num_cpus": 0})
    serve.delete("gone")
    with pytest.raises(CheckFailed, match="Serve runs no application 'gone'"):
        check.serve_gpus_shared(handle, count=1)
    with pytest.raises(raykit.ConfigError, match="count=0"):
        check.serve_gpus_shared(handle, count=0)
    with pytest.raises(raykit.ConfigError, match="per_gpu=1"):
        check.serve_gpus_shared(handle, count=2, per_gpu=1)
    _gpus_free_again()
