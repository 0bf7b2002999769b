"""Plausible wrong answers to lesson 02's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "02.bank-account": [
        # The balance is a local variable: nothing is kept between calls.
        "@ray.remote\nclass BankAccount:\n    def deposit(self, amount):\n"
        "        balance = 0\n        balance += amount\n        return balance\n\n\n"
        "account = BankAccount.remote()\n",
        # The class itself, never instantiated as an actor.
        "@ray.remote\nclass BankAccount:\n    def __init__(self):\n        self.balance = 0\n\n"
        "    def deposit(self, amount):\n        self.balance += amount\n"
        "        return self.balance\n\n\naccount = BankAccount\n",
    ],
    "02.shared-counter": [
        # Every call made from the notebook: no task ever got the handle.
        "shared = Counter.remote()\nray.get([shared.increment.remote() for _ in range(40)])\n",
        # Each task makes a counter of its own; `shared` is never touched.
        "@ray.remote\ndef add_many(times):\n    counter = Counter.remote()\n"
        "    for _ in range(times):\n        ray.get(counter.increment.remote())\n"
        "    return times\n\n\nshared = Counter.remote()\n"
        "ray.get([add_many.remote(N_CALLS) for _ in range(4)])\n",
    ],
    "02.named-actor": [
        # A second counter that looks the same, instead of the named one found again.
        'scores = Counter.options(name="lesson02-scores", get_if_exists=True).remote()\n'
        "found = Counter.remote()\n",
        # No name at all: two separate counters.
        "scores = Counter.remote()\nfound = Counter.remote()\n",
    ],
    "02.pool": [
        # Every word sent to the first actor: the other two stay idle.
        "@ray.remote\nclass Measurer:\n    def measure(self, word):\n        return len(word)\n\n\n"
        "measurers = [Measurer.remote() for _ in range(3)]\n"
        "lengths = ray.get([measurers[0].measure.remote(word) for word in WORDS])\n",
        # pool.map's iterator kept instead of the list of results.
        "@ray.remote\nclass Measurer:\n    def measure(self, word):\n        return len(word)\n\n\n"
        "measurers = [Measurer.remote() for _ in range(3)]\n"
        "pool = ActorPool(measurers)\n"
        "lengths = pool.map(lambda actor, word: actor.measure.remote(word), WORDS)\n",
    ],
    "02.comeback": [
        # ray.kill's default is no_restart=True: the actor stays dead.
        "phoenix = Counter.options(max_restarts=1).remote()\n"
        "ray.get([phoenix.increment.remote() for _ in range(3)])\nray.kill(phoenix)\n",
        # no_restart=False, but the actor was created without max_restarts.
        "phoenix = Counter.remote()\n"
        "ray.get([phoenix.increment.remote() for _ in range(3)])\n"
        "ray.kill(phoenix, no_restart=False)\n",
    ],
}
