"""``python -m raykit._ray_start ARGS``: ``ray start ARGS`` for a MiniCluster node on loopback."""

import sys

from ._ray_private import ray_start_on_loopback

if __name__ == "__main__":
    sys.exit(ray_start_on_loopback(sys.argv[1:]))
