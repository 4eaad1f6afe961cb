"""Signatures of stored files, made with the server secret ``ARTIFACT_SIGNING_KEY``.

A file's GridFS document carries, in ``metadata.signature`` (the GridFS spec's
place for application fields), the MAC of every chunk = MAC(file id, chunk
number, data) and one HMAC-SHA256 over the file = HMAC(file id, length, chunk
size, SHA-256, the chunk MACs). So a reader checks each chunk as it streams (no
second pass over the file), and a changed, swapped, missing or reordered chunk,
or a changed length, hash or MAC list, is caught. The secret never leaves the
processes' environment.

Chunk MACs name their scheme: ``v2`` (new files) is keyed BLAKE3 under a subkey
derived from the secret with HMAC-SHA256, four times faster to check than
``v1``, HMAC-SHA256, which files written before still carry and still verify
with. The file MAC covers the chunk MACs with their prefixes, so a chunk MAC
cannot be swapped for another scheme's without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import blake3

from app.config import Settings

VERSION = "v1"  # the file MAC's scheme (and v1 chunk MACs'): HMAC-SHA256
CHUNK_VERSION = "v2"  # new chunk MACs: keyed BLAKE3
_CHUNK_SUBKEY_LABEL = b"tensorfleet chunk-mac v2"


class SigningKeyMissing(RuntimeError):
    """``ARTIFACT_SIGNING_KEY`` is not set: no file may be written or read."""


class Signer:
    """Makes and checks the MACs of one signing key."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._chunk_key = hmac.digest(key, _CHUNK_SUBKEY_LABEL, "sha256")  # 32 bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> Signer:
        """The signer of ``settings.artifact_signing_key``; SigningKeyMissing if unset."""
        if settings.artifact_signing_key is None:
            raise SigningKeyMissing(
                "ARTIFACT_SIGNING_KEY is not set: TensorFleet signs every file it stores."
            )
        return cls(settings.artifact_signing_key.get_secret_value().encode())

    def _mac(self, *parts: bytes) -> str:
        return f"{VERSION}:{_framed(hmac.new(self._key, digestmod=hashlib.sha256), parts)}"

    def chunk_mac(self, file_id: Any, n: int, data: bytes, version: str = CHUNK_VERSION) -> str:
        """The ``version`` MAC of chunk ``n`` of file ``file_id``; ValueError for a scheme
        this code does not know."""
        parts = (b"chunk", _id_bytes(file_id), str(n).encode(), data)
        if version == VERSION:
            return self._mac(*parts)
        if version != CHUNK_VERSION:
            raise ValueError(f"unknown chunk MAC scheme {version!r}")
        return f"{CHUNK_VERSION}:{_framed(blake3.blake3(key=self._chunk_key), parts)}"

    def chunk_matches(self, file_id: Any, n: int, data: bytes, stored: Any) -> bool:
        """Whether ``stored`` is the MAC of chunk ``n`` in the scheme it names."""
        if not isinstance(stored, str):
            return False
        try:
            expected = self.chunk_mac(file_id, n, data, stored.partition(":")[0])
        except ValueError:
            return False
        return hmac.compare_digest(expected, stored)

    def file_mac(
        self, file_id: Any, length: int, chunk_size: int, sha256: str, chunk_macs: list[str]
    ) -> str:
        """The MAC of a file's identity, size, content hash and chunk MACs."""
        fields = (str(length).encode(), str(chunk_size).encode(), sha256.encode())
        return self._mac(b"file", _id_bytes(file_id), *fields, ",".join(chunk_macs).encode())

    @staticmethod
    def matches(expected: str, stored: Any) -> bool:
        """Constant-time comparison of a computed MAC with a stored one (absent: False)."""
        return isinstance(stored, str) and hmac.compare_digest(expected, stored)


def _framed(mac: hmac.HMAC | blake3.blake3, parts: tuple[bytes, ...]) -> str:
    """The hex digest of ``mac`` over ``parts``, each length-prefixed (no ambiguous joins)."""
    for part in parts:
        mac.update(len(part).to_bytes(8, "big"))
        mac.update(part)
    return mac.hexdigest()


def _id_bytes(file_id: Any) -> bytes:
    return f"{type(file_id).__name__}:{file_id}".encode()
