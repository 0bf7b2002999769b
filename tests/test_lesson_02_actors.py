"""Lesson 02 (actors) prints the figures and outcomes its text talks about.

Reads the executed copy (run once per session in small mode by the ``executed`` fixture).
Measured figures are asserted to be printed, never to fall in a range; counts that Ray records
are compared with the counts the lesson's own code made.
"""

from __future__ import annotations

import re

TICK = "\u2713"
SOLVED = "solved by you."  # the lesson run typed each solution in


def test_02_actors_core_sections_print_their_outcomes(executed):
    text = executed.text("02_actors.ipynb")

    assert "three calls return: [1, 2, 3]" in text
    bumped = re.search(
        r"a task called increment (\d+) times: the count went from (\d+) to (\d+)", text
    )
    assert bumped and int(bumped[3]) - int(bumped[2]) == int(bumped[1])

    # 2: the count read from the actor equals the calls Ray recorded, and the prediction is scored.
    shared = re.search(
        r"`shared` reads (\d+); Ray recorded (\d+) finished calls of increment", text
    )
    assert shared and shared[1] == shared[2] and int(shared[1]) > 0
    assert "no increment lost: True" in text
    assert "No prediction made. Measured: " in text
    assert "The right choice was 'the number of calls made'." in text

    assert "in submission order: True" in text
    assert "one actor behind both handles: True" in text
    assert "another actor with that name: ActorAlreadyExistsError" in text
    assert re.search(r"items per actor process: \{\d+: \d+", text)

    # 6: a kill, a crash with one restart (read from the State API), then a final death.
    assert "the call in flight: ActorDiedError" in text
    assert "a call made after the kill: ActorDiedError" in text
    assert re.search(r"the call that crashed it: Actor(Unavailable|Died)Error", text)
    first = re.search(
        r"first life: \['process (\d+), call 1 of this life', 'process \1, call 2", text
    )
    assert first, "two calls in the first life, in one process"
    restarted = re.search(r"State API: ALIVE, 1 restart\(s\), now process (\d+)", text)
    assert restarted and restarted[1] != first[1], "the restart is a new process"
    assert f"second life: process {restarted[1]}, call 1 of this life" in text
    assert "State API: DEAD after 1 restart(s)" in text


def test_02_actors_exercises_pass_with_the_solutions_typed_in(executed):
    text = executed.text("02_actors.ipynb")
    for exercise in ("bank-account", "shared-counter", "named-actor", "pool", "comeback"):
        assert f"{TICK} 02.{exercise}: {SOLVED}" in text, exercise
    assert f"{TICK} `account` keeps its state: two calls of deposit returned 10 then 20." in text
    assert re.search(rf"{TICK} `shared` reads (\d+): Ray recorded \1 calls of increment", text)
    assert f"{TICK} `found` and `scores` are one actor" in text
    spread = re.search(rf"{TICK} the 3 actors in `measurers` shared the work: \[([\d, ]+)\]", text)
    words = re.search(r"(\d+) words: \[", text)
    per_actor = [int(n) for n in spread[1].split(",")]
    assert sum(per_actor) == int(words[1]) and sum(1 for n in per_actor if n) >= 2
    comeback = re.search(
        r"`phoenix` came back: .* ALIVE after 1 restart\(s\), and it reads (\d+)", text
    )
    assert comeback and comeback[1] == "0"


def test_02_actors_going_further_sections_print_their_measurements(executed):
    text = executed.text("02_actors.ipynb")

    assert re.search(r"the plain actor took [\d.]+ s", text)
    assert re.search(r"async actor: [\d.]+ s, [\d.]+x the plain actor's speed", text)
    assert re.search(r"threaded, max_concurrency=\d+: [\d.]+ s", text)
    assert re.search(r"No prediction made\. Measured: [\d.]+x\.", text)
    assert re.search(r"calls running at the same time, at most: \d+", text)

    assert "State API: 'lesson02-counter' in 'raykit-lessons', detached: True" in text

    applied = re.search(r"(\d+) trainers x (\d+) steps: (\d+) gradients applied", text)
    assert applied and int(applied[3]) == int(applied[1]) * int(applied[2])
    errors = re.search(r"mean squared error: ([\d.]+) before, ([\d.]+) after", text)
    assert errors and float(errors[2]) < float(errors[1]), "the parameter server learned"

    assert "job-1 done in life 3" in text
    attempts = "[(0, 'FAILED'), (1, 'FAILED'), (2, 'FINISHED')]"
    assert f"attempts of work in Ray's record: {attempts}" in text
    assert "restarts in Ray's record: 2" in text

    assert re.search(r"keeping the state in the actor was [\d.]+x the speed of shipping it", text)
    assert "killed the detached actor 'lesson02-counter'" in text
