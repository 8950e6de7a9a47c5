"""Request bodies are read whole or refused: a streamed body over MAX_CONTENT_LENGTH is a 413.

werkzeug enforces MAX_CONTENT_LENGTH on a body sent in chunks (no Content-Length) by reading
no further than the limit, but its readall() stops at the limit without a word: a JSON object
padded past 1 MiB with spaces was cut at 1 MiB and accepted. One more byte read tells whether
the client sent more.
"""

from __future__ import annotations

from typing import IO

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream


class _WholeBody(LimitedStream):
    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self._stream.read(1):
            raise RequestEntityTooLarge()
        return data


class BoundedRequest(Request):
    """Flask's request, whose streamed body is never silently cut at the size limit."""

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        if limit is None or "wsgi.input_terminated" not in self.environ:
            return super().stream  # a Content-Length, or no limit: werkzeug's own checks
        if (self.content_length or 0) > limit:
            raise RequestEntityTooLarge()
        return _WholeBody(self.environ["wsgi.input"], limit, is_max=True)  # type: ignore[return-value]
