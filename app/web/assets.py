"""The pinned htmx: one version, one integrity hash, served from the CDN or from static/."""

from __future__ import annotations

from flask import current_app, url_for

HTMX_VERSION = "2.0.11"
HTMX_FILE = f"vendor/htmx-{HTMX_VERSION}.min.js"
HTMX_CDN_URL = f"https://cdn.jsdelivr.net/npm/htmx.org@{HTMX_VERSION}/dist/htmx.min.js"
# sha384 of static/vendor/htmx-2.0.11.min.js, the same file as the npm package and the CDN.
HTMX_INTEGRITY = "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg"


def htmx_src() -> str:
    """Where pages load htmx from: the CDN, or this app when HTMX_SOURCE=local."""
    if current_app.config["HTMX_SOURCE"] == "local":
        return url_for("static", filename=HTMX_FILE)
    return HTMX_CDN_URL
