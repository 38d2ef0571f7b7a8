"""A loopback TCP proxy in front of PostgreSQL that can lose the answer to a COMMIT: the database
commits, and the client's connection breaks before it hears so (as when a network path dies at
that moment). It reads the wire protocol's framing (an untyped start-up message, then typed
messages) and nothing else; connect through it with `sslmode=disable&gssencmode=disable`."""

from __future__ import annotations

import select
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class CommitDropper:
    """Listens on 127.0.0.1 (port 0), forwards each connection to `target`. Once `arm(marker)`
    is called, the first transaction whose client bytes contain `marker` commits on the server,
    and its client gets no answer: both sockets are closed instead."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._marker: bytes | None = None
        self._lock = threading.Lock()
        self.dropped = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def arm(self, marker: bytes) -> None:
        with self._lock:
            self._marker = marker
            self.dropped.clear()

    def _take(self, seen: bytes) -> bool:
        with self._lock:
            if self._marker is not None and self._marker in seen:
                self._marker = None
                return True
            return False

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(self._target)
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()

    def _pipe(self, client: socket.socket, server: socket.socket) -> None:
        """Forward both ways; client bytes are split into messages to see each COMMIT."""
        framer = _Framer()
        seen = b""  # the client's bytes since its transaction began
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([client, server], [], [], 0.2)
                if server in ready and not _forward(server, client):
                    return
                if client not in ready:
                    continue
                data = client.recv(65536)
                if not data:
                    return
                for message in framer.feed(data):
                    seen += message
                    committing = message[:1] in (b"Q", b"P") and b"COMMIT" in message.upper()
                    server.sendall(message)
                    if committing and self._take(seen):
                        self._await_commit(server)
                        self.dropped.set()
                        return  # the answer is lost: both ends are closed below
                    if message[:1] == b"Q" and (b"COMMIT" in message or b"ROLLBACK" in message):
                        seen = b""
        finally:
            client.close()
            server.close()

    @staticmethod
    def _await_commit(server: socket.socket) -> None:
        """Read the server's answer to the COMMIT until it says it is done (ReadyForQuery)."""
        answer = b""
        server.settimeout(10)
        while b"Z\x00\x00\x00\x05" not in answer:
            data = server.recv(65536)
            if not data:
                return
            answer += data

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=5)


def _forward(source: socket.socket, to: socket.socket) -> bool:
    data = source.recv(65536)
    if data:
        to.sendall(data)
    return bool(data)


class _Framer:
    """Splits a client's bytes into protocol messages: the untyped start-up message, then
    typed ones (a type byte and a length that counts itself)."""

    def __init__(self) -> None:
        self._pending = b""
        self._started = False

    def feed(self, data: bytes) -> list[bytes]:
        self._pending += data
        messages: list[bytes] = []
        while True:
            offset = 0 if not self._started else 1
            if len(self._pending) < offset + 4:
                return messages
            (length,) = struct.unpack("!I", self._pending[offset : offset + 4])
            if len(self._pending) < offset + length:
                return messages
            messages.append(self._pending[: offset + length])
            self._pending = self._pending[offset + length :]
            self._started = True


@contextmanager
def commit_dropper(host: str = "127.0.0.1", port: int = 5432) -> Iterator[CommitDropper]:
    proxy = CommitDropper((host, port))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
