"""The ``datasets`` collection: immutable, versioned CSV uploads stored in GridFS.

A name's versions are 1, 2, 3…; the unique index on ``(name, version)`` is the
arbiter, so two concurrent uploads of one name get distinct versions.
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from app.errors import NotFoundError
from app.storage.artifacts import ArtifactStore
from app.storage.mongo import utcnow
from app.storage.pagination import Page, find_page
from app.storage.signing import Signer

_MAX_VERSION_RACES = 20
_INTERNAL = ("_id", "file_id")


def public_dataset(doc: dict[str, Any]) -> dict[str, Any]:
    """A dataset version's metadata as clients see it."""
    return {key: value for key, value in doc.items() if key not in _INTERNAL}


class DatasetRepository:
    """Dataset documents and their CSV files (reading or writing a file needs ``signer``)."""

    def __init__(self, db: Database, signer: Signer | None = None) -> None:
        self._datasets = db.datasets
        self._artifacts = ArtifactStore(db, signer)

    def create(self, name: str, raw: bytes, profile: dict[str, Any]) -> dict[str, Any]:
        """Store ``raw`` as the next version of ``name`` with its ``profile`` fields."""
        stored = self._artifacts.put(raw, f"{name}.csv", {"kind": "dataset", "dataset": name})
        try:
            return self._insert_next_version(name, profile, stored.file_id, stored.size_bytes)
        except BaseException:
            self._artifacts.delete(stored.file_id)
            raise

    def _insert_next_version(
        self, name: str, profile: dict[str, Any], file_id: Any, size: int
    ) -> dict[str, Any]:
        for _ in range(_MAX_VERSION_RACES):
            latest = self.find(name)
            doc = {
                **profile,
                "name": name,
                "version": (latest["version"] + 1) if latest else 1,
                "file_id": file_id,
                "size_bytes": size,
                "created_at": utcnow(),
            }
            try:
                self._datasets.insert_one(doc)
                return doc
            except DuplicateKeyError:
                continue  # another upload took this version; try the next one
        raise RuntimeError(f"could not assign a version to dataset {name!r}")

    def find(self, name: str, version: int | None = None) -> dict[str, Any] | None:
        """The given version of ``name`` (latest if None), or None."""
        query: dict[str, Any] = {"name": name}
        if version is not None:
            query["version"] = version
        return next(iter(self._datasets.find(query).sort("version", -1).limit(1)), None)

    def get(self, name: str, version: int | None = None) -> dict[str, Any]:
        """Like ``find`` but NotFoundError when absent."""
        doc = self.find(name, version)
        if doc is None:
            which = f" version {version}" if version is not None else ""
            raise NotFoundError(
                f"Dataset '{name}'{which} not found.", {"dataset": name, "version": version}
            )
        return doc

    def find_by_sha(self, name: str, sha256: str) -> dict[str, Any] | None:
        """A version of ``name`` whose content hash is ``sha256``."""
        return self._datasets.find_one({"name": name, "sha256": sha256})

    def read_csv_bytes(self, doc: dict[str, Any]) -> bytes:
        """The CSV content of a dataset version, verified (IntegrityError if changed)."""
        return self._artifacts.read(doc["file_id"])

    def quarantine(self, doc: dict[str, Any], reason: str) -> None:
        """Mark a version whose file failed verification: it is refused from now on."""
        quarantined = {"at": utcnow(), "reason": reason}
        self._datasets.update_one({"_id": doc["_id"]}, {"$set": {"quarantined": quarantined}})

    def list_latest(self, page: int, limit: int) -> Page:
        """The latest version of each dataset name, by name, with ``versions`` counted."""
        names = sorted(self._datasets.distinct("name"))
        items = []
        for name in names[(page - 1) * limit : page * limit]:
            latest = self.get(name)
            items.append({**latest, "versions": latest["version"]})
        return Page(items=items, page=page, limit=limit, total=len(names))

    def latest_page(self, page: int, limit: int, projection: dict[str, Any]) -> Page:
        """``list_latest`` in two queries whatever the page size (the names, then every
        version of the page's names), with only the fields of ``projection``."""
        names = sorted(self._datasets.distinct("name"))
        shown = names[(page - 1) * limit : page * limit]
        newest: dict[str, dict[str, Any]] = {}
        fields = {**projection, "name": 1, "version": 1}
        for doc in self._datasets.find({"name": {"$in": shown}}, fields).sort("version", -1):
            newest.setdefault(doc["name"], {**doc, "versions": doc["version"]})
        items = [newest[name] for name in shown if name in newest]
        return Page(items=items, page=page, limit=limit, total=len(names))

    def names(self) -> list[str]:
        """Every dataset name, sorted."""
        return sorted(self._datasets.distinct("name"))

    def version_list(self, name: str, projection: dict[str, Any]) -> list[dict[str, Any]]:
        """Every version of ``name``, newest first, with only the fields of ``projection``."""
        return list(self._datasets.find({"name": name}, projection).sort("version", -1))

    def list_versions(self, name: str, page: int, limit: int) -> Page:
        """Every version of ``name``, newest first."""
        return find_page(self._datasets, {"name": name}, [("version", -1)], page, limit)

    def without_target_profiles(self) -> list[dict[str, Any]]:
        """Versions stored before ``targets`` was recorded at upload."""
        return list(self._datasets.find({"targets": {"$exists": False}}))

    def set_target_profiles(self, doc: dict[str, Any], targets: dict[str, Any]) -> None:
        """Record what each column of version ``doc`` implies as a target."""
        self._datasets.update_one({"_id": doc["_id"]}, {"$set": {"targets": targets}})

    def delete(self, name: str, version: int | None = None) -> int:
        """Delete one version of ``name`` or all of them, files first; how many."""
        query: dict[str, Any] = {"name": name}
        if version is not None:
            query["version"] = version
        docs = list(self._datasets.find(query, {"_id": 1, "file_id": 1}))
        for doc in docs:
            self._datasets.delete_one({"_id": doc["_id"]})
            self._artifacts.delete(doc["file_id"])
        return len(docs)
