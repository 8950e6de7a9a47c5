"""Security headers on every response: a strict Content-Security-Policy and friends."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, request

from app.web.assets import HTMX_CDN_URL


def content_security_policy(htmx_source: str) -> str:
    """Scripts only from this app (and the pinned htmx file on the CDN), no inline script or
    style, no eval; images also from https (a lead's picture); never inside a frame."""
    scripts = "'self'" if htmx_source == "local" else f"'self' {HTMX_CDN_URL}"
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self'",
            "img-src 'self' https: data:",
            "connect-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        )
    )


def security_headers(htmx_source: str) -> tuple[tuple[str, str], ...]:
    return (
        ("Content-Security-Policy", content_security_policy(htmx_source)),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        # Flask-WTF's CSRF check needs a same-origin Referer over HTTPS: not "no-referrer".
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    )


HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def add_missing(response: Response, headers: Iterable[tuple[str, str]]) -> None:
    """Add each header the response does not have yet (one pass over its headers: werkzeug's
    setdefault scans them and raises an exception for every header it does not find)."""
    present = {name.lower() for name, _ in response.headers}
    response.headers.extend([(k, v) for k, v in headers if k.lower() not in present])


# Pages hold lead data and forms with CSRF tokens: never kept by the browser (after sign-out
# it would still show them) or a shared cache. Static files keep their own caching.
NO_STORE = ("Cache-Control", "no-store")


def register_security_headers(app: Flask) -> None:
    headers = security_headers(app.config["HTMX_SOURCE"])
    dynamic = (*headers, NO_STORE)

    @app.after_request
    def _add_headers(response: Response) -> Response:
        chosen = headers if request.endpoint == "static" else dynamic
        add_missing(response, (*chosen, HSTS) if request.is_secure else chosen)
        return response
