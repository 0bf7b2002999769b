"""The ``raykit`` command: ``raykit run`` executes notebooks, ``raykit doctor`` checks the host."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from ._runner import DEFAULT_CELL_TIMEOUT_S, run_notebooks, save_and_print
from .exceptions import NotebookError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parse_value(text: str):
    """``-p N 10`` gives the int 10, ``-p NAME abc`` the string 'abc' (like papermill's -p)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="raykit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute notebooks with papermill, each in a fresh kernel")
    run.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="notebooks to run (default: all of notebooks/ in order)",
    )
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a parameter (repeatable)",
    )
    run.add_argument(
        "--smoke",
        action="store_true",
        help="small mode: RAYKIT_SMOKE=1 for the kernels (what CI runs)",
    )
    run.add_argument(
        "--timeout",
        type=int,
        default=DEFAULT_CELL_TIMEOUT_S,
        help="seconds any one cell may run (default: %(default)s)",
    )
    run.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        default=Path("executed"),
        help="folder for executed copies, summary.json and junit.xml (default: %(default)s)",
    )
    run.add_argument("--kernel", default=None, help="Jupyter kernel name (default: the notebook's)")

    sub.add_parser("doctor", help="check Python, Ray, libraries and this host against the kit")

    grade = sub.add_parser(
        "grade", help="run learners' notebooks with solutions off; report every exercise"
    )
    grade.add_argument("notebooks", nargs="+", type=Path, help="the submitted notebooks")
    grade.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        default=Path("graded"),
        help="folder for executed copies, grades.json and junit.xml (default: %(default)s)",
    )
    grade.add_argument("--smoke", action="store_true", help="small mode: RAYKIT_SMOKE=1")
    grade.add_argument(
        "--timeout", type=int, default=DEFAULT_CELL_TIMEOUT_S, help="seconds any one cell may run"
    )
    grade.add_argument("--kernel", default=None, help="Jupyter kernel name")

    progress = sub.add_parser("progress", help="your exercises per lesson: solved, solution, not")
    progress.add_argument("--json", action="store_true", help="print the rows as JSON")

    kuberay = sub.add_parser("kuberay", help="KubeRay helpers")
    kuberay_sub = kuberay.add_subparsers(dest="kuberay_command", required=True)
    crds = kuberay_sub.add_parser(
        "crds",
        help="find the KubeRay CRDs: RAYKIT_KUBERAY_CRDS, the cache, the cluster, or download",
    )
    crds_how = crds.add_mutually_exclusive_group()
    crds_how.add_argument(
        "--download", action="store_true", help="download the release files into the cache now"
    )
    crds_how.add_argument(
        "--offline", action="store_true", help="look at the env var and cache only"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "kuberay":
        from .kuberay._crds import crds_command

        return crds_command(download=args.download, offline=args.offline)
    if args.command == "doctor":
        from ._doctor import doctor

        report = doctor()
        print(report)
        return EXIT_OK if report.ok else EXIT_FAILED
    if args.command == "grade":
        from ._grade import grade_command

        return grade_command(args)
    if args.command == "progress":
        from ._progress import progress_command

        return progress_command(args)

    params = {name: _parse_value(value) for name, value in args.parameter}
    try:
        report = run_notebooks(
            args.notebooks or None,
            parameters=params,
            smoke=args.smoke,
            timeout=args.timeout,
            output_dir=args.output_dir,
            kernel_name=args.kernel,
        )
    except NotebookError as exc:
        print(f"raykit run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    save_and_print(report, args.output_dir, "summary.json")
    return EXIT_OK if report.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
