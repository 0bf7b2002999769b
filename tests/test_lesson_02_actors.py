"""Lesson 02 (actors) prints the figures and outcomes its text talks about.

Reads the executed copy (run once per session in small mode by the ``executed`` fixture).
Measured figures are asserted to be printed, never to fall in a range.
"""

from __future__ import annotations

import re

TICK = "\u2713"


def test_02_actors_prints_its_measurements_and_outcomes(executed):
    text = executed.text("02_actors.ipynb")

    assert "three calls return: [1, 2, 3]" in text
    assert "no increment lost: True" in text
    assert "in submission order: True" in text

    applied = re.search(r"(\d+) trainers x (\d+) steps: (\d+) gradients applied", text)
    assert applied and int(applied[3]) == int(applied[1]) * int(applied[2])
    errors = re.search(r"mean squared error: ([\d.]+) before, ([\d.]+) after", text)
    assert errors and float(errors[2]) < float(errors[1]), "the parameter server learned"

    assert re.search(r"the plain actor took [\d.]+ s", text)
    assert re.search(r"async actor: [\d.]+ s, [\d.]+x the plain actor's speed", text)
    assert re.search(r"threaded, max_concurrency=\d+: [\d.]+ s", text)
    assert re.search(r"calls running at the same time, at most: \d+", text)

    assert "one actor behind them all: True" in text
    assert "lesson02-counter" in text
    assert re.search(r"items per actor process: \{", text)

    assert "the call in flight: ActorDiedError (a RayActorError: True)" in text
    assert "a call made after the kill: ActorDiedError" in text
    assert re.search(r"the actor started 3 times: 2 restarts", text)
    assert "work('job-1') was attempted 3 times" in text
    assert "job-1 done in life 3" in text
    assert "restarts used up: ActorDiedError" in text

    assert re.search(r"keeping the state in the actor was [\d.]+x the speed of shipping it", text)

    assert f"{TICK} `account` is a handle to a BankAccount actor." in text
    assert f"{TICK} `account` keeps its state: two calls of deposit returned 10 then 20." in text
    assert "killed the detached actor 'lesson02-counter'" in text
