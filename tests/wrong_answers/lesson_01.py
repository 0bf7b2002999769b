"""Plausible wrong answers to lesson 01's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "01.finish-order": [
        # One ray.get on the list: every value at once, in the order of submission.
        "finish_refs = [sleep_for.remote(u) for u in (4, 1, 2)]\n"
        "finish_order = ray.get(finish_refs)\n",
        # ray.wait in a loop, but the refs themselves are kept instead of their values.
        "finish_refs = [sleep_for.remote(u) for u in (4, 1, 2)]\n"
        "finish_order = []\npending = finish_refs\nwhile pending:\n"
        "    ready, pending = ray.wait(pending, num_returns=1)\n"
        "    finish_order.append(ready[0])\n",
    ],
    "01.chain": [
        # The driver fetches the squares first and hands add_up the values.
        "@ray.remote\ndef add_up(*values):\n    return sum(values)\n\n\n"
        "part_refs = [slow_square.remote(i) for i in range(4)]\n"
        "total_ref = add_up.remote(*ray.get(part_refs))\n",
        # A list of refs: it reaches the task as refs, and sum() fails on them.
        "@ray.remote\ndef add_up(values):\n    return sum(values)\n\n\n"
        "part_refs = [slow_square.remote(i) for i in range(4)]\n"
        "total_ref = add_up.remote(part_refs)\n",
        # A list of refs fetched inside the task: Ray no longer waits for them as arguments.
        "@ray.remote\ndef add_up(values):\n    return sum(ray.get(values))\n\n\n"
        "part_refs = [slow_square.remote(i) for i in range(4)]\n"
        "total_ref = add_up.remote(part_refs)\n",
    ],
    "01.fix-loop": [
        # Still waits for each task before submitting the next one.
        "fixed_refs = []\nfixed_squares = []\nfor i in range(8):\n"
        "    ref = slow_square.remote(i)\n    fixed_refs.append(ref)\n"
        "    fixed_squares.append(ray.get(ref))\n",
    ],
    "01.reserve": [
        # The default request: one CPU per task, so they run side by side.
        "heavy_refs = [slow_square.remote(i) for i in range(3)]\n",
        # The right request, but the values kept instead of the refs.
        "heavy = slow_square.options(num_cpus=node_cpus)\n"
        "heavy_refs = ray.get([heavy.remote(i) for i in range(3)])\n",
    ],
    "01.retry": [
        # max_retries alone: it covers crashed workers, not exceptions the function raises.
        'retry_ref = fetch_page.options(max_retries=5).remote("news")\n',
        # Exceptions retried, but too few times for a service down for FAIL_TIMES attempts.
        'retry_ref = fetch_page.options(retry_exceptions=True, max_retries=1).remote("news")\n',
    ],
}
