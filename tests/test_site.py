"""The course site (`make site`): built from the lessons as this session ran them, every page there
with its run's outputs, launch buttons and working links; screenshots in test-artifacts/site/.

The fast tests here check the builder's parts (the lesson map read from the header cells, widgets
drawn from saved state, the message when no lesson has run yet) without Ray. The others build the
whole site from the suite's own lesson runs, so they run after the lessons.
"""

from __future__ import annotations

import html as htmllib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from conftest import NOTEBOOKS, ROOT, well_formed_text

from raykit._runner import discover_notebooks

SITE = ROOT / "site"
BUILD = SITE / "build_site.py"
ARTIFACTS = ROOT / "test-artifacts" / "site"
LESSONS = discover_notebooks(NOTEBOOKS)
REPO = "https://github.com/example/raykit"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

sys.path.insert(0, str(SITE))
import build_site  # noqa: E402
import widget_snapshot  # noqa: E402

# --- the builder's parts, no Ray ------------------------------------------------------------------


def test_every_lesson_header_gives_its_row_of_the_lesson_map():
    for path in LESSONS:
        lesson = build_site.read_lesson(path)
        assert lesson.number == path.name[:2], path.name
        assert lesson.title and lesson.level and lesson.time.startswith("about"), lesson
        assert lesson.prerequisites, path.name
    assert build_site.read_lesson(NOTEBOOKS / "00_welcome.ipynb").level == "beginner"


def test_lessons_needs_are_found_in_their_code():
    needs = {p.name[:2]: {label for label, _ in build_site.read_lesson(p).needs} for p in LESSONS}
    assert "redis-server" in needs["05"] and "several Ray nodes" in needs["05"]
    assert "prometheus" in needs["10"] and "KubeRay CRDs" in needs["11"]
    assert needs["00"] == set() and needs["01"] == set()


def test_every_notebook_says_where_it_runs_as_its_site_page_does():
    for path in LESSONS:
        lesson = build_site.read_lesson(path)
        expected = build_site.runs_on(lesson)
        assert lesson.runs_on == expected, f"{path.name}'s header: **Runs on:** {expected}"
    eleven = build_site.read_lesson(NOTEBOOKS / "11_kuberay.ipynb").runs_on
    assert "several Ray nodes" in eleven and "kuberay crds --download" in eleven
    assert "plus" not in build_site.read_lesson(NOTEBOOKS / "01_tasks.ipynb").runs_on


def test_widgets_are_drawn_from_their_saved_state():
    """Real ipywidgets, their state taken as a notebook saves it (no kernel, no browser)."""
    import ipywidgets as W
    from ipywidgets.embed import embed_data

    bar = W.FloatProgress(value=3, min=0, max=4, description="CPU")
    hidden = W.Label("not shown", layout=W.Layout(display="none"))
    box = W.VBox(
        [
            W.HBox([bar, W.Label("3 / 4 CPUs in use")]),
            W.HTML("<b>tasks</b> finished 12"),
            W.RadioButtons(options=["2x", "4x"], value="4x", description="Predict:"),
            W.Button(description="Start", button_style="success"),
            hidden,
        ]
    )
    data = embed_data(views=[box])
    states = data["manager_state"]["state"]
    drawn = widget_snapshot.render(box.model_id, states)
    text = well_formed_text(drawn)
    assert "3 / 4 CPUs in use" in text and "tasks finished 12" in text and "Start" in text
    assert 'style="width: 75.0%"' in drawn  # the bar as it stood: 3 of 4
    assert "checked> 4x" in drawn and "not shown" not in text
    assert widget_snapshot.render("no-such-model", states) is None


def test_a_notebook_widget_output_becomes_static_html():
    import ipywidgets as W
    from ipywidgets.embed import embed_data

    label = W.Label("from the run")
    state = embed_data(views=[label])["manager_state"]
    out = nbformat.v4.new_output(
        "display_data",
        data={
            widget_snapshot.WIDGET_VIEW: {"model_id": label.model_id},
            "text/plain": "Label(value='from the run')",
        },
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("label", outputs=[out])])
    nb.metadata["widgets"] = {widget_snapshot.WIDGET_STATE: state}
    assert widget_snapshot.snapshot_outputs(nb) == 1
    data = nb.cells[0].outputs[0]["data"]
    assert widget_snapshot.WIDGET_VIEW not in data and "from the run" in data["text/html"]
    assert "widgets" not in nb.metadata  # no widget JavaScript asked for: the site is offline


def test_links_to_the_runs_own_servers_keep_only_their_text():
    html = '<b><a href="http://127.0.0.1:8265" target="_blank">http://127.0.0.1:8265</a></b>'
    assert build_site._unlink_local(html) == "<b>http://127.0.0.1:8265</b>"
    kept = '<a href="https://docs.ray.io/">docs</a>'
    assert build_site._unlink_local(kept) == kept


def test_site_without_executed_lessons_says_what_to_run(tmp_path):
    done = subprocess.run(
        [sys.executable, str(BUILD), "--executed", str(tmp_path), "--out", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "make test" in done.stderr and "raykit run --smoke" in done.stderr
    assert "00_welcome.ipynb" in done.stderr
    assert not (tmp_path / "s").exists(), "nothing is built from nothing"


def test_runs_of_raykit_run_count_too_and_a_failed_run_stops_the_build(tmp_path):
    """`raykit run -o DIR` leaves summary.json; the suite's pool leaves NN_name.json. The newer
    record speaks for the notebook on disk."""
    lessons = [build_site.read_lesson(p) for p in LESSONS[:2]]
    for lesson in lessons:
        shutil.copy(lesson.source, tmp_path)
    record = [
        {"notebook": lessons[0].name, "status": "passed", "seconds": 80.0},
        {"notebook": lessons[1].name, "status": "failed", "seconds": 9.0, "cell_index": 7},
    ]
    (tmp_path / "summary.json").write_text(json.dumps(record))
    build_site.find_executed(lessons, tmp_path)
    assert "raykit run" in lessons[0].run and not lessons[0].failed
    with pytest.raises(build_site.SiteError, match=r"last run failed: 01_\w+\.ipynb \(cell 7"):
        build_site.check_complete(lessons, tmp_path)
    time.sleep(0.05)  # a later run of the suite's pool passed
    summary = {"lesson": lessons[1].name, "failed": None, "seconds": 60.0}
    (tmp_path / f"{lessons[1].source.stem}.json").write_text(json.dumps(summary))
    build_site.find_executed(lessons, tmp_path)
    build_site.check_complete(lessons, tmp_path)
    assert "test suite's run" in lessons[1].run


def test_repository_url_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("RAYKIT_SITE_REPO", "https://github.com/someone/raykit.git/")
    assert build_site.repository() == "https://github.com/someone/raykit"
    monkeypatch.delenv("RAYKIT_SITE_REPO")
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/course")
    assert build_site.repository() == "https://github.com/org/course"


# --- the whole site, from this session's lesson runs ---------------------------------------------


@pytest.fixture(scope="module")
def site(lesson_runs, tmp_path_factory):
    """Build the site from the suite's executed lessons, as `make site` does; yield its HTML
    folder and the executed lessons."""
    lesson_runs.prefetch(LESSONS)
    runs = {path.name: lesson_runs.get(path) for path in LESSONS}
    failed = {name: run.summary["failed"] for name, run in runs.items() if not run.passed}
    assert not failed, f"lessons failed, so the site would not build: {failed}"
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "RAYKIT_SITE_REPO": REPO, "RAYKIT_SITE_BRANCH": "main"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(BUILD), "--executed", str(lesson_runs.out_dir), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=1200,
        env=env,
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "WARNING" not in done.stderr, done.stderr[-3000:]
    html = out / "html"
    size = sum(p.stat().st_size for p in html.rglob("*") if p.is_file())
    print(f"site built in {seconds:.1f} s, {size / 1e6:.1f} MB in {html}")  # recorded
    return html, {name: run.path for name, run in runs.items()}


class _Page(HTMLParser):
    """A page's links (href and src), element ids and visible text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.ids, self.text = [], set(), []
        self.scripts, self.images, self.widgets = [], [], 0
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append(attrs[key])
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if "raykit-widget" in (attrs.get("class") or "").split():
            self.widgets += 1
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def _squash(text: str) -> str:
    return " ".join(htmllib.unescape(ANSI.sub("", text)).split())


def _figures(executed: Path) -> tuple[list[str], int, int]:
    """From the executed lesson: printed lines that carry a figure (some digits), its image
    outputs, and its widget outputs."""
    nb = nbformat.read(executed, as_version=4)
    lines, images, widgets = [], 0, 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                for line in ANSI.sub("", out.get("text", "")).splitlines():
                    line = " ".join(line.split())
                    if re.search(r"\d\.\d|\d s\b|\d+ of \d+", line) and 12 < len(line) < 160:
                        lines.append(line)
            data = out.get("data", {})
            images += "image/png" in data
            widgets += widget_snapshot.WIDGET_VIEW in data
    return lines, images, widgets


@pytest.mark.lesson
@pytest.mark.after_lessons
def test_every_lesson_page_carries_its_runs_outputs(site):
    html, executed = site
    index_text = _squash("".join(_parse(html / "index.html").text))
    for path in LESSONS:
        page_file = html / "notebooks" / f"{path.stem}.html"
        assert page_file.is_file(), f"no page for {path.name}"
        page = _parse(page_file)
        text = _squash("".join(page.text))
        lesson = build_site.read_lesson(path)
        for fact in (lesson.title, lesson.level, lesson.time):  # markdown rendered: no * or `
            assert re.sub(r"[`*]", "", fact) in index_text, f"{path.name}: {fact}"
        lines, images, widgets = _figures(executed[path.name])
        assert lines, f"{path.name} printed no figure"
        for line in lines[:: max(1, len(lines) // 5)][:5]:  # five figures across the lesson
            assert _squash(line) in text, f"{path.name}: {line!r} is not on its page"
        shown = [src for src in page.images if "_images/" in src]
        assert len(shown) >= images, f"{path.name}: {len(shown)} of {images} plots shown"
        assert page.widgets >= widgets, f"{path.name}: {page.widgets} of {widgets} widgets"
        assert "Run this lesson live" in text and "raykit @ git+" + REPO in text, path.name
        raw = page_file.read_text()
        binder = "https://mybinder.org/v2/gh/example/raykit/main?urlpath=lab/tree/notebooks/"
        colab = "https://colab.research.google.com/github/example/raykit/blob/main/notebooks/"
        assert binder + path.name in raw and colab + path.name in raw, path.name
        # Never re-executed, and nothing fetched from elsewhere to show it.
        assert not [s for s in page.scripts if urlsplit(s).scheme], page.scripts
    # A widget drawn as the run left it: lesson 00's cluster view, with this run's CPU count.
    text00 = _squash("".join(_parse(html / "notebooks" / "00_welcome.html").text))
    assert re.search(r"[\d.]+ / \d+ CPUs in use", text00), "lesson 00's cluster view is missing"


@pytest.mark.lesson
@pytest.mark.after_lessons
def test_site_has_search_previous_next_and_no_broken_internal_link(site):
    html, _ = site
    # _static/ holds the theme's template macros (not pages), copied as they are.
    pages = {p: _parse(p) for p in html.rglob("*.html") if "_static" not in p.parts}
    broken = []
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("//", "mailto:", "javascript:", "data:")):
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{path.relative_to(html)}: {link}")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{path.relative_to(html)}: {link} (no such anchor)")
    assert not broken, f"{len(broken)} broken internal links: {broken[:20]}"
    # Previous/next, in lesson order.
    first, second, third = (html / "notebooks" / f"{p.stem}.html" for p in LESSONS[:3])
    raw = second.read_text()
    assert re.search(rf'class="left-prev"[^>]*href="{first.name}"', raw) or re.search(
        rf'href="{first.name}"[^>]*class="left-prev"', raw
    ), "lesson 01 has no link back to lesson 00"
    assert re.search(rf'href="{third.name}"[^>]*class="right-next"', raw) or re.search(
        rf'class="right-next"[^>]*href="{third.name}"', raw
    ), "lesson 01 has no link on to lesson 02"
    # Sphinx's own full-text search, offline: the index knows the lessons' words.
    assert (html / "search.html").is_file()
    index = (html / "searchindex.js").read_text()
    assert "00_welcome" in index and "actor" in index.lower()


@pytest.mark.lesson
@pytest.mark.after_lessons
def test_executed_lessons_are_kept_for_make_site(site):
    """The lesson pool leaves each executed lesson where `make site` looks for it."""
    from _lessons import EXECUTED_DIR

    for path in LESSONS:
        kept = EXECUTED_DIR / path.name
        assert kept.is_file(), f"{kept} is missing: make site would not find it"
        assert json.loads((EXECUTED_DIR / f"{path.stem}.json").read_text())["lesson"] == path.name


@pytest.mark.lesson
@pytest.mark.browser
@pytest.mark.after_lessons
def test_site_pages_in_a_real_browser(site):
    """Two pages in Chromium, screenshots saved: the lesson map, and lesson 00 at its cluster
    view drawn from the run."""
    from test_browser import CHROMIUM, CHROMIUM_ARGS, _missing

    if not Path(CHROMIUM).exists():
        _missing("Debian's chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import sync_playwright

    html, _ = site
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto((html / "index.html").as_uri())
        assert page.locator("table a", has_text="Welcome").count() == 1
        page.screenshot(path=str(ARTIFACTS / "lesson_map.png"))
        page.goto((html / "notebooks" / "00_welcome.html").as_uri())
        assert page.locator(".raykit-live").count() == 1
        # The launch menu lists Binder and Colab.
        assert page.locator("a[href*='mybinder.org']").count() >= 1
        assert page.locator("a[href*='colab.research.google.com']").count() >= 1
        view = page.locator(".raykit-widget", has_text="CPUs in use").first
        view.scroll_into_view_if_needed()
        assert view.is_visible()
        page.screenshot(path=str(ARTIFACTS / "lesson00_cluster_view.png"))
        browser.close()
    assert (ARTIFACTS / "lesson_map.png").stat().st_size > 10_000
