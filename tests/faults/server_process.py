"""``pigen serve`` in a child process: real HTTP, a real kill -9, a restart on the same store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.utils.live_server import free_port

#: Start-up (migrate, load ALS and generators) on a busy 2-core machine: minutes at worst.
START_TIMEOUT_S = 600.0


class ServerProcess:
    """One ``pigen serve`` on a free port, configured only by the ``PIGEN_*`` given.

    ``before_exec`` runs in the child before ``pigen`` starts (e.g. ``setrlimit``).
    Its output is kept in :attr:`output` (a pipe: not a file a size limit applies to).
    """

    def __init__(self, cwd: Path, settings: dict[str, str],
                 before_exec: Callable[[], None] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cwd = cwd  # no .env there: only ``settings`` configure it
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PIGEN_")}
        self.env.update({"OMP_NUM_THREADS": "1", "PIGEN_DEVICE": "cpu",
                         "PIGEN_GENERATOR_THREADS": "1", "PIGEN_MODEL_REFRESH_SECONDS": "0",
                         "PYTHONUNBUFFERED": "1", **settings})
        self.before_exec = before_exec
        self.output: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> ServerProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pigen.service.cli", "serve", "--port", str(self.port)],
            cwd=self.cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, preexec_fn=self.before_exec)  # runs before exec, in the child
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pigen serve exited: {self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        raise TimeoutError(f"pigen serve did not become ready: {self.log()}")

    def kill(self) -> None:
        """kill -9: no shutdown handler, no flush, no clean-up."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return "".join(self.output[-60:])

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
