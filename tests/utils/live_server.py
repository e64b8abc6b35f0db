"""A real HTTP server for any ASGI app, in a thread on a free loopback port.

For browser tests and load tests that need sockets, not a TestClient::

    with LiveServer(app) as server:
        page.goto(server.url + "/demo/")
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """Runs ``app`` under uvicorn (lifespan included) until the ``with`` block ends."""

    def __init__(self, app: object, port: int | None = None, startup_timeout: float = 60.0
                 ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", access_log=False)  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)
        self._timeout = startup_timeout

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the live server exited during start-up")
            if time.monotonic() > deadline:
                self.server.should_exit = True
                raise TimeoutError(f"the live server did not start in {self._timeout}s")
            time.sleep(0.02)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
