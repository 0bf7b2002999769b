"""Build the course site from the lessons as the test suite executed them: ``make site``.

Nothing is executed here. The suite's lesson pool (tests/_lessons.py) copies every lesson it ran
to ``build/executed/`` (the lesson with its outputs, and ``NN_name.json``, the run's summary);
``raykit run --smoke -o build/executed`` leaves the same notebooks with a ``summary.json``. This
script stages those notebooks for Sphinx (each with a "run it live" box after its header, its
hidden solutions folded away, and its widgets drawn as static HTML from the run's saved state),
writes the lesson map from the lessons' own header cells, and runs Sphinx with ``site/conf.py``.

    python site/build_site.py                          # build/executed -> build/site/html
    python site/build_site.py --executed DIR --out DIR --only 00,01

Exit status: 0 built; 2 when a lesson has no executed copy or its run failed (the message says
how to run it), or for a bad argument; 1 when Sphinx fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat

SITE = Path(__file__).resolve().parent
ROOT = SITE.parent
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_EXECUTED = ROOT / "build" / "executed"
DEFAULT_OUT = ROOT / "build" / "site"
INSTALL_CELL = SITE / "colab_install.py"
KIT_PLACEHOLDER = "__KIT__"

# What a lesson needs beyond Python packages, found in its code cells. Each: a pattern, a short
# label for the lesson map, and what it means on a hosted notebook.
NEEDS = [
    (
        r"raykit\.MiniCluster\(",
        "several Ray nodes",
        "starts several Ray nodes (`raykit.MiniCluster`, one `ray start` each) on the one "
        "machine, each with its own object store",
    ),
    (
        r"raykit\.CeleryWorkers\(",
        "Dask, Celery and redis-server",
        "compares Ray with Dask and Celery: the kit's `compare` extra installs them, and Celery's "
        "broker is `redis-server` (a Debian package)",
    ),
    (
        r"redis-server|gcs_fault_tolerance",
        "redis-server",
        "its GCS fault-tolerance section needs `redis-server` (a Debian package; the section "
        "says so and skips itself where it is missing)",
    ),
    (
        r"raykit\.Prometheus\(",
        "prometheus",
        "its metrics section needs `prometheus` (a Debian package; the section says so and "
        "skips itself where it is missing)",
    ),
    (
        r"\bcrds\(\)",
        "KubeRay CRDs",
        "its strict validation uses KubeRay's CRDs: `raykit kuberay crds --download` fetches "
        "them once (a hosted notebook has the internet for it); without them it checks less, "
        "and says so",
    ),
]


class SiteError(Exception):
    """What stops the build, said so that the user knows what to run."""


@dataclass
class Lesson:
    """One lesson: its committed notebook, its header facts and its executed copy."""

    source: Path
    number: str = ""
    title: str = ""
    level: str = ""
    prerequisites: str = ""
    time: str = ""
    runs_on: str = ""  # where the header says it runs; runs_on(lesson) says what it should
    needs: list[tuple[str, str]] = field(default_factory=list)
    executed: Path | None = None
    run: str = ""  # how and when it ran, for the page
    failed: str = ""

    @property
    def name(self) -> str:
        return self.source.name


# --- the lessons: header facts, needs, executed copies ------------------------------------------


def read_lesson(path: Path) -> Lesson:
    """The facts a lesson's header cell states (number, title, level, prerequisites, time) and
    what its code needs beyond Python packages."""
    nb = nbformat.read(path, as_version=4)
    lesson = Lesson(path)
    header = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    first = header.strip().splitlines()[0] if header.strip() else ""
    match = re.match(r"#\s*(\d+)\s*·\s*(.+)", first)
    if match:
        lesson.number, lesson.title = match.group(1), match.group(2).strip()
    else:
        lesson.number, lesson.title = path.name[:2], first.lstrip("# ").strip() or path.stem
    flat = " ".join(header.split())
    for key, attr in (
        ("Level", "level"),
        ("Prerequisites", "prerequisites"),
        ("Time", "time"),
        ("Runs on", "runs_on"),
    ):
        found = re.search(rf"\*\*{key}:\*\*\s*(.+?)\s*(?:·\s*\*\*|\*\*You will|$)", flat)
        if found:
            setattr(lesson, attr, found.group(1).strip())
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    lesson.needs = [(label, why) for pattern, label, why in NEEDS if re.search(pattern, code)]
    return lesson


def find_executed(lessons: list[Lesson], executed: Path) -> None:
    """Attach each lesson's executed copy from ``executed`` (the lesson pool's ``NN_name.json``
    summaries, or ``raykit run``'s ``summary.json``); say when and how it ran."""
    runner = {}
    summary = executed / "summary.json"
    if summary.is_file():
        runner = {r["notebook"]: r for r in json.loads(summary.read_text())}
    for lesson in lessons:
        path = executed / lesson.name
        lesson.executed, lesson.run, lesson.failed = None, "", ""
        if not path.is_file():
            continue
        lesson.executed = path
        when = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        pool = executed / f"{lesson.source.stem}.json"
        # Both kinds of record may be there: the newer one belongs to the notebook on disk.
        newer_runner = lesson.name in runner and (
            not pool.is_file() or summary.stat().st_mtime >= pool.stat().st_mtime
        )
        if pool.is_file() and not newer_runner:
            info = json.loads(pool.read_text())
            if info.get("failed"):
                where, ename, _ = info["failed"]
                lesson.failed = f"cell {where}: {ename}"
            seconds = info.get("seconds")
            lesson.run = f"the test suite's run of {when}, in small mode" + (
                f", {seconds:.0f} s" if seconds else ""
            )
        elif lesson.name in runner:
            info = runner[lesson.name]
            if info.get("status") != "passed":
                lesson.failed = f"cell {info.get('cell_index')}: {info.get('error', '')[:80]}"
            lesson.run = f"`raykit run` of {when}, {info.get('seconds', 0):.0f} s"
        else:
            lesson.run = f"a run of {when}"


def check_complete(lessons: list[Lesson], executed: Path) -> None:
    missing = [lesson.name for lesson in lessons if lesson.executed is None]
    failed = [f"{lesson.name} ({lesson.failed})" for lesson in lessons if lesson.failed]
    if not missing and not failed:
        return
    lines = []
    if missing:
        lines.append(f"no executed copy in {executed} of: {', '.join(missing)}")
    if failed:
        lines.append(f"these lessons' last run failed: {'; '.join(failed)}")
    lines.append(
        "The site shows the lessons as the test suite ran them. Run them first, then `make site`:\n"
        "  make test                                   # every test; copies each lesson it runs\n"
        "  .venv/bin/raykit run --smoke -o build/executed   # only the lessons (about 30 min)\n"
        "or build from what is there: python site/build_site.py --only 00,01"
    )
    raise SiteError("\n".join(lines))


# --- staging: the notebooks and pages Sphinx reads ----------------------------------------------


def install_cell(kit: str) -> str:
    """The hosted notebook's first cell, installing ``kit`` (a pip requirement or a wheel)."""
    return INSTALL_CELL.read_text().replace(KIT_PLACEHOLDER, kit)


def kit_requirement(repo: str | None) -> str:
    return f"raykit @ git+{repo}" if repo else "raykit @ git+https://github.com/<you>/raykit"


def live_box(lesson: Lesson, repo: str | None) -> str:
    """The "run it live" box that goes after a lesson's header on its page."""
    needs = "".join(f"\n- {why}." for _, why in lesson.needs) or (
        "\n- nothing beyond the kit's Python packages."
    )
    return (
        "````{admonition} Run this lesson live\n"
        ":class: tip raykit-live\n\n"
        f"The outputs on this page come from {lesson.run}. To run it yourself, use the launch "
        "button (the rocket at the top of the page): **Binder** opens it in JupyterLab with "
        "everything installed, in small mode; **Colab** opens it in Google's hosted notebooks, "
        "where you run this cell first:\n\n"
        f"```python\n{install_cell(kit_requirement(repo))}```\n\n"
        f"What this lesson needs:{needs}\n\n"
        "See [where the lessons run](../hosted.md) for Binder, Colab and a local install.\n"
        "````\n"
    )


def stage_notebook(lesson: Lesson, dest: Path, repo: str | None) -> int:
    """Write the executed lesson to ``dest`` as the site shows it; return the widgets drawn."""
    from widget_snapshot import snapshot_outputs

    nb = nbformat.read(lesson.executed, as_version=4)
    drawn = snapshot_outputs(nb)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text/html" in out.get("data", {}):
                out["data"]["text/html"] = _unlink_local(out["data"]["text/html"])
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "solution" in tags and "hide-input" not in tags:
            tags.append("hide-input")  # folded away, as in the lesson: open it when stuck
    at = next((i + 1 for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), 0)
    nb.cells.insert(at, nbformat.v4.new_markdown_cell(live_box(lesson, repo)))
    nb.metadata.setdefault("raykit", {})["site_run"] = lesson.run
    # IPython's lexer: cells use `!cmd` and `%%magic`, which plain Python's lexer rejects.
    nb.metadata.setdefault("language_info", {"name": "python"})["pygments_lexer"] = "ipython3"
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return drawn


def ray_minor() -> str:
    """The Ray version the kit pins (stated once, in pyproject.toml), as ``2.60``."""
    from raykit._versions import expected_ray_version

    return ".".join(expected_ray_version().split(".")[:2])


_LOCAL_LINK = re.compile(
    r'<a\s[^>]*href="https?://(?:127\.0\.0\.1|localhost)[:/][^"]*"[^>]*>(.*?)</a>', re.S
)


def _unlink_local(html: str) -> str:
    """Links to the run's own servers (its dashboard on 127.0.0.1) lead nowhere from the
    site: keep their text, drop the link."""
    return _LOCAL_LINK.sub(r"\1", html)


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "-"


def index_page(lessons: list[Lesson]) -> str:
    rows = "\n".join(
        f"| {lesson.number} | [{_cell(lesson.title)}](notebooks/{lesson.name}) | "
        f"{_cell(lesson.level)} | {_cell(lesson.time)} | "
        f"{_cell(', '.join(label for label, _ in lesson.needs) or 'runs anywhere')} |"
        for lesson in lessons
    )
    toc = "\n".join(f"notebooks/{lesson.name.removesuffix('.ipynb')}" for lesson in lessons)
    return f"""# raykit: learn Ray {ray_minor()} in notebooks

A graded series of notebooks that run on current Ray, measure what they claim, check your
exercises from what Ray recorded, and show you the cluster they talk about. Every page below is a
lesson **as the test suite ran it**: the figures, plots and widgets are that run's, in small mode
on a 2-core machine; your own run measures your machine.

Open a lesson live with the launch button (the rocket) at the top of its page: Binder runs every
lesson with nothing to install; on Colab, the lesson's page gives the one cell to run first. On
your own machine: `git clone` the repository, then `make lab`.

## The lesson map

| # | Lesson | Level | Time | Needs beyond Python |
|---|--------|-------|------|---------------------|
{rows}

Each lesson starts with its level, prerequisites, what you will learn and its time estimate;
its exercises judge your own Ray code from what Ray recorded (tasks, actors, references).
[Where the lessons run](hosted.md) says what Binder and Colab give each one.

```{{toctree}}
:hidden:
:maxdepth: 1
:caption: Lessons

{toc}
```

```{{toctree}}
:hidden:
:caption: Running the lessons

hosted
```
"""


def hosted_page(lessons: list[Lesson], repo: str | None) -> str:
    rows = "\n".join(
        f"| [{lesson.number}](notebooks/{lesson.name}) | "
        f"{_cell(', '.join(label for label, _ in lesson.needs) or '-')} | "
        + (_colab_notes(lesson) or "nothing more")
        + " |"
        for lesson in lessons
    )
    binder = (
        f"[Binder]({_binder_url(repo)})" if repo else "Binder (set `RAYKIT_SITE_REPO` to link it)"
    )
    return f"""# Where the lessons run

## Binder

{binder} builds the repository's `binder/` folder: the kit's exact pins (torch's CPU build),
`redis-server` and `prometheus`, and small mode on (Binder gives about 2 GB of RAM). It opens
lesson 00 with the **Ray dashboard** and the kit's **cluster view** docked beside it: run the
lesson's first cells and both fill in. The dashboard asks once for Ray's token: run
`ray get-auth-token` in a terminal and paste it in.

## Colab and other hosted notebooks

The launch button opens the lesson from the repository. Run this cell first: it installs the kit
from the repository (its datasets travel inside the package), keeps the runtime's own torch
rather than downloading another multi-GB build, and does nothing where the kit is installed.

```python
{install_cell(kit_requirement(repo))}```

Colab gives root and `apt-get`: `!apt-get install -y redis-server prometheus` before a lesson
gives its Redis and Prometheus sections what they need. Small mode: `%env RAYKIT_SMOKE=1`.

| lesson | needs beyond Python | on Colab, after the install cell |
|---|---|---|
{rows}

Binder has all of these installed. What was run where: the test suite runs every lesson in
small mode on a 2-core Linux machine, and `tests/test_wheel_install.py` installs the kit with
the cell above into a fresh environment and runs lessons 00 and 01 from it. The notebooks have
not been run on Colab or on Binder's servers by the suite.

## On your own machine

`git clone` the repository, then `make lab` (JupyterLab on 127.0.0.1, lesson 00 open) or
`make test` (every lesson in small mode, and the unit tests).
"""


def runs_on(lesson: Lesson) -> str:
    """What a lesson's header says under **Runs on**, from what its code needs: the notebook
    says it to a learner who opened it anywhere, the site to one who reads the page."""
    where = (
        "Binder and your own machine as they are; "
        "Colab after the install cell on the lesson's site page"
    )
    if not lesson.needs:
        return where
    return f"{where}, plus: {_colab_notes(lesson)}"


def _colab_notes(lesson: Lesson) -> str:
    """What a hosted notebook needs for this lesson beyond the install cell ("" for nothing)."""
    return "; ".join(_colab_note(label) for label, _ in lesson.needs)


def _colab_note(label: str) -> str:
    return {
        "several Ray nodes": "several Ray nodes on the one VM",
        "redis-server": "`apt-get install redis-server` for the GCS section",
        "Dask, Celery and redis-server": "`pip install 'raykit[compare]'` and "
        "`apt-get install redis-server`",
        "prometheus": "`apt-get install prometheus` for the metrics section",
        "KubeRay CRDs": "`raykit kuberay crds --download` once",
    }.get(label, label)


def _binder_url(repo: str) -> str:
    owner_name = repo.removeprefix("https://github.com/").strip("/")
    return f"https://mybinder.org/v2/gh/{owner_name}/{branch()}?urlpath=lab"


# --- where the repository lives (launch buttons) ------------------------------------------------


def repository() -> str | None:
    """The GitHub URL the launch buttons open: ``RAYKIT_SITE_REPO``, else GitHub Actions'
    ``GITHUB_REPOSITORY``, else the ``origin`` remote; None when none says."""
    if os.environ.get("RAYKIT_SITE_REPO"):
        return os.environ["RAYKIT_SITE_REPO"].rstrip("/").removesuffix(".git")
    if os.environ.get("GITHUB_REPOSITORY"):
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{os.environ['GITHUB_REPOSITORY']}"
    remote = _git("remote", "get-url", "origin")
    if remote:
        remote = re.sub(r"^git@github\.com:", "https://github.com/", remote)
        if remote.startswith("https://github.com/"):
            return remote.rstrip("/").removesuffix(".git")
    return None


def branch() -> str:
    """``RAYKIT_SITE_BRANCH``, else the branch checked out, else ``main``."""
    return os.environ.get("RAYKIT_SITE_BRANCH") or _git("branch", "--show-current") or "main"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10
        )
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


# --- the build ---------------------------------------------------------------------------------


def build(executed: Path, out: Path, only: list[str] | None = None) -> Path:
    """Stage the lessons and run Sphinx; return the folder of the HTML site."""
    sys.path.insert(0, str(SITE))
    lessons = [read_lesson(p) for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))]
    if only:
        lessons = [lesson for lesson in lessons if lesson.number in only]
        if not lessons:
            raise SiteError(f"--only {','.join(only)} names no lesson in {NOTEBOOKS}")
    find_executed(lessons, executed)
    check_complete(lessons, executed)
    repo = repository()
    if repo is None:
        print(
            "no repository URL (set RAYKIT_SITE_REPO=https://github.com/OWNER/NAME, or add a "
            "GitHub `origin` remote): the site has no Binder or Colab buttons"
        )
    src, html = out / "src", out / "html"
    for stale in (src, html, out / "doctrees"):  # a fresh build: no page of an earlier one stays
        shutil.rmtree(stale, ignore_errors=True)
    (src / "notebooks").mkdir(parents=True)
    drawn = sum(stage_notebook(lesson, src / "notebooks" / lesson.name, repo) for lesson in lessons)
    (src / "index.md").write_text(index_page(lessons))
    (src / "hosted.md").write_text(hosted_page(lessons, repo))
    env = {
        "RAYKIT_SITE_REPO_URL": repo or "",
        "RAYKIT_SITE_BRANCH_NAME": branch(),
        "RAYKIT_SITE_TITLE": f"raykit: learn Ray {ray_minor()}",
    }
    os.environ.update(env)
    from sphinx.cmd.build import build_main

    status = build_main(
        ["-b", "html", "-q", "-c", str(SITE), "-d", str(out / "doctrees"), str(src), str(html)]
    )
    if status:
        raise SiteError(f"sphinx-build failed (exit {status})")
    print(f"{len(lessons)} lessons, {drawn} widget outputs drawn from the run's saved state")
    return html


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executed", type=Path, default=DEFAULT_EXECUTED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--only", help="lesson numbers to build, e.g. 00,01 (default: all)")
    args = parser.parse_args(argv)
    only = [n.strip().zfill(2) for n in args.only.split(",")] if args.only else None
    started = time.perf_counter()
    try:
        html = build(args.executed, args.out, only)
    except SiteError as exc:
        print(f"make site: {exc}", file=sys.stderr)
        return 1 if "sphinx-build failed" in str(exc) else 2
    seconds = time.perf_counter() - started
    print(
        f"site built in {seconds:.1f} s: {html / 'index.html'} "
        f"({_size(html) / 1e6:.1f} MB); serve it with "
        f"`python -m http.server -d {html} -b 127.0.0.1 8000`"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
