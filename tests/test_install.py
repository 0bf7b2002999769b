"""The environment `make install` (and Binder's postBuild) leaves: Ray imports without compiling
jsonschema's IRI grammars (scripts/drop-slow-imports.sh says why)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_ray_and_jupyter_compiles_no_iri_grammar():
    """1.5 s of every Ray worker's start on this host went to rfc3987-syntax's Lark grammars."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, ray, nbformat, jupyter_events.validators\n"
            "print(sorted(m for m in ('lark', 'rfc3987_syntax') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # In a fresh clone only `make install`'s call of the script makes this pass.
    assert loaded.strip() == "[]", "run `bash scripts/drop-slow-imports.sh .venv/bin/python`"
