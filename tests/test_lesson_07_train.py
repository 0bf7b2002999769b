"""Lesson 07 (Ray Train): the figures and outcomes it prints, and the checks its exercises use.

The first tests read the executed copy (run once per session in small mode by the ``executed``
fixture); measured figures are asserted to be printed, never to fall in a range. The others run
each check of the lesson's exercises on a right, a wrong and a blank answer, built from real Ray
Train objects (``Result``, ``Checkpoint``) without a training run, and ``raykit.ReportLog`` the
way Train's controller drives it.
"""

from __future__ import annotations

import json
import pickle
import re
from types import SimpleNamespace

import pytest
import torch

from raykit import check
from raykit._train import ReportLog, TrainFailure, TrainReport
from raykit.check import CheckFailed
from raykit.exceptions import ConfigError

TICK = "\u2713"
LESSON = "07_train.ipynb"


# --- the executed lesson ------------------------------------------------------------------------


def test_07_train_passes_its_exercises_and_observes_its_prediction(executed):
    text = executed.text(LESSON)
    # Each solution typed in (tests/_lessons.py): graded as the learner's.
    for exercise in ("07.gpu-scaling", "07.local-run", "07.fit", "07.best-model", "07.crash"):
        assert f"{TICK} {exercise}: solved by you." in text, exercise
    assert re.search(
        r"`local_result` ran in this process \(local mode\) and reported epoch 0: "
        r"rows=1500, rank=0, world_size=1",
        text,
    )
    workers = int(re.search(r"(\d+) training workers, each reserving", text).group(1))
    assert re.search(rf"`result`: \d+ rounds of reports from {workers} workers", text)
    # Under the runner nobody predicts; observe() still prints what rank 0 trained on.
    rows = re.search(r"No prediction made\. Measured: (\d+)\. The right choice was", text)
    assert rows, "the shard prediction is observed"
    printed = re.findall(r"^rank (\d+) of world size (\d+): (\d+) rows", text, re.M)
    assert len(printed) == workers and {int(w) for _, w, _ in printed} == {workers}
    assert int(rows.group(1)) == int(printed[0][2]), "the observed figure is rank 0's rows"
    assert sum(int(r) for _, _, r in printed) == 1500, "the shards cover the rows once"


def test_07_train_prints_where_the_run_time_went(executed):
    text = executed.text(LESSON)
    assert re.search(r"Ray Train run: [\d.]+ s for \d+ epochs on \d+ workers", text)
    assert re.search(r"of which start-up, before the first epoch began: -?[\d.]+ s", text)
    epoch = re.search(r"one epoch \(mean after the first\): ([\d.]+) s =", text)
    parts = re.findall(
        r"^ +(-?[\d.]+) s (computing|waiting for data|reporting the checkpoint)$", text, re.M
    )
    assert epoch and len(parts) == 3
    assert abs(sum(float(s) for s, _ in parts) - float(epoch.group(1))) < 0.02, "parts add up"
    largest = re.search(r"largest part: (.+)$", text, re.M).group(1)
    assert largest == max(parts, key=lambda p: float(p[0]))[1]
    assert re.search(r"plain PyTorch, one process: [\d.]+ s, held-out accuracy", text)
    assert re.search(r"Ray Train took \d+x as long on this data", text)


def test_07_train_scores_the_best_checkpoint_on_held_out_data(executed):
    text = executed.text(LESSON)
    assert f"{TICK} `best_model` holds the weights of the best checkpoint" in text
    accuracy = re.search(r"^held-out accuracy: (0\.\d+|1\.0+)", text, re.M)
    assert accuracy, "the lesson prints the held-out accuracy of its best checkpoint"
    assert float(accuracy.group(1)) > 0.5, "far better than chance (0.10)"


def test_07_train_crashes_once_and_resumes_from_a_checkpoint(executed):
    text = executed.text(LESSON)
    attempts = re.findall(r"^attempt (\d+): ran epochs \[([\d, ]*)\]", text, re.M)
    assert len(attempts) == 2, f"one crash, one restart: {attempts}"
    first = [int(e) for e in attempts[0][1].split(",") if e.strip()]
    second = [int(e) for e in attempts[1][1].split(",") if e.strip()]
    assert first[0] == 0 and second[0] > 0, "the second attempt resumed, not from scratch"
    assert second[0] - 1 in first, "it resumed right after a checkpoint of the first attempt"
    assert re.search(r"^failure: \{0: '", text, re.M), "rank 0's death reached the controller"
    assert re.search(r"rank 0 died \(\w+\); a new worker group resumed at epoch \d+", text)


def test_07_train_leaves_the_best_model_for_tune_and_serve(executed):
    """digits_train_best.json names a checkpoint that rebuilds a model as good as printed."""
    import numpy as np

    import raykit

    text = executed.text(LESSON)
    written = re.search(r"^wrote (.+digits_train_best\.json)$", text, re.M)
    assert written
    summary = json.loads(open(written.group(1)).read())
    hidden = summary["hyperparameters"]["hidden"]
    model = torch.nn.Sequential(
        torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
    )
    state = torch.load(f"{summary['checkpoint_path']}/{summary['checkpoint_file']}")
    model.load_state_dict(state["model"])
    test = raykit.load_dataset("digits/test")
    x = torch.tensor(np.stack(test["pixels"]), dtype=torch.float32) / 16.0
    with torch.no_grad():
        predicted = model(x).argmax(dim=1).numpy()
    accuracy = float((predicted == test["label"].to_numpy()).mean())
    assert abs(accuracy - summary["held_out_accuracy"]) < 1e-6
    assert state["epoch"] == summary["epoch"]


# --- the checks, on real Ray Train objects ------------------------------------------------------


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


def _checkpoint(folder, epoch: int):
    """A checkpoint folder as the lesson's save_checkpoint writes it (weights of seed=epoch)."""
    from ray.train import Checkpoint

    folder.mkdir(parents=True)
    torch.save({"model": _model(epoch).state_dict(), "epoch": epoch}, folder / "model.pt")
    return Checkpoint.from_directory(str(folder))


def _result(tmp_path, accuracies=(0.5, 0.9, 0.7), path="run", kept=None):
    """A Result of a run that reported these accuracies (one checkpoint per epoch)."""
    from ray.train import Result

    checkpoints = [_checkpoint(tmp_path / f"ckpt_{e}", e) for e in range(len(accuracies))]
    metrics = [{"epoch": e, "accuracy": a, "rank": 0} for e, a in enumerate(accuracies)]
    kept = range(len(accuracies)) if kept is None else kept
    return Result(
        metrics=metrics[-1],
        checkpoint=checkpoints[-1],
        error=None,
        path=str(tmp_path / path) if path else None,
        best_checkpoints=[(checkpoints[e], metrics[e]) for e in kept],
    )


def _log(events) -> ReportLog:
    """A ReportLog that holds ``events`` without an actor (what the controller would have sent)."""
    log = ReportLog.__new__(ReportLog)
    log._fetch = lambda: list(events)
    return log


def _run(tmp_path, accuracies, kept, workers=2):
    """A run's Result that kept the checkpoints ``kept``, and the rounds of reports it sent."""
    from ray.train import Result

    everything = _result(tmp_path, accuracies)
    reports = [
        TrainReport("run", "a", 10.0 + i, [{**m, "rank": r} for r in range(workers)], c.path)
        for i, (c, m) in enumerate(everything.best_checkpoints)
    ]
    result = Result(
        metrics=everything.metrics,
        checkpoint=everything.checkpoint,
        error=None,
        path=everything.path,
        best_checkpoints=[everything.best_checkpoints[e] for e in kept],
    )
    return result, reports


def test_ran_locally_passes_a_local_mode_result(tmp_path, capsys):
    check.ran_locally(_result(tmp_path, accuracies=(0.8,), path=None), epochs=1)
    assert "ran in this process (local mode) and reported epoch 0" in capsys.readouterr().out


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda p: _result(p, accuracies=(0.8,)), "came from a worker group"),
        (lambda p: _result(p, accuracies=(0.5, 0.8), path=None), "went on past 1 epoch"),
        (lambda p: SimpleNamespace(), "not a Result"),
    ],
)
def test_ran_locally_fails_a_wrong_answer(tmp_path, make, problem):
    with pytest.raises(CheckFailed, match=problem):
        check.ran_locally(make(tmp_path), epochs=1)


def test_ran_locally_names_a_trainer_that_was_never_fitted():
    from ray.train import ScalingConfig
    from ray.train.torch import TorchTrainer

    trainer = TorchTrainer(lambda: None, scaling_config=ScalingConfig(num_workers=0))
    with pytest.raises(CheckFailed, match="is a TorchTrainer, not a Result") as info:
        check.ran_locally(trainer)
    assert "fit()" in info.value.hint


def test_a_blank_answer_gets_a_hint():
    with pytest.raises(CheckFailed, match="is not defined yet"):
        check.ran_locally("local_result_never_defined")
    with pytest.raises(CheckFailed, match="is not defined yet"):
        check.train_run("result_never_defined", _log([]), workers=2)


def test_train_run_passes_a_run_that_kept_the_best_two(tmp_path, capsys):
    result, reports = _run(tmp_path, (0.5, 0.9, 0.7, 0.8), kept=[1, 3])
    check.train_run(result, _log(reports), workers=2, keep=2, metric="accuracy")
    assert "4 rounds of reports from 2 workers (ranks 0 to 1); 2 checkpoints kept" in (
        capsys.readouterr().out
    )


def test_train_run_fails_a_run_that_lost_its_best_checkpoint(tmp_path):
    result, reports = _run(tmp_path, (0.5, 0.9, 0.7, 0.8), kept=[2, 3])  # the last two
    with pytest.raises(CheckFailed, match=r"deleted its best checkpoint by accuracy \(epoch 1"):
        check.train_run(result, _log(reports), workers=2, keep=2, metric="accuracy")


def test_train_run_fails_too_many_checkpoints_the_wrong_world_size_and_no_reports(tmp_path):
    from ray.train.torch import TorchTrainer

    result, reports = _run(tmp_path, (0.5, 0.9, 0.7, 0.8), kept=[0, 1, 2, 3])
    with pytest.raises(CheckFailed, match="kept 4 checkpoints of 4"):
        check.train_run(result, _log(reports), workers=2, keep=2, metric="accuracy")
    with pytest.raises(CheckFailed, match="had 2 worker\\(s\\) reporting, not 3"):
        check.train_run(result, _log(reports), workers=3)
    with pytest.raises(CheckFailed, match="reported nothing to the ReportLog") as info:
        check.train_run(result, _log([]), workers=2)
    assert "callbacks=[report_log]" in info.value.hint
    with pytest.raises(CheckFailed, match="is a TorchTrainer, not a Result"):
        check.train_run(TorchTrainer(lambda: None), _log(reports), workers=2)


def test_loaded_best_checkpoint_passes_the_best_weights_and_fails_others(tmp_path, capsys):
    result = _result(tmp_path, accuracies=(0.5, 0.9, 0.7))
    check.loaded_best_checkpoint(_model(1), result, metric="accuracy")
    assert "holds the weights of the best checkpoint (epoch 1, accuracy 0.900)" in (
        capsys.readouterr().out
    )
    with pytest.raises(CheckFailed, match=r"holds the weights of epoch 2 \(accuracy 0.700\)"):
        check.loaded_best_checkpoint(_model(2), result, metric="accuracy")
    with pytest.raises(CheckFailed, match="those of none of the 3 checkpoints kept"):
        check.loaded_best_checkpoint(_model(99), result, metric="accuracy")
    with pytest.raises(CheckFailed, match="not a PyTorch model"):
        check.loaded_best_checkpoint({"weights": 1}, result, metric="accuracy")
    # "min" picks the lowest: epoch 0's weights are then the right ones.
    check.loaded_best_checkpoint(_model(0), result, metric="accuracy", mode="min")


def _crash_events(first_epochs, resumed_epochs, checkpoint_every=True):
    def round_(epoch):
        metrics = [{"epoch": epoch, "rank": r} for r in range(2)]
        return TrainReport(
            "crash", "a", float(epoch), metrics, f"/c/{epoch}" if checkpoint_every else None
        )

    failure = TrainFailure("crash", "a", 99.0, {0: "ActorDiedError: the actor died"})
    return [*map(round_, first_epochs), failure, *map(round_, resumed_epochs)]


def test_resumed_after_failure_passes_a_resumed_run(tmp_path, capsys):
    result = _result(tmp_path, accuracies=(0.5,), path="crash")
    log = _log(_crash_events([0, 1], [2, 3, 4]))
    check.resumed_after_failure(result, log, epochs=5)
    out = capsys.readouterr().out
    assert "rank 0 died (ActorDiedError); a new worker group resumed at epoch 2" in out


def test_one_failure_told_at_several_polls_is_one_failure(tmp_path, capsys):
    events = _crash_events([0, 1], [2, 3, 4])
    events.insert(3, TrainFailure("crash", "a", 99.5, {0: "ActorDiedError: the actor died"}))
    log = _log(events)
    assert len(log.failures()) == 1 and len(log.attempts()) == 2
    check.resumed_after_failure(_result(tmp_path, (0.5,), path="crash"), log, epochs=5)


@pytest.mark.parametrize(
    "events, problem",
    [
        (_crash_events([0, 1], [0, 1, 2, 3, 4]), "started over at epoch 0"),
        (_crash_events([0, 1, 2, 3, 4], [])[:5], "no worker failed"),
        (_crash_events([0, 1], [2, 3]), "stopped at epoch 3, not 4"),
        (_crash_events([0, 1], [3, 4]), "went on at epoch 3, after no checkpoint"),
    ],
)
def test_resumed_after_failure_fails_a_run_that_did_not_resume(tmp_path, events, problem):
    result = _result(tmp_path, accuracies=(0.5,), path="crash")
    with pytest.raises(CheckFailed, match=problem):
        check.resumed_after_failure(result, _log(events), epochs=5)


def test_resumed_after_failure_reads_the_trainers_failure_config_first(tmp_path):
    from ray.train import FailureConfig, RunConfig
    from ray.train.torch import TorchTrainer

    no_retries = TorchTrainer(lambda: None, run_config=RunConfig(name="x"))
    with pytest.raises(CheckFailed, match="lets no worker failure be retried") as info:
        check.resumed_after_failure("crash_result_never_run", _log([]), trainer=no_retries)
    assert "FailureConfig(max_failures=2)" in info.value.hint
    retries = TorchTrainer(
        lambda: None, run_config=RunConfig(name="x", failure_config=FailureConfig(max_failures=2))
    )
    with pytest.raises(CheckFailed, match="is not defined yet"):  # the trainer is fine
        check.resumed_after_failure("crash_result_never_run", _log([]), trainer=retries)


# --- ReportLog, as Train's controller drives it -------------------------------------------------


def test_report_log_rejects_a_bad_keep_and_a_bad_run():
    with pytest.raises(ConfigError, match="keep"):
        ReportLog(keep=0)
    with pytest.raises(ConfigError, match="run=42"):
        _log([]).reports(42)
    from ray.train import Result

    local = Result(metrics={}, checkpoint=None, error=None, path=None)
    with pytest.raises(ConfigError, match="local-mode run"):
        _log([]).reports(local)


def test_report_log_timing_splits_an_epoch_into_parts_that_add_up():
    reports = [
        TrainReport("r", "a", 100.0 + 2.0 * e, [{"epoch_s": 1.5, "compute_s": 0.5}], None, 90.0)
        for e in range(4)
    ]
    timing = _log(reports).timing()
    assert timing.run_s == pytest.approx(16.0)  # 90 -> 106
    assert timing.startup_s == pytest.approx(8.5)  # first report at 100, its epoch took 1.5
    assert (timing.compute_s, timing.data_s, timing.report_s) == pytest.approx((0.5, 1.0, 0.5))
    assert "largest part: waiting for data" in str(timing)
    with pytest.raises(ConfigError, match="epoch_key"):
        _log(reports).timing(epoch_key="seconds")


@pytest.mark.ray_cluster
def test_report_log_keeps_what_the_controller_hands_it_per_run():
    import cloudpickle
    import ray

    import raykit

    raykit.init(num_cpus=1, include_dashboard=False)
    try:
        log = ReportLog()
        # What fit() does: the controller's process unpickles the callback, then calls it.
        controller_copy = pickle.loads(cloudpickle.dumps(log))
        assert controller_copy._taken_at is not None
        context = SimpleNamespace(get_run_config=lambda: SimpleNamespace(name="run1"), run_id="x")
        for epoch in range(3):
            metrics = [{"epoch": epoch, "rank": r} for r in range(2)]
            controller_copy.after_report(context, metrics, SimpleNamespace(path=f"/c/{epoch}"))
            if epoch == 1:
                controller_copy.after_exception(context, {1: RuntimeError("boom\nmore")})
        other = SimpleNamespace(get_run_config=lambda: SimpleNamespace(name="run2"), run_id="y")
        controller_copy.after_report(other, [{"epoch": 0}], None)

        def logged():
            return len(log.reports("run1")) == 3 and log.reports("run2")

        raykit.wait_until(logged, timeout_s=30, what="the reports to reach the log's actor")
        assert [r.metrics[1]["rank"] for r in log.reports("run1")] == [1, 1, 1]
        assert log.reports("run1")[0].checkpoint == "/c/0"
        assert log.failures("run1")[0].errors == {1: "RuntimeError: boom"}
        assert [[r.metrics[0]["epoch"] for r in a] for a in log.attempts("run1")] == [[0, 1], [2]]
        assert log.reports()[0].run == "run2", "no run named: the last one logged"
        assert ray.get_runtime_context()  # still connected
    finally:
        raykit.shutdown()
