"""Plausible wrong answers to lesson 05's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "05.zone-b": [
        # The other zone's label.
        "@ray.remote\ndef node_of_task():\n    return ray.get_runtime_context().get_node_id()\n\n\n"
        'zone_b_node = ray.get(node_of_task.options(label_selector={"zone": "a"}).remote())\n',
        # The future, not the node id it resolves to.
        "@ray.remote\ndef node_of_task():\n    return ray.get_runtime_context().get_node_id()\n\n\n"
        'zone_b_node = node_of_task.options(label_selector={"zone": "b"}).remote()\n',
    ],
}
