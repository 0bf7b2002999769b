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
}
