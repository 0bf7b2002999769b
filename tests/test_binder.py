"""binder/ builds the same kit as pyproject.toml: same pins, raykit installed, small mode on, and
a workspace that docks the Ray dashboard and the kit's cluster view beside lesson 00."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from http.server import ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, well_formed_text
from packaging.requirements import Requirement

BINDER = ROOT / "binder"
ARTIFACTS = ROOT / "test-artifacts" / "binder"


def _binder_requirements() -> dict[str, Requirement]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith(("#", "-"))]
    return {r.name.lower(): r for r in reqs}


def _strip_local(spec: str) -> str:
    """``==2.13.0+cpu`` pins the same release as ``==2.13.0`` (the CPU build of it)."""
    return spec.split("+", 1)[0]


def test_binder_pins_match_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # Binder runs every lesson, lesson 13 too: the dependencies and the compare extra.
    lines = project["dependencies"] + project["optional-dependencies"]["compare"]
    expected = {Requirement(line).name.lower(): Requirement(line) for line in lines}
    binder = _binder_requirements()
    assert set(binder) == set(expected), "binder/requirements.txt lists other packages"
    for name, req in expected.items():
        assert _strip_local(str(binder[name].specifier)) == str(req.specifier), name
        assert binder[name].extras == req.extras, name


def test_binder_installs_raykit_runs_small_mode_and_lists_apt_packages():
    post_build = (BINDER / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post_build
    assert "bash scripts/drop-slow-imports.sh python" in post_build, "as `make install` does"
    assert "export RAYKIT_SMOKE=1" in (BINDER / "start").read_text()
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    apt = (BINDER / "apt.txt").read_text().split()
    assert "redis-server" in apt and "prometheus" in apt


# --- the workspace: lesson 00 with the Ray dashboard and the cluster view docked beside it -----

sys.path.insert(0, str(BINDER))
import ray_dashboard  # noqa: E402
import workspace  # noqa: E402


def _layout_widgets(area: dict) -> list[str]:
    if area.get("type") == "tab-area":
        return list(area["widgets"])
    return [w for child in area.get("children", []) for w in _layout_widgets(child)]


def test_binder_runs_the_workspace_scripts():
    post_build = (BINDER / "postBuild").read_text()
    assert "binder/workspace.py --server-config" in post_build
    start = (BINDER / "start").read_text()
    assert 'binder/workspace.py" --import' in start
    assert start.index("--import") < start.index('exec "$@"')


def test_workspace_docks_the_dashboard_and_the_cluster_view_beside_lesson_00():
    rendered = workspace.render("/user/ada/")
    json.dumps(rendered)  # plain JSON, as `jupyter lab workspaces import` reads it
    assert rendered["metadata"]["id"] == "default"
    dock = rendered["data"]["layout-restorer:data"]["main"]["dock"]
    notebook, beside = dock["children"]
    assert _layout_widgets(notebook) == [f"notebook:{workspace.LESSON}"]
    panels = _layout_widgets(beside)
    assert panels[0] == "server-proxy:server-proxy:ray-dashboard"
    for widget in _layout_widgets(dock):  # each panel has the data its restorer reads
        assert widget in rendered["data"], widget
    dashboard = rendered["data"]["server-proxy:server-proxy:ray-dashboard"]["data"]
    assert dashboard["url"] == "/user/ada/ray-dashboard/" and dashboard["newBrowserTab"] is False
    clone = rendered["data"][panels[1]]["data"]
    cells = nbformat.read(ROOT / clone["path"], as_version=4).cells
    assert cells[clone["index"]].cell_type == "code"
    assert "raykit.ClusterView()" in cells[clone["index"]].source
    assert workspace.render("/")["data"]["server-proxy:server-proxy:ray-dashboard"]["data"][
        "url"
    ] == ("/ray-dashboard/")


def test_dashboard_panel_server_entry_keeps_other_settings(tmp_path):
    (tmp_path / "jupyter_server_config.json").write_text('{"ServerApp": {"ip": "127.0.0.1"}}')
    path = workspace.write_server_config(tmp_path)
    config = json.loads(path.read_text())
    assert config["ServerApp"] == {"ip": "127.0.0.1"}
    entry = config["ServerProxy"]["servers"]["ray-dashboard"]
    assert entry["command"][1:] == [str(BINDER / "ray_dashboard.py"), "{port}"]
    assert entry["new_browser_tab"] is False and entry["launcher_entry"]["title"]


def test_dashboard_panel_finds_ray_dashboards_by_their_command_line():
    cmd = ["/venv/bin/python", "/venv/lib/python3.11/site-packages/ray/dashboard/dashboard.py"]
    args = ["--host=127.0.0.1", "--port=41234", "--temp-dir=/tmp/rk-1/abc"]
    assert ray_dashboard.dashboard_port(cmd + args) == 41234
    assert ray_dashboard.dashboard_port(cmd + args, under="/tmp/rk-1") == 41234
    assert ray_dashboard.dashboard_port(cmd + args, under="/tmp/rk-2") is None  # someone else's
    assert ray_dashboard.dashboard_port(["python", "serve.py", "--port=8000"]) is None


@pytest.mark.parametrize("found", [[41234, 40000], []])
def test_dashboard_panel_shows_the_newest_dashboard_or_says_what_to_run(found):
    # 41234 does not answer yet (its process has only just started): the next newest shows.
    handler = ray_dashboard.make_handler(find=lambda: found, answers=lambda port: port != 41234)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        conn.request("GET", "/port")
        response = conn.getresponse()
        assert response.status == 200
        assert json.loads(response.read()) == {"port": 40000 if found else None}
        conn.request("GET", "/")
        page = conn.getresponse().read().decode()
        assert "No Ray cluster yet" in page and "ray get-auth-token" in page
        # Relative URLs: they resolve under the server's base URL, whatever it is.
        assert 'fetch("port"' in page and '"../proxy/" + port + "/"' in page
        well_formed_text(page.split("<script>")[0] + "</body></html>")
    finally:
        server.shutdown()
        server.server_close()


def test_repo2docker_would_build_what_binder_says(tmp_path):
    """repo2docker renders the image's Dockerfile without Docker (--no-build)."""
    pytest.importorskip("repo2docker", reason="jupyter-repo2docker is in the test extra")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "repo2docker",
            "--no-build",
            "--debug",
            "--user-id=1000",
            "--user-name=jovyan",
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    dockerfile = done.stdout + done.stderr
    assert done.returncode == 0, dockerfile[-3000:]
    assert "FROM " in dockerfile, dockerfile[-3000:]
    assert "Building conda environment for python=3.11" in dockerfile  # runtime.txt
    apt = re.search(r"apt-get install --yes --no-install-recommends ([^&]+)&&", dockerfile)
    assert apt and set(apt.group(1).split()) == set((BINDER / "apt.txt").read_text().split())
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in dockerfile
    assert "./binder/postBuild" in dockerfile
    assert 'R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in dockerfile


@pytest.mark.browser
def test_binder_workspace_in_a_real_browser(tmp_path):
    """JupyterLab as Binder starts it (the workspace imported, the panel's server configured):
    lesson 00 opens with the two panels beside it; once the lesson has started Ray, one shows
    the Ray dashboard and the other the live cluster view. Screenshot in test-artifacts/binder/."""
    from conftest import RAY_TMP
    from test_browser import CHROMIUM, CHROMIUM_ARGS, _missing, _run_menu, jupyter_lab

    if not Path(CHROMIUM).exists():
        _missing("Debian's chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import sync_playwright

    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / workspace.LESSON, root / "notebooks")
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    workspace.write_server_config(tmp_path / "config")
    (tmp_path / "workspace.json").write_text(json.dumps(workspace.render("/", root=root)))
    # This server's Ray (and so the only dashboard the panel may find) lives in a folder of its
    # own: lessons that the suite runs meanwhile live elsewhere under RAY_TMP.
    ray_tmp = os.path.join(RAY_TMP, "ws")
    os.makedirs(ray_tmp, exist_ok=True)
    env = {
        **os.environ,
        "RAYKIT_SMOKE": "1",
        "RAY_TMPDIR": ray_tmp,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
    }
    jupyter = [sys.executable, "-m", "jupyter", "lab"]
    subprocess.run(
        [*jupyter, "workspaces", "import", str(tmp_path / "workspace.json")],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with jupyter_lab(root, env, tmp_path / "jupyter.log") as (url, token):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            try:
                page.goto(f"{url}/lab/tree/{workspace.LESSON}?token={token}")
                dashboard = page.locator(".jp-ServerProxy iframe")
                dashboard.wait_for(timeout=120_000)
                tabs = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tabLabel").all_inner_texts()
                assert tabs[:2] == ["00_welcome.ipynb", "Ray dashboard"], tabs
                clone = page.locator(".jp-LinkedOutputView")
                assert clone.count() == 1, "the cluster view's panel is not docked"
                waiting = page.frame_locator(".jp-ServerProxy iframe").get_by_text(
                    "No Ray cluster yet"
                )
                waiting.wait_for(timeout=60_000)
                page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)

                # The learner runs the lesson up to its cluster view.
                cell = page.locator(".jp-Notebook .jp-Cell").nth(
                    workspace.cluster_view_cell(root / workspace.LESSON)
                )
                cell.locator(".jp-InputPrompt").click()
                _run_menu(page, "Run All Above Selected Cell")
                cell.locator(".jp-InputPrompt").click()
                _run_menu(page, "Run Selected Cell")  # queued after the cells above
                # Ray starts twice above (ray.init, then raykit.init): minutes on a busy host.
                clone.get_by_text(re.compile(r"CPUs in use")).first.wait_for(timeout=420_000)
                # The panel follows the lesson's cluster: the one whose dashboard the view links.
                link = clone.locator(".raykit-cluster-header a").first.get_attribute("href")
                dash_port = int(link.rstrip("/").rsplit(":", 1)[1])
                deadline = time.monotonic() + 60  # the panel looks every few seconds
                frame = None
                while time.monotonic() < deadline and frame is None:
                    frame = next((f for f in page.frames if f"/proxy/{dash_port}/" in f.url), None)
                    time.sleep(0.5)
                assert frame is not None, (dash_port, [f.url for f in page.frames])
                frame.wait_for_load_state()
                assert "Ray" in frame.title(), frame.title()
                page.wait_for_timeout(2000)
                page.screenshot(path=str(ARTIFACTS / "workspace.png"))

                # Clean up as the learner would: the lesson's last cell stops Ray. The
                # dashboard's token field took the focus when it loaded: back to the notebook.
                page.locator(".lm-TabBar-tab", has_text="00_welcome.ipynb").first.click()
                cells = nbformat.read(root / workspace.LESSON, as_version=4).cells
                last = next(
                    i
                    for i, c in enumerate(cells)
                    if c.cell_type == "code" and "raykit.shutdown()" in c.source
                )
                page.locator(".jp-Notebook .jp-Cell").nth(last).locator(".jp-InputPrompt").click()
                _run_menu(page, "Run Selected Cell")
                page.get_by_text("local Ray cluster stopped").first.wait_for(timeout=120_000)
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "workspace_failed.png"))
                raise
            browser.close()
