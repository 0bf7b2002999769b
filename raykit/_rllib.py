"""RLlib helpers for lesson 14: greedy CartPole episodes with an RLModule; a checkpoint's module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .exceptions import ConfigError

# Where Algorithm.save_to_path puts the (single-agent) policy's RLModule, under the checkpoint.
MODULE_IN_CHECKPOINT = ("learner_group", "learner", "rl_module", "default_policy")


def module_path(checkpoint: Any) -> Path:
    """The folder of the default policy's RLModule inside an algorithm checkpoint folder."""
    if not isinstance(checkpoint, (str, Path)) or not Path(checkpoint).is_dir():
        raise ConfigError(
            f"checkpoint={checkpoint!r} is not a folder: pass the path that "
            "algo.save_to_path(...) returned."
        )
    path = Path(checkpoint).joinpath(*MODULE_IN_CHECKPOINT)
    if not path.is_dir():
        raise ConfigError(
            f"checkpoint={str(checkpoint)!r} holds no {'/'.join(MODULE_IN_CHECKPOINT)}: "
            "it is not a single-agent RLlib algorithm checkpoint."
        )
    return path


def greedy_returns(module: Any, seeds: Any, env: str = "CartPole-v1") -> list[float]:
    """The return of one episode per seed, acting with the argmax of ``module``'s
    ``forward_inference`` (no exploration), in a plain gymnasium loop."""
    import gymnasium as gym
    import torch

    seeds = list(seeds) if not isinstance(seeds, (str, bytes)) else None
    if not seeds or not all(isinstance(s, int) for s in seeds):
        raise ConfigError(f"seeds must be a non-empty list of ints (got {seeds!r}).")
    game = gym.make(env)
    returns = []
    try:
        for seed in seeds:
            obs, _ = game.reset(seed=seed)
            done, total = False, 0.0
            while not done:
                with torch.no_grad():
                    batch = {"obs": torch.as_tensor(obs[None], dtype=torch.float32)}
                    logits = module.forward_inference(batch)["action_dist_inputs"]
                obs, reward, terminated, truncated, _ = game.step(int(logits.argmax(-1)[0]))
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
    finally:
        game.close()
    return returns
