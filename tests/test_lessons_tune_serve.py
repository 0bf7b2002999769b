"""Lessons 08 (Ray Tune) and 09 (Ray Serve) print what they claim; their self-check works."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

import raykit
from raykit.check import CheckFailed


@pytest.fixture(scope="module")
def tune_text(executed):
    return executed.text("08_tune.ipynb")


@pytest.fixture(scope="module")
def serve_text(executed):
    executed("08_tune.ipynb")  # 09 serves the model 08 saves; run in lesson order
    return executed.text("09_serve.ipynb")


def test_tune_prints_asha_vs_grid_with_scores_and_iterations(tune_text):
    assert "ASHA vs grid" in tune_text
    rows = {
        m.group(1): (float(m.group(2)), int(m.group(3)), int(m.group(4)))
        for m in re.finditer(r"^\s*(grid|ASHA)\s+([\d.]+)\s+(\d+)\s+(\d+)", tune_text, re.M)
    }
    assert set(rows) == {"grid", "ASHA"}, "both rows of the table are printed"
    (grid_score, grid_iters, grid_trials), (asha_score, asha_iters, asha_trials) = (
        rows["grid"],
        rows["ASHA"],
    )
    assert 0 < grid_score <= 1 and 0 < asha_score <= 1
    assert grid_iters > 0 and asha_iters > 0
    # Same budget: ASHA stops once it has spent the grid's iterations (a few may be in flight).
    assert grid_iters <= asha_iters <= grid_iters + 2 * 4
    assert asha_trials >= 1 and grid_trials >= 1
    assert re.search(r"verdict: (ASHA|grid) found the better", tune_text)


def test_tune_really_interrupted_and_restored_the_experiment(tune_text):
    found = re.search(
        r"trials finished before restore: (\d+), after restore: (\d+) of (\d+)", tune_text
    )
    assert found, "the restore cell prints the trials finished before and after"
    before, after, total = map(int, found.groups())
    assert 0 < before < total, "the experiment was interrupted with trials left to run"
    assert after == total, "the restored experiment finished every trial"
    assert "can restore: True" in tune_text


def test_tune_reports_trials_at_once_from_the_cluster(tune_text):
    assert re.search(r"trials running at once on this host: \d+", tune_text)


def test_tune_saved_the_best_model_for_serve(tune_text):
    found = re.search(r"validation accuracy ([\d.]+), test accuracy ([\d.]+)", tune_text)
    assert found and float(found.group(2)) > 0.5
    assert "saved to" in tune_text


def test_serve_prints_its_latency_table(serve_text):
    assert "Serve latency table" in serve_text
    rows = re.findall(
        r"^\s*(plain|batched)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)",
        serve_text,
        re.M,
    )
    labels = {row[0] for row in rows}
    assert labels == {"plain", "batched"}
    assert all(float(row[4]) > 0 for row in rows), "every level answered requests"


def test_served_model_answers_held_out_examples_correctly(serve_text):
    found = re.search(r"served accuracy on (\d+) held-out examples: ([\d.]+)", serve_text)
    assert found, "the lesson measures accuracy over HTTP"
    assert int(found.group(1)) > 0 and float(found.group(2)) > 0.5


def test_serve_loses_no_request_with_a_client_retry(serve_text):
    assert re.search(r"requests failed without retry: \d+ of \d+", serve_text)
    assert re.search(r"requests failed with retry: 0 of \d+", serve_text)


def test_serve_updated_in_place_and_answers_the_new_version(serve_text):
    assert re.search(r"now: \{[^}]*'version': 'v2'", serve_text)


# raykit.check.best_trial_value: a right, a wrong and a blank answer, on a stand-in ResultGrid.
_results = SimpleNamespace(
    get_best_result=lambda: SimpleNamespace(config={"lr": 0.01, "hidden": 32})
)


def test_best_trial_value_passes_the_best_trials_value(capsys, monkeypatch):
    # Checks look answers up by name in the caller's module namespace, as in a notebook.
    monkeypatch.setitem(globals(), "best_lr", 0.01)
    monkeypatch.setitem(globals(), "lr_results", _results)
    raykit.check.best_trial_value("best_lr", "lr_results", key="lr")
    assert "\u2713" in capsys.readouterr().out


def test_best_trial_value_fails_on_another_value(monkeypatch):
    monkeypatch.setitem(globals(), "best_lr", 0.1)
    monkeypatch.setitem(globals(), "lr_results", _results)
    with pytest.raises(CheckFailed, match="lr=0.01"):
        raykit.check.best_trial_value("best_lr", "lr_results", key="lr")


def test_best_trial_value_fails_with_a_hint_when_blank():
    with pytest.raises(CheckFailed, match="not defined yet"):
        raykit.check.best_trial_value("no_such_answer", "no_such_results", key="lr")
