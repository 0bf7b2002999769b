"""A Jupyter kernel driven cell by cell, for tests that run a notebook's cells in chosen orders."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class CellRun:
    """What one execution printed and displayed, and its error (``ename``, ``evalue``,
    ``traceback``) when it failed."""

    text: str = ""
    error: dict | None = None
    displays: list[dict] = field(default_factory=list)
    payload: list[dict] = field(default_factory=list)  # e.g. set_next_input

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def of(cls, cell) -> CellRun:
        """What an executed notebook cell (nbformat) holds, as a CellRun."""
        run = cls()
        parts = []
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream":
                parts.append(out.get("text", ""))
            elif kind in ("execute_result", "display_data"):
                run.displays.append(dict(out.get("data", {})))
                parts.append(out.get("data", {}).get("text/plain", "") + "\n")
            elif kind == "error" and run.error is None:
                run.error = {k: out.get(k) for k in ("ename", "evalue", "traceback")}
        run.text = "".join(parts)
        return run


class Kernel:
    """An IPython kernel (this venv's ``python3``) started in ``cwd`` with extra ``env``."""

    def __init__(self, cwd: str | Path, env: dict | None = None, timeout: float = 900):
        from jupyter_client.manager import KernelManager

        from raykit._runner import kernel_sockets

        self.timeout = timeout
        full_env = dict(os.environ) | {k: str(v) for k, v in (env or {}).items()}
        self._sockets = contextlib.ExitStack()  # the kernel's socket folder, kept until close()
        config = self._sockets.enter_context(kernel_sockets())
        self.km = KernelManager(kernel_name="python3", config=config)
        self.km.start_kernel(cwd=str(cwd), env=full_env)
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=120)
        except RuntimeError:
            self.close()
            raise

    def run(self, code: str, timeout: float | None = None) -> CellRun:
        """Execute ``code`` as a cell (IPython syntax, history, events) and collect its output."""
        result = CellRun()
        parts: list[str] = []

        def hook(msg):
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                parts.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                result.displays.append(content["data"])
                parts.append(content["data"].get("text/plain", "") + "\n")
            elif kind == "error":
                result.error = content

        reply = self.kc.execute_interactive(
            code, timeout=timeout or self.timeout, output_hook=hook, allow_stdin=False
        )
        if reply["content"]["status"] == "error" and result.error is None:
            result.error = reply["content"]
        result.payload = reply["content"].get("payload", [])
        result.text = "".join(parts)
        return result

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)
        self._sockets.close()

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
