"""``ensure_indexes`` is the one home of every index: the TTL indexes that expire logged
predictions, their input blocks, idempotency keys; the unique ones that make writes safe."""

from __future__ import annotations

import mongomock
from pymongo.database import Database

from app.storage.mongo import ensure_indexes


def _keys(db: Database, collection: str) -> dict[tuple, dict]:
    return {tuple(spec["key"]): spec for spec in db[collection].index_information().values()}


def test_logged_predictions_and_their_input_blocks_expire_and_are_read_by_model() -> None:
    db = mongomock.MongoClient(tz_aware=True)["indexes"]
    ensure_indexes(db)
    ensure_indexes(db)  # idempotent: a second start changes nothing
    for collection in ("predictions", "prediction_inputs", "idempotency"):
        ttl = _keys(db, collection)[(("expires_at", 1),)]
        assert ttl["expireAfterSeconds"] == 0, collection  # gone at their own expires_at
    assert (("model_id", 1), ("last_at", -1)) in _keys(db, "prediction_inputs")
    assert _keys(db, "fs.chunks")[(("files_id", 1), ("n", 1))]["unique"]
    assert _keys(db, "schedules")[(("name", 1),)]["unique"]
