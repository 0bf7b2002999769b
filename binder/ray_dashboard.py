"""The "Ray dashboard" panel of the Binder workspace: a tiny page that finds your Ray dashboard.

jupyter-server-proxy starts this server (binder/workspace.py writes its entry) when the panel
first loads. Ray's dashboard has no fixed port here (raykit picks a free one per cluster, and a
lesson may start several), so the page asks this server every few seconds for the newest Ray
dashboard process of this user (under ``$RAY_TMPDIR`` when that is set) and shows it through
Jupyter's proxy, ``{base_url}proxy/{port}/``, in a frame; with none running it says what to run.

    python binder/ray_dashboard.py PORT     # serves on 127.0.0.1:PORT
"""

from __future__ import annotations

import json
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil

POLL_S = 3
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Ray dashboard</title>
<style>
  html, body {{ margin: 0; height: 100%; font-family: sans-serif; color: #333 }}
  #waiting {{ margin: 2rem; line-height: 1.5 }}
  #dashboard {{ border: 0; width: 100%; height: 100%; display: none }}
</style></head><body>
<div id="waiting">
<h2>No Ray cluster yet</h2>
<p>Run lesson 00 up to <code>raykit.init()</code> (its Step 3): this panel then shows the
cluster's Ray dashboard, and follows you to the next cluster you start.</p>
<p>The dashboard asks once for Ray's token: run <code>ray get-auth-token</code> in a terminal
(File, New, Terminal) and paste it in.</p>
</div>
<iframe id="dashboard" title="Ray dashboard"></iframe>
<script>
  // Every few seconds: which dashboard is the newest? Show it; say so when there is none.
  let shown = null;
  const frame = document.getElementById("dashboard");
  const waiting = document.getElementById("waiting");
  async function look() {{
    let port = null;
    try {{ port = (await (await fetch("port", {{cache: "no-store"}})).json()).port; }}
    catch (e) {{ return; }}
    if (port === shown) return;
    shown = port;
    frame.style.display = port ? "block" : "none";
    waiting.style.display = port ? "none" : "block";
    if (port) frame.src = "../proxy/" + port + "/";  // Jupyter's proxy, beside this page
  }}
  look();
  setInterval(look, {poll_ms});
</script>
</body></html>
"""


def dashboard_port(cmdline: list[str], under: str | None = None) -> int | None:
    """The port of a Ray dashboard process, from its command line; None for any other, and for
    one whose ``--temp-dir`` is not inside ``under`` (when given)."""
    if not any(arg.replace("\\", "/").endswith("ray/dashboard/dashboard.py") for arg in cmdline):
        return None
    flags = dict(arg.split("=", 1) for arg in cmdline if arg.startswith("--") and "=" in arg)
    if under and not os.path.abspath(flags.get("--temp-dir", "/")).startswith(
        os.path.abspath(under).rstrip("/") + "/"
    ):
        return None
    try:
        return int(flags["--port"])
    except (KeyError, ValueError):
        return None


def find_dashboards() -> list[int]:
    """Ports of this user's running Ray dashboards, the newest first."""
    found = []
    for proc in psutil.process_iter(["cmdline", "uids", "create_time"]):
        try:
            if proc.info["uids"] and proc.info["uids"].real != os.getuid():
                continue
            port = dashboard_port(proc.info["cmdline"] or [], os.environ.get("RAY_TMPDIR"))
        except psutil.Error:
            continue
        if port is not None:
            found.append((proc.info["create_time"] or 0.0, port))
    return [port for _, port in sorted(found, reverse=True)]


def answers(port: int) -> bool:
    """Whether a server accepts connections on 127.0.0.1:``port`` (a dashboard whose process
    has started may not serve yet)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def make_handler(find=find_dashboards, answers=answers):
    """The page (``/``), and the newest dashboard's port as JSON (``/port``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the name http.server calls
            if self.path.split("?", 1)[0].rstrip("/").endswith("/port"):
                port = next((p for p in find() if answers(p)), None)
                self._send("application/json", json.dumps({"port": port}))
            else:
                self._send("text/html; charset=utf-8", PAGE.format(poll_ms=POLL_S * 1000))

        def _send(self, kind: str, text: str) -> None:
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002 - quiet: Jupyter's log is enough
            pass

    return Handler


def main(argv: list[str]) -> int:
    server = ThreadingHTTPServer(("127.0.0.1", int(argv[1])), make_handler())
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
