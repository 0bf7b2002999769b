"""Plausible wrong answers to lesson 05's exercises (see tests/exercise_wrong_answers.py)."""

WRONG_ANSWERS: dict[str, list[str]] = {
    "05.ssd-node": [
        # The label is asked for, but no node with it was added: the task waits for one.
        'ssd_ref = where.options(label_selector={"disk": "ssd"}).remote()\n',
        # A label some other node has.
        'ssd_ref = where.options(label_selector={"zone": "b"}).remote()\n',
    ],
    "05.dead-nodes": [
        # The live nodes, not the dead ones.
        'lost_nodes = [node for node in ray.nodes() if node["Alive"]]\n',
        # Their ids only, not Ray's records of them.
        'lost_nodes = [node["NodeID"] for node in ray.nodes() if not node["Alive"]]\n',
    ],
    "05.survivor": [
        # A job with retries, but no node ever dies under it.
        "@ray.remote(max_retries=3)\ndef long_job():\n    time.sleep(1)\n"
        "    return ray.get_runtime_context().get_node_id()\n\n\n"
        "survivor_ref = long_job.remote()\n"
        'print("the job finished on", mc.name_of(ray.get(survivor_ref)))\n',
        # The result, not the ref of the task.
        "@ray.remote(max_retries=3)\ndef long_job():\n    time.sleep(1)\n"
        "    return ray.get_runtime_context().get_node_id()\n\n\n"
        "survivor_ref = ray.get(long_job.remote())\n",
    ],
    "05.comeback": [
        # Restarts allowed, but its node never dies: it has nothing to come back from.
        "@ray.remote\nclass Service:\n    def where(self):\n"
        "        return ray.get_runtime_context().get_node_id()\n\n\n"
        "service = Service.options(max_restarts=3, max_task_retries=3).remote()\n"
        'print("it runs on", mc.name_of(ray.get(service.where.remote())))\n',
        # The class, never created as an actor.
        "@ray.remote\nclass Service:\n    def where(self):\n"
        "        return ray.get_runtime_context().get_node_id()\n\n\n"
        "service = Service\n",
    ],
}
