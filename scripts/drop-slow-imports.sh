#!/usr/bin/env bash
# Removes rfc3987-syntax from the environment of the given Python (default: python).
#
# Jupyter pulls it in (jupyter-events -> jsonschema[format-nongpl]); jsonschema imports it, if
# present, for its "iri" format checker, and it compiles 39 Lark grammars at import time. Ray
# imports jsonschema (ray.runtime_env), so every process that imports Ray paid for it: each Ray
# worker, each driver, each kernel's `import ray`. Measured on this 2-core host (2026-12-07):
# `import ray` 2.2-2.6 s with it, 0.5-0.7 s without; ray.init() 15-17 s against 4-8 s. Without it
# jsonschema checks every format it checked before 4.24 and skips "iri" (no schema of Ray,
# Jupyter or the kit uses it). Upstream: python-jsonschema/jsonschema#1428.
# pip puts it back on the next install that resolves jupyter-events: run this after each one.
set -euo pipefail
PYTHON="${1:-python}"
if "$PYTHON" -m pip show --quiet rfc3987-syntax >/dev/null 2>&1; then
  "$PYTHON" -m pip uninstall --quiet --yes rfc3987-syntax
fi
