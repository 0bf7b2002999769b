"""Wrong answers per lesson, gathered by tests/exercise_wrong_answers.py."""
