"""One real browser: JupyterLab on 127.0.0.1, lesson 00 run in Debian's headless Chromium.

Proves the whole path a learner takes: the notebook runs in a real kernel behind a real Jupyter
server, the ClusterView renders in the page with this host's CPU count and changes as tasks run,
and the Ray dashboard answers through Jupyter's proxy once the learner has entered Ray's token.
Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import NOTEBOOKS, ROOT

from raykit._host import HostFacts
from raykit._ports import free_port

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run the browser test (make test installs it)")
    pytest.skip(reason)


@pytest.fixture
def jupyter(tmp_path):
    """A JupyterLab server on 127.0.0.1 serving a copy of lesson 00; stopped afterwards."""
    if not Path(CHROMIUM).exists():
        _missing("Debian's chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    root = tmp_path / "lessons"
    root.mkdir()
    shutil.copy(NOTEBOOKS / "00_welcome.ipynb", root)
    # JupyterLab 4 renders only the cells in view; render them all so outputs can be read.
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = {**os.environ, "RAYKIT_SMOKE": "1", "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")}
    with jupyter_lab(root, env, tmp_path / "jupyter.log") as (url, token):
        yield url, token, tmp_path / "jupyter.log"


@contextlib.contextmanager
def jupyter_lab(root: Path, env: dict, log_path: Path):
    """JupyterLab on 127.0.0.1 serving ``root``, answering before this yields (url, token); its
    process group is stopped afterwards, and with it the kernels it started."""
    port, token = free_port(), os.urandom(16).hex()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start:\n" + log_path.read_text()[-3000:])
        yield url, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server shuts its kernels down on the way out
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _run_menu(page, label: str) -> None:
    """Click an entry of JupyterLab's Run menu, as a learner would."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text=label).first.click()


def _open_notebook(page, url: str, token: str) -> None:
    """Open lesson 00 and wait until all its cells are on the page and the kernel is idle."""
    import nbformat

    n_cells = len(nbformat.read(NOTEBOOKS / "00_welcome.ipynb", as_version=4).cells)
    page.goto(f"{url}/lab/tree/00_welcome.ipynb?token={token}")
    cells = page.locator(".jp-Notebook .jp-Cell")
    deadline = time.monotonic() + 120
    while cells.count() < n_cells and time.monotonic() < deadline:
        time.sleep(0.25)
    assert cells.count() == n_cells, f"{cells.count()} of {n_cells} cells rendered"
    # The kernel has started and connected when the status bar says so.
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)


def _cleanup_cell(page):
    """The lesson's "Clean up" cell, the one that stops Ray (found by its source in the file)."""
    import nbformat

    cells = nbformat.read(NOTEBOOKS / "00_welcome.ipynb", as_version=4).cells
    index = next(
        i for i, c in enumerate(cells) if c.cell_type == "code" and "raykit.shutdown()" in c.source
    )
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def test_lesson_00_in_a_real_browser(jupyter):
    from playwright.sync_api import sync_playwright

    url, token, log_path = jupyter
    cpus = HostFacts.detect().cpus
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        _open_notebook(page, url, token)

        # Run everything above the cell that stops Ray: the dashboard must still be up.
        _cleanup_cell(page).locator(".jp-InputPrompt").click()
        _run_menu(page, "Run All Above Selected Cell")
        page.locator(".jp-InputPrompt", has_text="[*]").first.wait_for(timeout=30_000)

        # Watch the live panel while the lesson runs.
        cpu_labels, work_texts = set(), set()
        check_text = page.get_by_text("`cubes` is right.")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not check_text.count():
            cpu_labels.update(
                page.locator(".widget-label", has_text="CPUs in use").all_inner_texts()
            )
            work_texts.update(page.locator(".raykit-cluster-work").all_inner_texts())
            time.sleep(0.25)
        page.screenshot(path=str(ARTIFACTS / "lesson00.png"), full_page=True)
        errors = page.locator(".jp-OutputArea-output[data-mime-type*='error']").all_inner_texts()
        errors += [t for t in page.locator(".jp-InputPrompt").all_inner_texts() if t.strip()]
        errors += page.locator(".jp-OutputArea-output").all_inner_texts()[-6:]
        assert check_text.count(), (
            f"the lesson did not reach its self-check: {errors}\n{log_path.read_text()[-3000:]}"
        )

        assert any(re.fullmatch(rf"[\d.]+ / {cpus} CPUs in use", t) for t in cpu_labels), cpu_labels
        assert len(cpu_labels) > 1, f"the CPU bar never changed: {cpu_labels}"
        # Task counts come from the State API every few seconds: give it one more round.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            work_texts.update(page.locator(".raykit-cluster-work").all_inner_texts())
            finished = {int(m) for t in work_texts for m in re.findall(r"finished\s+(\d+)", t)}
            if len(finished) > 1:
                break
            time.sleep(0.5)
        assert len(finished) > 1 and max(finished) > min(finished), work_texts

        # The dashboard through Jupyter's proxy, port read from the panel's link.
        link = page.locator(".raykit-cluster-header a").first.get_attribute("href")
        dash_port = int(link.rstrip("/").rsplit(":", 1)[1])
        proxied = f"{url}/proxy/{dash_port}"
        response = page.goto(f"{proxied}/")
        assert response.status == 200 and "Ray" in page.title()
        api = f"{proxied}/api/v0/nodes"
        assert page.request.get(api).status == 401, "token auth guards the dashboard's data"
        ray_token = (Path.home() / ".ray" / "auth_token").read_text().strip()
        # What the dashboard's token dialog does when the learner pastes the token.
        auth = page.request.post(
            f"{proxied}/api/authenticate", headers={"Authorization": f"Bearer {ray_token}"}
        )
        assert auth.status == 200, auth.text()
        nodes = page.request.get(api)
        assert nodes.status == 200 and nodes.json()["data"]["result"]["total"] >= 1
        page.goto(f"{proxied}/")
        page.wait_for_timeout(2000)
        page.screenshot(path=str(ARTIFACTS / "dashboard_via_proxy.png"))

        # Clean up as the learner would: the "Clean up" cell stops Ray.
        _open_notebook(page, url, token)
        _cleanup_cell(page).locator(".jp-InputPrompt").click()
        _run_menu(page, "Run Selected Cell")
        page.get_by_text("local Ray cluster stopped").wait_for(timeout=60_000)
        browser.close()
    print(f"browser test took {time.monotonic() - started:.1f} s")
