"""The Ray dashboard's address as the learner can open it: direct, or through Jupyter's proxy."""

from __future__ import annotations

import os
from collections.abc import Mapping

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "0.0.0.0", "::1"}


def dashboard_link(webui_url: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """Return a link to the dashboard that works from where the notebook is opened.

    ``webui_url`` is what Ray reports (``ray.init(...).dashboard_url``, e.g. ``127.0.0.1:8265``;
    the port is read from it, never assumed). Behind JupyterHub or Binder the browser cannot reach
    the kernel's 127.0.0.1, so the link goes through jupyter-server-proxy:
    ``{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}/``.
    """
    if not webui_url:
        return None
    env = os.environ if env is None else env
    hostport = webui_url.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix and host.strip("[]") in _LOCAL_HOSTS:
        return f"{prefix.rstrip('/')}/proxy/{port}/"
    return f"http://{hostport}"
