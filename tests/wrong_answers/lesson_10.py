"""Plausible wrong answers to lesson 10's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "10.failures-by-function": [
        # Every state counted, not only FAILED.
        "def failed_by_function():\n"
        '    summary = summarize_tasks(**STATE)["cluster"]["summary"]\n'
        '    return {name: sum(e["state_counts"].values()) for name, e in summary.items()}\n',
        # Assumes every function has a FAILED count: KeyError for those that never failed.
        "def failed_by_function():\n"
        '    summary = summarize_tasks(**STATE)["cluster"]["summary"]\n'
        '    return {name: e["state_counts"]["FAILED"] for name, e in summary.items()}\n',
        # The counts read once and typed into the function: they go stale.
        'def failed_by_function():\n    return {"read_config": 1}\n',
        # A snapshot, not a function.
        'failed_by_function = {"read_config": 1}\n',
    ],
    "10.token": [
        # The token alone, without the "Bearer " the dashboard wants before it.
        'auth_headers = {"Authorization": token}\n'
        "api_status = dashboard_status(NODES_API, auth_headers)\n",
        # The token file's path, not the token in it.
        'auth_headers = {"Authorization": f"Bearer {token_file}"}\n'
        "api_status = dashboard_status(NODES_API, auth_headers)\n",
        # The right value under a wrong name: the dashboard reads only Authorization.
        'auth_headers = {"Authentication": f"Bearer {token}"}\n'
        "api_status = dashboard_status(NODES_API, auth_headers)\n",
        # "bearer" in lower case: Ray compares the whole value.
        'auth_headers = {"Authorization": f"bearer {token}"}\n'
        "api_status = dashboard_status(NODES_API, auth_headers)\n",
        # The token read with stderr merged in: `ray get-auth-token` ends it with a newline
        # there, which HTTP cannot send; the status written down instead of measured.
        "merged = subprocess.check_output(\n"
        '    [ray_cli, "get-auth-token"], stderr=subprocess.STDOUT, text=True\n'
        ")\n"
        'auth_headers = {"Authorization": f"Bearer {merged}"}\n'
        "api_status = 200\n",
        # Right headers, but the status of the request made without them.
        'auth_headers = {"Authorization": f"Bearer {token}"}\n'
        "api_status = dashboard_status(NODES_API, {})\n",
    ],
    "10.find-failed": [
        # The whole list of rows kept, not the failed task's row.
        "bad_task = list_tasks(\n"
        '    filters=[("func_or_class_name", "=", "parse_record"), ("state", "=", "FAILED")],\n'
        "    **STATE,\n"
        ")\n"
        'bad_log = "".join(get_log(task_id=bad_task[0].task_id, suffix="err", **STATE))\n',
        # get_log's default suffix is "out": the task's stdout, not its stderr.
        "bad_task = list_tasks(\n"
        '    filters=[("func_or_class_name", "=", "parse_record"), ("state", "=", "FAILED")],\n'
        "    **STATE,\n"
        ")[0]\n"
        'bad_log = "".join(get_log(task_id=bad_task.task_id, **STATE))\n',
        # The right task, but the log of Step 6's task copied along with the code.
        "bad_task = list_tasks(\n"
        '    filters=[("func_or_class_name", "=", "parse_record"), ("state", "=", "FAILED")],\n'
        "    **STATE,\n"
        ")[0]\n"
        'bad_log = "".join(get_log(task_id=config_task.task_id, suffix="err", **STATE))\n',
    ],
    "10.promql-failures": [
        # Every failed task of every function, not only parse_record's.
        "failed_query = 'sum(ray_tasks{State=\"FAILED\"})'\n",
        # Every parse_record task, whatever its state.
        "failed_query = 'sum(ray_tasks{Name=\"parse_record\"})'\n",
        # The count read off the State API and typed into the query: it cannot follow.
        "failed_query = 'vector(1)'\n",
    ],
    "10.free-the-hog": [
        # The smallest object freed instead of the largest.
        "key_of = {ref.hex(): key for key, ref in cache.items()}\n"
        "rows = list_objects(detail=True, limit=10_000, **STATE)\n"
        "smallest = min((r for r in rows if r.object_id in key_of), key=lambda r: r.object_size)\n"
        "big_id = smallest.object_id\n"
        "del cache[key_of[big_id]]\n",
        # The right entry, but its ObjectRef kept as the answer: that keeps the object alive.
        "key_of = {ref.hex(): key for key, ref in cache.items()}\n"
        "rows = list_objects(detail=True, limit=10_000, **STATE)\n"
        "biggest = max((r for r in rows if r.object_id in key_of), key=lambda r: r.object_size)\n"
        "big_id = cache.pop(key_of[biggest.object_id])\n",
    ],
}
