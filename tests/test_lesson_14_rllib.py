"""Lesson 14 (RLlib) prints what it claims; its checks judge real RLlib algorithms and policies."""

from __future__ import annotations

import re
from types import SimpleNamespace

import nbformat
import pytest

import raykit
from raykit.check import CheckFailed

LESSON = "14_rllib.ipynb"

# --- the lesson, run in small mode ---------------------------------------------------------------


@pytest.fixture(scope="module")
def rllib_text(executed):
    return executed.text(LESSON)


def _mean(text, who):
    found = re.search(rf"{who} policy: +mean return ([\d.]+) over (\d+) episodes", text)
    assert found, f"the lesson prints the {who} policy's mean return"
    return float(found.group(1)), int(found.group(2))


def test_rllib_trained_policy_beats_random_by_a_wide_margin(rllib_text):
    random_mean, episodes = _mean(rllib_text, "random")
    trained_mean, same_episodes = _mean(rllib_text, "trained")
    assert episodes == same_episodes == 10, "EVAL_EPISODES in small mode, for both"
    assert 5 < random_mean < 60, "a random CartPole policy lasts about 20 steps"
    assert trained_mean >= 100 and trained_mean >= 3 * random_mean
    ratio = re.search(r"earns ([\d.]+)x the random policy's return", rllib_text)
    assert ratio and float(ratio.group(1)) == pytest.approx(trained_mean / random_mean, abs=0.06)


def test_rllib_lists_its_env_runner_actors_then_none(rllib_text):
    assert re.search(r"SingleAgentEnvRunner [0-9a-f]{12} pid=\d+ ALIVE", rllib_text)
    counts = re.findall(r"env runner actors alive: (\d+)", rllib_text)
    assert counts == ["1", "0"], "one env runner while the algorithm runs, none once stopped"


def test_rllib_trains_until_the_target_and_plots_the_curve(rllib_text, executed):
    rows = re.findall(r"iteration +(\d+): return +([\d.]+), ([\d,]+) steps", rllib_text)
    assert rows, "each training iteration prints its return"
    assert [int(r[0]) for r in rows] == list(range(1, len(rows) + 1))
    steps = [int(r[2].replace(",", "")) for r in rows]
    assert steps == [1000 * i for i in range(1, len(rows) + 1)], "train_batch_size_per_learner"
    last = float(rows[-1][1])
    assert last >= 150 or len(rows) == 15, "TARGET_RETURN or MAX_ITERS (small mode) ends it"
    nb = nbformat.read(executed(LESSON).output, as_version=4)
    images = [
        o
        for c in nb.cells
        if "ax.plot(" in c.source
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert images, "the learning curve is drawn"


def test_rllib_restores_the_same_policy(rllib_text):
    found = re.search(r"restored at iteration (\d+) \(saved at (\d+)\)", rllib_text)
    assert found and found.group(1) == found.group(2)
    means = re.search(r"mean return: saved ([\d.]+), restored ([\d.]+)", rllib_text)
    assert means and means.group(1) == means.group(2)
    assert "the same returns episode by episode: True" in rllib_text
    assert "learner_group/learner/rl_module/default_policy" in rllib_text


def test_rllib_measures_env_runner_scaling(rllib_text):
    assert "env runners scaling" in rllib_text
    rows = dict(re.findall(r"^\s*([12])\s+([\d.]+)\s*$", rllib_text, re.M))
    assert set(rows) == {"1", "2"}, "a row per number of env runners"
    one, two = float(rows["1"]), float(rows["2"])
    assert one > 0 and two > 0
    speedup = re.search(r"2 env runners sample ([\d.]+)x the env steps per second of 1", rllib_text)
    assert speedup, "the ratio is printed"
    # The table is rounded to whole steps per second; the ratio comes from the unrounded rates.
    assert float(speedup.group(1)) == pytest.approx(two / one, rel=0.02, abs=0.01)
    assert re.search(r"No prediction made\. Measured: [\d.]+x", rllib_text)


def test_rllib_exercise_checks_print_what_they_judged(rllib_text):
    assert re.search(r"`my_algo` trained 2 iterations with lr=0\.0001", rllib_text)
    assert re.search(r"`my_policy` holds the checkpoint's \d+ weight tensors exactly", rllib_text)


# --- the checks, on real RLlib algorithms (no env runner actors: they sample in this process) ----


def _tiny_config(**training):
    from ray.rllib.algorithms.ppo import PPOConfig

    return (
        PPOConfig()
        .environment("CartPole-v1")
        .env_runners(num_env_runners=0)
        .training(train_batch_size_per_learner=200, minibatch_size=100, num_epochs=1, **training)
        .debugging(seed=0)
    )


def _train(algo, iterations):
    returns = [algo.train()["env_runners"]["episode_return_mean"] for _ in range(iterations)]
    algo.stop()
    return returns


@pytest.fixture(scope="module")
def algos(cluster, tmp_path_factory):
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.core.rl_module.rl_module import RLModule

    from raykit import _rllib

    base = _tiny_config(lr=1e-3)
    saved = base.copy(copy_frozen=False).build_algo()
    saved.train()
    checkpoint = str(tmp_path_factory.mktemp("rllib") / "ckpt")
    saved.save_to_path(checkpoint)
    further = _train(saved, 1)  # trained on after the save: other weights than the checkpoint's
    retrained = base.copy(copy_frozen=False).training(lr=1e-4).build_algo()
    same_lr = base.copy(copy_frozen=False).training(num_epochs=2).build_algo()
    untrained = base.copy(copy_frozen=False).training(lr=1e-4).build_algo()
    untrained.stop()
    restored = Algorithm.from_checkpoint(checkpoint)
    restored_module = restored.get_module()
    restored.stop()
    return SimpleNamespace(
        base=base,
        checkpoint=checkpoint,
        further=further,
        saved=saved,
        retrained=retrained,
        returns=_train(retrained, 2),
        same_lr=same_lr,
        same_lr_returns=_train(same_lr, 2),
        untrained=untrained,
        restored_module=restored_module,
        module=RLModule.from_checkpoint(_rllib.module_path(checkpoint)),
    )


@pytest.mark.ray_cluster
def test_retrained_passes_another_lr_trained_and_recorded(algos, capsys):
    raykit.check.retrained(
        algos.retrained, algos.returns, base=algos.base, field="lr", iterations=2, baseline=[1, 2]
    )
    out = capsys.readouterr().out
    assert "trained 2 iterations with lr=0.0001" in out
    assert "the lesson's run (lr=0.001) had 2.0 at iteration 2" in out


@pytest.mark.ray_cluster
def test_retrained_fails_the_lessons_own_lr(algos):
    with pytest.raises(CheckFailed, match=r"built with lr=0\.001, the lesson's own value") as e:
        raykit.check.retrained(
            algos.same_lr, algos.same_lr_returns, base=algos.base, field="lr", iterations=2
        )
    assert "training(lr=...)" in e.value.hint


@pytest.mark.ray_cluster
def test_retrained_fails_an_algorithm_that_never_trained(algos):
    with pytest.raises(CheckFailed, match=r"trained 0 iteration\(s\).*not 2"):
        raykit.check.retrained(algos.untrained, [], base=algos.base, field="lr", iterations=2)


@pytest.mark.ray_cluster
def test_retrained_fails_a_curve_of_another_length_and_a_config(algos):
    with pytest.raises(CheckFailed, match=r"one episode_return_mean per iteration .* holds 1"):
        raykit.check.retrained(
            algos.retrained, algos.returns[:1], base=algos.base, field="lr", iterations=2
        )
    with pytest.raises(CheckFailed, match="is the config"):
        raykit.check.retrained(algos.base, [], base=algos.base, field="lr", iterations=2)


def test_retrained_names_a_bad_argument():
    from ray.rllib.algorithms.ppo import PPOConfig

    with pytest.raises(raykit.ConfigError, match="base="):
        raykit.check.retrained("x", "y", base={"lr": 1}, field="lr", iterations=1)
    with pytest.raises(raykit.ConfigError, match="field='learning_rate'"):
        raykit.check.retrained("x", "y", base=PPOConfig(), field="learning_rate", iterations=1)
    with pytest.raises(raykit.ConfigError, match="iterations=0"):
        raykit.check.retrained("x", "y", base=PPOConfig(), field="lr", iterations=0)
    with pytest.raises(CheckFailed, match="not defined yet"):
        raykit.check.retrained("no_such_algo", "y", base=PPOConfig(), field="lr", iterations=1)


@pytest.mark.ray_cluster
def test_policy_restored_passes_the_module_and_the_restored_algorithm(algos, capsys):
    raykit.check.policy_restored(algos.module, checkpoint=algos.checkpoint, seeds=[0, 1])
    assert "holds the checkpoint's" in capsys.readouterr().out
    raykit.check.policy_restored(algos.restored_module, checkpoint=algos.checkpoint, seeds=[0])


@pytest.mark.ray_cluster
def test_policy_restored_fails_weights_trained_on(algos):
    # The algorithm that was saved, then trained one more iteration: its weights moved on.
    with pytest.raises(CheckFailed, match=r"weight tensors of your answer differ"):
        raykit.check.policy_restored(
            algos.saved.get_module(), checkpoint=algos.checkpoint, seeds=[0]
        )


@pytest.mark.ray_cluster
def test_policy_restored_fails_a_path_and_names_bad_arguments(algos, tmp_path):
    with pytest.raises(CheckFailed, match="is a str, not an RLModule"):
        raykit.check.policy_restored(algos.checkpoint, checkpoint=algos.checkpoint, seeds=[0])
    with pytest.raises(raykit.ConfigError, match="checkpoint="):
        raykit.check.policy_restored(algos.module, checkpoint=str(tmp_path), seeds=[0])
    with pytest.raises(raykit.ConfigError, match="checkpoint="):
        raykit.check.policy_restored(algos.module, checkpoint=None, seeds=[0])
    with pytest.raises(raykit.ConfigError, match="seeds"):
        raykit.check.policy_restored(algos.module, checkpoint=algos.checkpoint, seeds=[])
