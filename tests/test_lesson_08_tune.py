"""Lesson 08 (Ray Tune) prints what it claims; its checks judge real ResultGrids, good and bad."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

import raykit
from raykit.check import CheckFailed

# --- the lesson, run in small mode ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tune_text(executed):
    return executed.text("08_tune.ipynb")


def test_tune_prints_asha_vs_grid_with_scores_and_iterations(tune_text):
    assert "ASHA vs grid" in tune_text
    rows = {
        m.group(1): (float(m.group(2)), int(m.group(3)), int(m.group(4)))
        for m in re.finditer(r"^\s*(grid|ASHA)\s+([\d.]+)\s+(\d+)\s+(\d+)\s*$", tune_text, re.M)
    }
    assert set(rows) == {"grid", "ASHA"}, "both rows of the table are printed"
    (grid_score, grid_iters, grid_trials), (asha_score, asha_iters, asha_trials) = (
        rows["grid"],
        rows["ASHA"],
    )
    assert 0 < grid_score <= 1 and 0 < asha_score <= 1
    # The table's budget is the one the grid cell printed, and ASHA's is spent from it.
    assert re.search(rf"grid: {grid_trials} trials, {grid_iters} trial-iterations", tune_text)
    assert re.search(rf"ASHA: {asha_trials} trials run, {asha_iters} trial-iterations", tune_text)
    assert grid_iters <= asha_iters, "ASHA stops once it has spent the grid's iterations"
    assert re.search(r"verdict: (ASHA|grid) found the better", tune_text)


def test_tune_asha_epochs_printed_add_up_to_its_iterations(tune_text):
    epochs = re.search(r"epochs each trial ran: \[([\d, ]+)\]", tune_text)
    asha = re.search(r"ASHA: (\d+) trials run, (\d+) trial-iterations", tune_text)
    assert epochs and asha
    ran = [int(n) for n in epochs.group(1).split(",")]
    assert len(ran) == int(asha.group(1)) and sum(ran) == int(asha.group(2))


def test_tune_predictions_are_observed(tune_text):
    # Under papermill nobody predicts; observe still prints the measured figure.
    assert re.search(r"No prediction made\. Measured: 4\. The right choice was 4\.", tune_text)
    epochs = re.search(r"epochs each trial ran: \[([\d, ]+)\]", tune_text)
    full = [n for n in epochs.group(1).split(", ") if int(n) == 4]  # MAX_EPOCHS in small mode
    assert f"No prediction made. Measured: {len(full)}." in tune_text


def test_tune_really_interrupted_and_restored_the_experiment(tune_text):
    found = re.search(
        r"trials finished before restore: (\d+), after restore: (\d+) of (\d+)", tune_text
    )
    assert found, "the restore cell prints the trials finished before and after"
    before, after, total = map(int, found.groups())
    assert 0 < before < total, "the experiment was interrupted with trials left to run"
    assert after == total, "the restored experiment finished every trial"
    assert "can restore: True" in tune_text
    epochs = re.search(r"epochs per trial: \[([\d, ]+)\]", tune_text)
    assert epochs and set(epochs.group(1).split(", ")) == {"4"}, "each ran MAX_EPOCHS (small)"


def test_tune_reports_trials_at_once_from_the_cluster(tune_text):
    assert re.search(r"trials running at once on this host: \d+", tune_text)


def test_tune_saved_the_best_model_for_serve(tune_text, executed):
    found = re.search(r"validation accuracy ([\d.]+), test accuracy ([\d.]+)", tune_text)
    assert found and float(found.group(2)) > 0.5
    saved = re.search(r"saved to (\S+digits_tune_best)", tune_text)
    assert saved, "the lesson prints where it saved the model"
    # What lesson 09 loads: the weights, and a config whose "hidden" builds the same model.
    from pathlib import Path

    import torch

    folder = Path(saved.group(1))
    config = json.loads((folder / "config.json").read_text())
    state = torch.load(folder / "model.pt")
    assert state["0.weight"].shape == (config["hidden"], 64)
    assert state["2.weight"].shape == (10, config["hidden"])
    assert config["test_accuracy"] == pytest.approx(float(found.group(2)), abs=5e-4)


# --- the checks, on real ResultGrids of a tiny trainable -----------------------------------------


def _fitter(storage):
    """A function that runs a tiny Tuner into ``storage``; its trainable is defined in here, so
    that Ray pickles it by value (Ray's workers cannot import this test module)."""

    def count_up(config):
        """Reports ``score`` = lr x iteration, ``config["epochs"]`` times (``once``: once)."""
        from ray import tune

        epochs = config["epochs"]
        for i in range(1, epochs + 1):
            if not config.get("once") or i == epochs:
                tune.report({config.get("name", "score"): config["lr"] * i})

    def fit(param_space, **tune_config):
        from ray import tune

        return tune.Tuner(
            count_up,
            param_space=param_space,
            tune_config=tune.TuneConfig(reuse_actors=True, **tune_config),
            run_config=tune.RunConfig(storage_path=storage, verbose=0),
        ).fit()

    return fit


@pytest.fixture(scope="module")
def grids(cluster, tmp_path_factory):
    from ray import tune

    _fit = _fitter(str(tmp_path_factory.mktemp("tune")))
    lrs = tune.grid_search([0.001, 0.01, 0.1])
    return SimpleNamespace(
        tuned=_fit({"lr": lrs, "epochs": 3}, metric="score", mode="max"),
        no_goal=_fit({"lr": lrs, "epochs": 3}),
        reversed=_fit({"lr": lrs, "epochs": 3}, metric="score", mode="min"),
        once=_fit({"lr": 0.1, "epochs": 3, "once": True}),
        renamed=_fit({"lr": 0.1, "epochs": 2, "name": "acc"}),
        # Iterations 1 and 3 of at most 3: some trial "stopped early", one ran to the end.
        uneven=_fit({"lr": 0.1, "epochs": tune.grid_search([1, 3])}),
        sampled=_fit(
            {"hidden": tune.grid_search([16, 64]), "lr": tune.loguniform(1e-3, 0.3), "epochs": 1},
            num_samples=2,
        ),
        listed=_fit(
            {"hidden": tune.grid_search([16, 64]), "lr": tune.grid_search([0.01, 0.1]), "epochs": 1}
        ),
        # ASHA over trials run one at a time, in the grid's order: scores that arrive best-first
        # are stopped at the rung; scores that arrive worst-first all pass it.
        asha_best_first=_asha(_fit, [0.1, 0.01, 0.001]),
        asha_worst_first=_asha(_fit, [0.001, 0.01, 0.1]),
    )


def _asha(fit, lrs):
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    return fit(
        {"lr": tune.grid_search(lrs), "epochs": 2},
        metric="score",
        mode="max",
        scheduler=ASHAScheduler(max_t=2, grace_period=1, reduction_factor=2),
        max_concurrent_trials=1,
    )


@pytest.mark.ray_cluster
def test_reported_each_iteration_passes_a_report_per_epoch(grids, capsys):
    raykit.check.reported_each_iteration(grids.tuned, metric="score")
    assert "reported 'score' once per epoch" in capsys.readouterr().out


@pytest.mark.ray_cluster
def test_reported_each_iteration_fails_one_report_after_the_loop(grids):
    with pytest.raises(CheckFailed, match=r"trained config\['epochs'\]=3 epochs but reported 1"):
        raykit.check.reported_each_iteration(grids.once, metric="score")


@pytest.mark.ray_cluster
def test_reported_each_iteration_fails_a_metric_under_another_name(grids):
    with pytest.raises(CheckFailed, match="did not report a number named 'score'"):
        raykit.check.reported_each_iteration(grids.renamed, metric="score")


@pytest.mark.ray_cluster
def test_tuned_passes_a_grid_that_knows_its_goal(grids, capsys):
    raykit.check.tuned(grids.tuned, "score", "max", grid={"lr": [0.001, 0.01, 0.1]})
    # The best of lr x 3 iterations, computed here: 0.1 x 3.
    assert "get_best_result() picks score=0.3 (max)" in capsys.readouterr().out


@pytest.mark.ray_cluster
def test_tuned_fails_without_metric_and_mode(grids):
    with pytest.raises(CheckFailed, match="does not know which metric") as failed:
        raykit.check.tuned(grids.no_goal, "score", "max", grid={"lr": [0.001, 0.01, 0.1]})
    assert 'metric="score", mode="max"' in failed.value.hint


@pytest.mark.ray_cluster
def test_tuned_fails_the_wrong_mode(grids):
    with pytest.raises(CheckFailed, match=r"picks a trial with score=0\.003, not the highest"):
        raykit.check.tuned(grids.reversed, "score", "max", grid={"lr": [0.001, 0.01, 0.1]})


@pytest.mark.ray_cluster
def test_tuned_fails_a_grid_with_other_values(grids):
    with pytest.raises(CheckFailed, match="has 3 trial"):
        raykit.check.tuned(grids.tuned, "score", "max", grid={"lr": [0.001, 0.1]})


@pytest.mark.ray_cluster
def test_stopped_early_passes_uneven_iterations_and_fails_even_ones(grids, capsys):
    raykit.check.stopped_early(grids.uneven, max_t=3)
    assert "1 of the 2 trials in your answer stopped before 3 iterations" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="nothing was stopped early"):
        raykit.check.stopped_early(grids.tuned, max_t=3)
    with pytest.raises(CheckFailed, match="no trial of your answer ran 5 iterations"):
        raykit.check.stopped_early(grids.tuned, max_t=5)


@pytest.mark.ray_cluster
def test_stopped_early_passes_asha_that_stopped_trials_by_their_scores(grids, capsys):
    # Replayed by hand: 0.1 passes the empty rung; 0.01 < 0.1 and 0.001 < median(0.1, 0.01).
    assert sorted(raykit.trial_iterations(grids.asha_best_first)) == [1, 1, 2]
    raykit.check.stopped_early(grids.asha_best_first, max_t=2)
    assert "2 of the 3 trials in your answer stopped before 2" in capsys.readouterr().out


@pytest.mark.ray_cluster
def test_stopped_early_passes_asha_that_stopped_none_and_says_why(grids, capsys):
    # Each score beats those before it at the rung, so ASHA rightly stops none: the answer is
    # right, and the check says what happened instead of failing it.
    assert sorted(raykit.trial_iterations(grids.asha_worst_first)) == [2, 2, 2]
    raykit.check.stopped_early(grids.asha_worst_first, max_t=2)
    out = capsys.readouterr().out
    assert "scheduler is ASHA with max_t=2 and a rung at iteration 1" in out
    assert "stopped none" in out
    # Judged against another max_t, it is not the scheduler the exercise asked for.
    with pytest.raises(CheckFailed, match="no trial of your answer ran 3 iterations"):
        raykit.check.stopped_early(grids.asha_worst_first, max_t=3)


@pytest.mark.ray_cluster
def test_search_space_passes_sampled_and_fails_listed_values(grids, capsys):
    space = {"grid": {"hidden": [16, 64]}, "sampled": {"lr": (1e-3, 0.3)}}
    raykit.check.search_space(grids.sampled, num_samples=2, **space)
    assert "4 trials, each grid point 2 times" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="lr takes 2 distinct value"):
        raykit.check.search_space(grids.listed, num_samples=2, **space)
    with pytest.raises(CheckFailed, match="has 4 trials; 2 grid point"):
        raykit.check.search_space(grids.sampled, num_samples=1, **space)


@pytest.mark.ray_cluster
def test_trial_iterations_and_learning_curves_read_the_results(grids):
    assert sorted(raykit.trial_iterations(grids.uneven)) == [1, 3]
    chart = raykit.learning_curves(grids.uneven, "score", max_t=3, title="t")
    (ax,) = chart.figure.axes
    # Two curves, and one cross where the one-iteration trial stopped.
    assert len(ax.lines) == 3 and ax.get_title() == "t"
    with pytest.raises(raykit.ConfigError, match="was not reported"):
        raykit.learning_curves(grids.uneven, "accuracy")


def test_tune_checks_fail_with_a_hint_on_what_is_not_a_result_grid():
    with pytest.raises(CheckFailed, match="not defined yet"):
        raykit.check.tuned("no_such_results", "score", "max", grid={"lr": [1]})
    with pytest.raises(CheckFailed, match="not the ResultGrid"):
        raykit.check.stopped_early([1, 2], max_t=2)
    with pytest.raises(raykit.ConfigError, match="not a ResultGrid"):
        raykit.trial_iterations({"trials": []})


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
