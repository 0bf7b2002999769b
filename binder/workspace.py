"""The Binder workspace: lesson 00, with the Ray dashboard and the kit's cluster view beside it.

Like dask-tutorial's, a JupyterLab workspace file (``jupyterlab-workspace.json``) lays out the
main area; this script fills in what is only known on the running server and imports it:

- ``BASE_URL``: the server's base URL (``JUPYTERHUB_SERVICE_PREFIX`` on Binder, else ``/``), for
  the "Ray dashboard" panel, a jupyter-server-proxy IFrame on ``ray_dashboard.py``, which
  redirects to the newest Ray dashboard of the user (raykit gives each cluster a free port);
- ``LESSON`` and ``CLUSTER_VIEW_CELL``: lesson 00 and the index of its cell that shows
  ``raykit.ClusterView()``, whose output JupyterLab clones into the lower panel ("Create New View
  for Cell Output"): the live cluster view stays in sight while the lesson scrolls on.

    python binder/workspace.py --server-config DIR   # postBuild: the panel's server entry
    python binder/workspace.py --import              # start: render and import the workspace
    python binder/workspace.py                       # print the rendered workspace
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BINDER = Path(__file__).resolve().parent
ROOT = BINDER.parent
TEMPLATE = BINDER / "jupyterlab-workspace.json"
LESSON = "notebooks/00_welcome.ipynb"
SERVER = "ray-dashboard"


def cluster_view_cell(notebook: Path) -> int:
    """Index (among all cells) of the first code cell that creates ``raykit.ClusterView()``."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for index, cell in enumerate(cells):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and "raykit.ClusterView()" in source:
            return index
    raise LookupError(f"{notebook} has no cell that shows raykit.ClusterView()")


def render(base_url: str = "/", root: Path = ROOT, lesson: str = LESSON) -> dict:
    """The workspace for a server at ``base_url`` whose root folder is ``root``."""
    base = "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
    cell = cluster_view_cell(root / lesson)
    words = {"BASE_URL": base, "LESSON": lesson, "CLUSTER_VIEW_CELL": str(cell)}

    def fill(value):
        if isinstance(value, dict):
            return {fill(k): fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        if value == "CLUSTER_VIEW_CELL":
            return cell  # the one number: a cell index
        if isinstance(value, str):
            for word, text in words.items():
                value = value.replace(word, text)
        return value

    return fill(json.loads(TEMPLATE.read_text()))


def server_entry(python: str = sys.executable) -> dict:
    """jupyter-server-proxy's entry for the panel's server (it fills in ``{port}`` when it
    starts the server, on the panel's first request)."""
    return {
        "command": [python, str(BINDER / "ray_dashboard.py"), "{port}"],
        "timeout": 30,
        "new_browser_tab": False,
        "launcher_entry": {"enabled": True, "title": "Ray dashboard"},
    }


def write_server_config(config_dir: Path) -> Path:
    """Add the panel's server to ``config_dir/jupyter_server_config.json``, keeping the rest."""
    path = config_dir / "jupyter_server_config.json"
    config = json.loads(path.read_text()) if path.is_file() else {}
    config.setdefault("ServerProxy", {}).setdefault("servers", {})[SERVER] = server_entry()
    config_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def import_workspace(base_url: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        json.dump(render(base_url), out)
    try:
        subprocess.run(["jupyter", "lab", "workspaces", "import", out.name], check=True)
    finally:
        os.unlink(out.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-config", type=Path, metavar="DIR")
    parser.add_argument("--import", dest="do_import", action="store_true")
    parser.add_argument("--base-url", default=os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/"))
    args = parser.parse_args(argv)
    if args.server_config:
        print(f"Ray dashboard panel: {write_server_config(args.server_config)}")
    if args.do_import:
        import_workspace(args.base_url)
    if not args.server_config and not args.do_import:
        print(json.dumps(render(args.base_url), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
