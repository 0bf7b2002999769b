"""Plausible wrong answers to lesson 00's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "00.cube": [
        # Forgot @ray.remote: a plain function, called locally.
        "def cube(x):\n    return x**3\n\n\ncubes = [cube(i) for i in range(10)]\n",
        # Kept the futures instead of their values.
        "@ray.remote\ndef cube(x):\n    return x**3\n\n\n"
        "cubes = [cube.remote(i) for i in range(10)]\n",
    ],
}
