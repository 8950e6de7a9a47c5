"""A TCP proxy that can play a database outage, for tests and bench/outage.py.

It forwards 127.0.0.1:<port> to a target (PostgreSQL). `cut()` drops every connection and
refuses new ones, as a stopped server does; `stall()` drops them and then accepts new ones but
never answers, as an unreachable host does; `blackhole()` drops every byte both ways without
closing anything, open connections included, as a network partition does (a pulled cable, a
failover); `drop_connections()` breaks the open connections only; `restore()` serves again on
the same port. The real server is never touched.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

_POLL = 0.05  # seconds between checks of the listening socket's state


class TcpProxy:
    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._forwarding = True
        self._dropping = False  # blackhole: read and discard, both ways

    def __enter__(self) -> TcpProxy:
        self.start()
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, tb: TracebackType | None):
        self.close()

    def start(self) -> None:
        """Listen (on a free port the first time, on the same port after a cut)."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(_POLL)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Drop every connection and refuse new ones (connection refused)."""
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self.drop_connections()

    def stall(self) -> None:
        """Drop every connection; accept new ones but never forward a byte."""
        self._forwarding = False
        self.drop_connections()

    def blackhole(self) -> None:
        """Drop every byte both ways and answer nothing, closing no connection; new ones are
        accepted and held silent. (A kernel in between still acknowledges what is sent: only
        the app's own bound on its waits can notice.)"""
        self._dropping = True
        self._forwarding = False

    def restore(self) -> None:
        """Forward again: listen on the same port if cut."""
        self._dropping = False
        self._forwarding = True
        if self._listener is None:
            self.start()

    def drop_connections(self) -> None:
        """Break every open connection, both ways, as a server crash would."""
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            _close(connection)

    def close(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            with self._lock:
                if self._listener is not listener:
                    return
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._open(client)

    def _open(self, client: socket.socket) -> None:
        client.settimeout(None)
        with self._lock:
            self._connections.add(client)
        if not self._forwarding:
            return  # held open, silent, until dropped
        try:
            server = socket.create_connection(self.target)
        except OSError:
            _close(client)
            return
        with self._lock:
            self._connections.add(server)
        for source, sink in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self._dropping:
                    sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._connections.difference_update((source, sink))
        _close(source)
        _close(sink)


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()
