"""Helpers for the small loopback HTTP servers some tests stand up in place of a real API."""

from __future__ import annotations

import json


def send_json(handler, status: int, payload) -> None:
    """Answer the request ``handler`` (an http.server handler) with ``payload`` as JSON."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
