"""gunicorn settings for Pulse Leads, read by `gunicorn wsgi:app` from the working directory.

Every value comes from the environment with a default fit for one host behind nginx. Logs are
JSON lines: the access log on stdout, the server's and the app's own logs on stderr.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.glogging import Logger

from app.logs import AccessJsonFormatter, ServerJsonFormatter, install_root_handler


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _default_workers() -> int:
    # gunicorn's advice, 2 x cores + 1, capped: past a dozen processes a single database
    # (SQLite's one writer, PostgreSQL's connection count) gains nothing from more.
    return min(2 * (os.cpu_count() or 1) + 1, 12)


# PORT alone binds every interface, as gunicorn itself does; behind nginx keep 127.0.0.1.
bind = os.environ.get("GUNICORN_BIND") or (
    f"0.0.0.0:{os.environ['PORT']}" if os.environ.get("PORT") else "127.0.0.1:8000"
)
workers = _int("WEB_CONCURRENCY", _default_workers())
threads = _int("GUNICORN_THREADS", 1)
timeout = _int("GUNICORN_TIMEOUT", 30)  # a worker silent for this long is killed and replaced
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)  # on SIGTERM: finish what is running
keepalive = _int("GUNICORN_KEEPALIVE", 5)  # seconds; nginx reuses its upstream connections
# Replace each worker after about this many requests (jittered, so not all at once).
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", max(max_requests // 10, 0))
# Loading the app once in the master saves memory; the engine is disposed after fork (below).
preload_app = _flag("GUNICORN_PRELOAD")
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn 25+ opens a control socket (for gunicornc) at a path shared by every gunicorn of
# the same user: off unless a path of its own is given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # heartbeat files in memory: a slow disk never stalls workers


class JsonLogger(Logger):
    """gunicorn's logger with JSON lines, which also sends the app's logs to stderr as JSON."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log, formatter in (
            (self.error_log, ServerJsonFormatter()),
            (self.access_log, AccessJsonFormatter()),
        ):
            for handler in log.handlers:
                handler.setFormatter(formatter)
        install_root_handler(self.loglevel)


logger_class = JsonLogger


def post_fork(server: Any, worker: Any) -> None:
    """With preload_app, the master built the app: give each worker a pool of its own."""
    app = getattr(worker.app, "callable", None)
    if app is None or not hasattr(app, "app_context"):
        return  # not preloaded: the worker builds its app (and engine) after the fork
    from app.extensions import db

    with app.app_context():
        # close=False: leave the master's connections (if any) alone, just stop using them.
        db.engine.dispose(close=False)
    server.log.info("worker %s: a connection pool of its own", worker.pid)
