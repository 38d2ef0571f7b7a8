"""A real HTTP server on loopback for the stand-ins of Slack and GitHub: bound at port 0 by
default (the system picks a free port, and the socket is kept from bind to `stop`, so no other
process takes it meanwhile), serving each request in a thread of its own, and stopping at
once; and the quiet request handler both build theirs on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

SHUTDOWN_POLL_SECONDS = 0.01  # how soon `stop` returns (`serve_forever` polls for it)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 resets connections under a burst of clients
    daemon_threads = True


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers in one call (`_send`); a client that
    went away meanwhile is no error."""

    def log_message(self, format: str, *args: object) -> None:
        return

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        extra: dict[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            return


class LoopbackServer:
    _lock: threading.Condition  # notified whenever what the stand-in records changes

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str, port: int) -> None:
        self._server = _Server((host, port), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), daemon=True
        )

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def wait_for(self, predicate: Callable[[Self], bool], timeout: float = 30.0) -> bool:
        """Whether `predicate` held within `timeout` seconds (checked at each change)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"
