"""Lesson 12 (the capstone): what its checks read from Ray: Serve's REST API, job logs, pixels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

# How long the job check waits for a submitted job to end (it trains a model with Ray Train).
JOB_WAIT_S = 900.0


def auth_headers() -> dict[str, str]:
    """The ``Authorization`` header the dashboard's API wants, from ``ray get-auth-token`` (the
    public CLI; it reads ``RAY_AUTH_TOKEN``, the token file, ``~/.ray/auth_token``); empty when
    token authentication is off or no token exists."""
    ray_cli = Path(sys.executable).with_name("ray")
    try:
        got = subprocess.run(  # noqa: S603 - the ray command of this Python, fixed arguments
            [str(ray_cli), "get-auth-token"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    token = got.stdout.strip().splitlines()[-1].strip() if got.stdout.strip() else ""
    return {"Authorization": f"Bearer {token}"} if got.returncode == 0 and token else {}


def serve_app_details(dashboard: str, app: str) -> dict | None:
    """What Serve's REST API (``GET /api/serve/applications/``, the API ``serve deploy`` and
    ``serve status`` use) says of application ``app``: its ``source`` (``declarative`` for one
    deployed from a config file, ``imperative`` for ``serve.run``) and ``deployed_app_config``.
    None when the API does not list it."""
    import httpx

    base = dashboard if "://" in dashboard else f"http://{dashboard}"
    response = httpx.get(f"{base}/api/serve/applications/", headers=auth_headers(), timeout=30)
    response.raise_for_status()
    return (response.json().get("applications") or {}).get(app)


def pixels_matrix(column: Any) -> Any:
    """A column of images (arrays, lists or a tensor column) as one float ``(rows, 64)`` array."""
    import numpy as np

    return np.stack([np.asarray(p, dtype=float).reshape(-1) for p in column])


def logs_tail(text: str, lines: int = 4) -> str:
    """The last non-empty ``lines`` of a job's logs, on one line."""
    kept = [line.strip() for line in str(text).splitlines() if line.strip()]
    return " | ".join(kept[-lines:])
