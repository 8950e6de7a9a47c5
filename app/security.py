"""Security headers on every response: a strict Content-Security-Policy and friends."""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from app.web.assets import HTMX_CDN_URL


def content_security_policy() -> str:
    """Scripts only from this app (and the pinned htmx file on the CDN), no inline script or
    style, no eval; images also from https (a lead's picture); never inside a frame."""
    scripts = "'self'" if current_app.config["HTMX_SOURCE"] == "local" else f"'self' {HTMX_CDN_URL}"
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


def _add_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    # Flask-WTF's CSRF check needs a same-origin Referer over HTTPS: not "no-referrer".
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def register_security_headers(app: Flask) -> None:
    app.after_request(_add_headers)
