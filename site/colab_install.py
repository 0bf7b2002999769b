# Colab and other hosted notebooks: install raykit (once; skipped where it is).
# A torch already here is kept: the kit's exact torch pin is for its own venv.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("raykit") is None:
    KIT = "__KIT__"
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    if sys.version_info[:2] != (3, 11):
        print(f"raykit is tested on Python 3.11, not {sys.version[:4]}: trying")
        pip.append("--ignore-requires-python")
    subprocess.run([*pip, "--no-deps", KIT], check=True)
    importlib.invalidate_caches()
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    keep_torch = importlib.util.find_spec("torch") is not None
    deps = []
    for req in map(Requirement, requires("raykit")):
        if req.marker and not req.marker.evaluate({"extra": ""}):
            continue  # an extra (test, site) or another platform's
        if keep_torch and req.name == "torch":
            continue  # this runtime's own torch stays
        deps.append(str(req))
    subprocess.run([*pip, *deps], check=True)
    print("raykit installed", "(kept this runtime's torch)" if keep_torch else "")
