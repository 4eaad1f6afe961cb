"""Streamed downloads checked against the SHA-256 the server announces: written to a
temporary file beside the target and renamed into place only when the checksum matches,
so a failed download leaves nothing (and an older file keeps its content)."""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path

import requests

from tensorfleet.errors import FormatError, IntegrityError

CHUNK = 1024 * 1024
CHECKSUM_HEADER = "X-Checksum-SHA256"
_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)


def attachment_name(disposition: str) -> str | None:
    """The file name of a ``Content-Disposition`` header, without any directory."""
    found = _FILENAME.search(disposition or "")
    name = Path(found[1].strip()).name if found else ""
    return name if name not in ("", ".", "..") else None


def save_checked(
    response: requests.Response,
    to: str | Path,
    what: str,
    fallback_name: str,
    suffix: str | None = None,
) -> Path:
    """Stream ``response`` to ``to`` (a file, or a directory: then under the server's file
    name, else ``fallback_name``); returns the path written. :class:`FormatError` when the
    server names a file without ``suffix``, :class:`IntegrityError` when the bytes do not
    have the announced SHA-256 (``what`` names the download in both)."""
    with response:
        expected = response.headers.get(CHECKSUM_HEADER, "")
        name = attachment_name(response.headers.get("Content-Disposition", ""))
        if suffix and name and not name.endswith(suffix):
            raise FormatError(
                f"{what}: asked for a {suffix} file, the server sent {name}"
                " (it does not offer that format); nothing was saved."
            )
        target = Path(to)
        if target.is_dir():
            target = target / (name or Path(fallback_name).name)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        digest = hashlib.sha256()
        try:
            with partial.open("wb") as out:
                for chunk in response.iter_content(chunk_size=CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if not expected or digest.hexdigest() != expected.lower():
                raise IntegrityError(
                    f"{what}: the file's SHA-256 {digest.hexdigest()} is not the"
                    f" announced {expected or '(none)'}; nothing was saved."
                )
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    return target
