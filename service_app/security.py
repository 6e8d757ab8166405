"""Response headers and redirect-target checks."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote, urlsplit

from flask import Request, Response, request
from werkzeug.datastructures import FileStorage, ImmutableMultiDict, iter_multi_items
from werkzeug.routing import IntegerConverter, Map

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def add_security_headers(response: Response) -> Response:
    """Headers every response carries."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response


def safe_next_path(target: str | None, default: str = "/") -> str:
    """A local path to go to after sign-in; anything that could leave the site gives default."""
    if not target:
        return default
    decoded = unquote(target)
    if decoded != target and safe_next_path(decoded, default) == default:
        return default  # an encoded backslash or slash that would decode into another host
    if any(ch in target for ch in "\\\r\n\t\x00") or not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def local_referrer(default: str) -> str:
    """The page a form was posted from, as a local path, when it is a page of this site; else default."""
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return default
    return safe_next_path(parts.path + (f"?{parts.query}" if parts.query else ""), default)


def _without_nul(value: Any) -> Any:
    if isinstance(value, FileStorage) and value.filename:
        value.filename = value.filename.replace("\x00", "")
        return value
    return value.replace("\x00", "") if isinstance(value, str) else value


class NulFreeMultiDict(ImmutableMultiDict[str, Any]):
    """Query or form values, and uploads' file names, with NUL characters removed."""

    def __init__(self, mapping: Any = None) -> None:
        if mapping is not None:
            mapping = [(_without_nul(key), _without_nul(value)) for key, value in iter_multi_items(mapping)]
        super().__init__(mapping)


class TextRequest(Request):
    """A request whose query and form values (and file names) hold no NUL character: PostgreSQL text
    cannot store or compare one, so a stray %00 in a search or a form would be a 500, not a message."""

    parameter_storage_class = NulFreeMultiDict


def attachment_header(ascii_name: str, name: str) -> str:
    """Content-Disposition for a download: an ASCII fallback and the UTF-8 name (RFC 5987)."""
    fallback = "".join(c for c in ascii_name if c.isascii() and (c.isalnum() or c in "._-")) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


#: The largest id either database stores (PostgreSQL's integer); larger ones cannot exist.
MAX_ID = 2**31 - 1


def db_id(value: str) -> int:
    """A positive id or page number from a URL or form; ValueError for anything a database
    integer cannot hold, so `request.args.get(..., type=db_id)` treats it as absent."""
    number = int(value)
    if not 0 < number <= MAX_ID:
        raise ValueError(value)
    return number


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` in routes, limited to what a database integer holds: a larger id is a 404."""

    def __init__(
        self,
        url_map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = MAX_ID,
        signed: bool = False,
    ) -> None:
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
