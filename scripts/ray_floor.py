"""What Ray's libraries cost with no work on this machine, and lessons' seconds split by it.

    python scripts/ray_floor.py measure floor.json          # each call with no work (a minute here)
    python scripts/ray_floor.py split floor.json RUN.json   # RUN.json: `raykit run`'s report

``measure`` starts a cluster with ``raykit.init()`` and times, twice each, the calls the runner
times in a lesson (raykit/_timing.py ``LIBRARY_CALLS``) doing no work: a Train ``fit`` of one
worker whose loop returns at once, a Tune ``fit`` of one trial that reports once, Serve's
``start`` and a ``run`` of a deployment that answers nothing, RLlib's ``build_algo`` of a PPO
with one env runner. The least of the two is the call's floor: what Ray spends on its own before
a lesson's work, its actors and processes started and stopped.

``split`` reads the runner's report and gives each lesson's seconds as Ray's start (the kit's
``raykit.init`` and MiniCluster nodes), the libraries' floor (each call's floor, at most what the
call took), the work inside the library calls, and the rest (the lesson's own Python, its tasks,
actors and Ray Data, its checks and waits). RLlib's ``train`` has no floor: an iteration is work.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPEATS = 2


@dataclass
class Split:
    """One lesson's seconds, in parts that add up to them."""

    notebook: str
    seconds: float
    ray_start: float
    library_floor: float
    library_work: float

    @property
    def rest(self) -> float:
        return round(self.seconds - self.ray_start - self.library_floor - self.library_work, 2)

    @property
    def fixed(self) -> float:
        """Ray's own fixed cost in this lesson: its start and its libraries' floor."""
        return round(self.ray_start + self.library_floor, 2)


def split(results: list[dict], floor: dict[str, float]) -> list[Split]:
    """Each runner result (``NotebookResult`` as JSON) split by the floor of its library calls."""
    rows = []
    for result in results:
        library = fixed = 0.0
        for label, (calls, seconds) in result.get("library_calls", {}).items():
            library += seconds
            fixed += min(seconds, calls * floor.get(label, 0.0))
        rows.append(
            Split(
                notebook=Path(result["notebook"]).name,
                seconds=result["seconds"],
                ray_start=result.get("ray_start_seconds", 0.0),
                library_floor=round(fixed, 2),
                library_work=round(library - fixed, 2),
            )
        )
    return rows


def table(rows: list[Split]) -> str:
    """The split as a plain-text table with a total line."""
    head = f"{'lesson':<24} {'seconds':>8} {'ray start':>10} {'lib floor':>10} {'lib work':>9}"
    lines = [f"{head} {'rest':>8} {'Ray fixed':>10}"]
    for r in [*rows, _total(rows)]:
        share = f"{100 * r.fixed / r.seconds:.0f}%" if r.seconds else "-"
        lines.append(
            f"{r.notebook:<24} {r.seconds:8.1f} {r.ray_start:10.1f} {r.library_floor:10.1f} "
            f"{r.library_work:9.1f} {r.rest:8.1f} {r.fixed:7.1f} {share:>4}"
        )
    return "\n".join(lines)


def _total(rows: list[Split]) -> Split:
    return Split(
        "total",
        round(sum(r.seconds for r in rows), 2),
        round(sum(r.ray_start for r in rows), 2),
        round(sum(r.library_floor for r in rows), 2),
        round(sum(r.library_work for r in rows), 2),
    )


def measure(repeats: int = REPEATS) -> dict[str, list[float]]:
    """``{label: [seconds of each call]}`` for each library call doing no work, on one cluster."""
    import raykit

    times: dict[str, list[float]] = {}

    def timed(label, call):
        began = time.perf_counter()
        value = call()
        times.setdefault(label, []).append(round(time.perf_counter() - began, 2))
        print(f"{label:<12} {times[label][-1]:6.1f} s", flush=True)
        return value

    raykit.init(log_to_driver=False)
    try:
        with tempfile.TemporaryDirectory(prefix="raykit-floor-") as storage:
            for _ in range(repeats):
                _train(timed, storage)
                _tune(timed, storage)
                _serve(timed)
                _rllib(timed)
    finally:
        raykit.shutdown()
    return times


def _train(timed, storage: str) -> None:
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    def loop():
        return None

    run = RunConfig(storage_path=storage)
    trainer = TorchTrainer(loop, scaling_config=ScalingConfig(num_workers=1), run_config=run)
    timed("Train fit", trainer.fit)


def _tune(timed, storage: str) -> None:
    from ray import tune

    def trainable(config):
        return {"score": 1.0}

    run = tune.RunConfig(storage_path=storage, verbose=0)
    timed("Tune fit", tune.Tuner(trainable, run_config=run).fit)


def _serve(timed) -> None:
    from ray import serve

    import raykit

    @serve.deployment(num_replicas=1)
    class Nothing:
        def __call__(self, request) -> str:
            return ""

    http = {"host": "127.0.0.1", "port": raykit.free_port()}
    timed("Serve start", lambda: serve.start(http_options=http))
    try:
        timed("Serve run", lambda: serve.run(Nothing.bind(), name="floor", route_prefix="/f"))
    finally:
        serve.shutdown()


def _rllib(timed) -> None:
    from ray.rllib.algorithms.ppo import PPOConfig

    config = PPOConfig().environment("CartPole-v1").env_runners(num_env_runners=1)
    algo = timed("RLlib build", config.build_algo)
    algo.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    measure_cmd = commands.add_parser("measure", help="time each library call with no work")
    measure_cmd.add_argument("floor", type=Path, help="JSON to write: {label: [seconds, ...]}")
    split_cmd = commands.add_parser("split", help="split a runner report's seconds by the floor")
    split_cmd.add_argument("floor", type=Path, help="what `measure` wrote")
    split_cmd.add_argument("report", type=Path, nargs="+", help="raykit run's JSON report(s)")
    args = parser.parse_args(argv)
    if args.command == "measure":
        times = measure()
        args.floor.write_text(json.dumps(times, indent=2) + "\n")
        print(f"floor (least of {REPEATS}) in {args.floor}:")
        for label, seconds in times.items():
            print(f"  {label:<12} {min(seconds):6.1f} s")
        return 0
    floor = {label: min(seconds) for label, seconds in json.loads(args.floor.read_text()).items()}
    results = [r for report in args.report for r in json.loads(report.read_text())]
    print(table(split(results, floor)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
