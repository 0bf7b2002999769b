"""Plausible wrong answers to lesson 09's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "09.three-replicas": [
        # Redeployed without .options(num_replicas=3): one replica.
        'serve.run(DigitModel.bind(str(MODEL_DIR)), name="digits", route_prefix="/digits")\n'
        'replicas_running = running_replicas("digits")\n',
    ],
}
