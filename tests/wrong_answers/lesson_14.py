"""Plausible wrong answers to lesson 14's exercises (see tests/exercise_wrong_answers.py).

Each wrong algorithm is stopped in the answer itself, as the exercise asks: an algorithm left
running keeps its env runner's CPU, and on 2 CPUs the lesson's next algorithm would wait for it.
"""

_TRAIN = (
    "my_returns = []\n"
    "for _ in range(EX_ITERS):\n"
    '    my_returns.append(my_algo.train()["env_runners"]["episode_return_mean"])\n'
    "my_algo.stop()\n"
)

WRONG_ANSWERS: dict[str, list[str]] = {
    "14.lr": [
        # Another hyper-parameter changed: the batch size, not the learning rate asked for.
        "my_algo = config.copy(copy_frozen=False).training(train_batch_size_per_learner=500)"
        ".build_algo()\n" + _TRAIN,
        # Built with the new learning rate, but never trained.
        "my_algo = config.copy(copy_frozen=False).training(lr=config.lr / 10).build_algo()\n"
        "my_returns = []\n"
        "my_algo.stop()\n",
        # The config, never built into an algorithm.
        "my_algo = config.copy(copy_frozen=False).training(lr=config.lr / 10)\nmy_returns = []\n",
    ],
    "14.restore": [
        # The checkpoint's path itself, not restored.
        "my_policy = CHECKPOINT\n",
        # A new policy of the same shape, never trained (no env runner actors: it holds no CPU).
        "fresh = config.copy(copy_frozen=False).env_runners(num_env_runners=0).build_algo()\n"
        "my_policy = fresh.get_module()\n"
        "fresh.stop()\n",
    ],
}
