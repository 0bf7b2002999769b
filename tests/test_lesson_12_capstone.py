"""Lesson 12 (the capstone): every figure it prints is computed in its run and adds up; its
checks refuse what is not the learner's work."""

from __future__ import annotations

import re

import pytest

import raykit
from raykit import check
from raykit.check import CheckFailed

LESSON = "12_capstone.ipynb"
EXERCISES = ("12.data", "12.train", "12.tune", "12.serve", "12.job")


@pytest.fixture(scope="module")
def text(executed):
    return executed.text(LESSON)


# --- the executed lesson (small mode) -----------------------------------------------------------


def test_every_exercise_check_passed(text):
    for exercise_id in EXERCISES:
        assert f"\u2713 {exercise_id}" in text, exercise_id


def test_the_split_is_the_one_the_files_give(text):
    found = re.search(r"training images: (\d+), validation images: (\d+)", text)
    ids = raykit.load_dataset("digits/train")["image_id"]
    assert found, "the lesson prints the split's sizes"
    assert int(found.group(2)) == int((ids % 5 == 0).sum())
    assert int(found.group(1)) + int(found.group(2)) == len(ids)


def test_tune_ran_one_train_run_per_learning_rate_and_picked_the_best(text):
    trials = re.findall(r"^lr ([\d.e-]+)\s+val_accuracy ([\d.]+) after (\d+) epochs", text, re.M)
    assert len(trials) == 2, "small mode tries two learning rates"
    assert len({lr for lr, _, _ in trials}) == 2
    assert all(int(epochs) == 2 for _, _, epochs in trials), "every run trained all its epochs"
    best = re.search(r"^best: lr ([\d.e-]+), val_accuracy ([\d.]+)", text, re.M)
    assert best and float(best.group(2)) == max(float(acc) for _, acc, _ in trials)
    assert best.group(1) in {lr for lr, _, _ in trials}
    assert re.search(r"tuning: 2 Ray Train runs, best lr " + re.escape(best.group(1)), text)


def test_served_accuracy_is_recomputed_from_the_printed_counts(text):
    found = re.search(
        r"served accuracy: (\d+)/(\d+) = ([\d.]+) on held-out images, over HTTP", text
    )
    assert found, "the lesson scores the service over HTTP"
    correct, total, shown = int(found.group(1)), int(found.group(2)), float(found.group(3))
    assert total == 60, "small mode sends 60 held-out images"
    assert shown == pytest.approx(correct / total, abs=5e-4)
    assert correct / total > 0.5, "the served model is far better than chance (0.1)"
    closing = re.search(r"held-out accuracy over HTTP: (\d+)/(\d+) = ([\d.]+)", text)
    assert closing and (int(closing.group(1)), int(closing.group(2))) == (correct, total)


def test_latency_is_measured_over_http_and_observed_against_the_prediction(text):
    found = re.search(
        r"request latency over HTTP: p50 ([\d.]+) ms, p99 ([\d.]+) ms over (\d+)", text
    )
    assert found, "the lesson times requests over HTTP"
    p50, p99, calls = float(found.group(1)), float(found.group(2)), int(found.group(3))
    assert 0 < p50 <= p99 and calls == 50
    closing = re.search(r"request latency over HTTP: p50 ([\d.]+) ms over (\d+) requests", text)
    assert closing and float(closing.group(1)) == p50
    assert "predicted" in text.lower() or "no prediction" in text.lower()


def test_the_job_succeeded_and_printed_its_own_result(text):
    found = re.search(r"job (\S+): SUCCEEDED in ([\d.]+) s; working_dir gcs://_ray_pkg_", text)
    assert found, "the job's status, time and uploaded working_dir come from the job client"
    seconds = float(found.group(2))
    assert seconds > 0
    result = re.search(r"JOB RESULT val_accuracy=([\d.]+) config=\{[^}]*'lr': ([\d.e-]+)", text)
    assert result and 0.1 < float(result.group(1)) <= 1.0, "the job's own line, from its logs"
    best = re.search(r"^best: lr ([\d.e-]+)", text, re.M)
    assert best and float(result.group(2)) == float(best.group(1)), "it trained the best lr"
    closing = re.search(r"training job: ([\d.]+) s from submission to SUCCEEDED", text)
    assert closing and float(closing.group(1)) == seconds
    assert re.search(r"ray job submit --address http://\S+ --runtime-env-json '\{", text)
    assert "DIGITS_LR" in text and "-- python train_job.py" in text


def test_the_manifests_validate(text):
    for name, kind in (("digits-train", "RayJob"), ("digits-service", "RayService")):
        assert re.search(rf"{name}\.yaml: {kind}, 0 errors", text), name
    assert "s3://my-bucket/digits/runs/" in text, "the service loads its checkpoint from storage"


# --- the checks, on answers that are not right (no cluster needed) ----------------------------


def test_job_check_refuses_what_is_not_a_job_id():
    with pytest.raises(CheckFailed, match="not a job id"):
        check.capstone_job(12345, "http://127.0.0.1:1", "train_job.py", ["DIGITS_LR"])


def test_tune_check_refuses_the_tuner_and_other_objects():
    from ray import tune

    with pytest.raises(CheckFailed, match="is the Tuner itself"):
        check.capstone_tuned(tune.Tuner(lambda config: None), {"lr": [0.1]}, None, None)
    with pytest.raises(CheckFailed, match="not the ResultGrid"):
        check.capstone_tuned({"lr": 0.1}, {"lr": [0.1]}, None, None)


def test_service_check_wants_a_file_serve_accepts_on_loopback(tmp_path):
    with pytest.raises(CheckFailed, match="not the path of a file you wrote"):
        check.capstone_service(str(tmp_path / "none.yaml"), "digits", "x", "x", [], [])
    bad = tmp_path / "bad.yaml"
    bad.write_text("applications:\n  - name: digits\n    route_prefix: /digits\n")
    with pytest.raises(CheckFailed, match="Serve does not accept"):
        check.capstone_service(str(bad), "digits", "x", "x", [], [])
    exposed = tmp_path / "exposed.yaml"
    exposed.write_text(
        "http_options: {host: 0.0.0.0, port: 8000}\n"
        "applications:\n  - name: digits\n    route_prefix: /digits\n"
        "    import_path: digits_service:build\n"
    )
    with pytest.raises(CheckFailed, match="reachable from the network"):
        check.capstone_service(str(exposed), "digits", "x", "x", [], [])


def test_local_run_check_refuses_a_trainer():
    class TorchTrainer:  # what a learner keeps when they forget .fit()
        pass

    with pytest.raises(CheckFailed, match="call .fit"):
        check.capstone_local_run(TorchTrainer(), lambda hidden: None, None)


def test_data_check_refuses_rows_instead_of_a_dataset():
    with pytest.raises(CheckFailed, match="not a Ray Data Dataset"):
        check.capstone_data([{"pixels": [0] * 64}], [], every=5)
