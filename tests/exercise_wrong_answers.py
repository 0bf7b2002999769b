"""Plausible wrong answers to every exercise in notebooks/, typed into the learner's cell.

Each must run without error and then fail its exercise's check with a hint (``CheckFailed``):
tests/test_exercises.py runs them in the lesson's own kernel, with solutions switched off. Every
exercise needs at least one; write the mistakes learners really make. They live in
``tests/wrong_answers/lesson_NN.py``, one file per lesson, gathered here.
"""

from __future__ import annotations

import importlib
from pathlib import Path

WRONG_ANSWERS: dict[str, list[str]] = {}
for _path in sorted((Path(__file__).parent / "wrong_answers").glob("lesson_*.py")):
    _module = importlib.import_module(f"wrong_answers.{_path.stem}")
    WRONG_ANSWERS.update(_module.WRONG_ANSWERS)
