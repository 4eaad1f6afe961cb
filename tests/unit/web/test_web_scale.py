"""Every page with thousands of records: a page of projected documents, a fixed number of
queries whatever the store holds (no N+1). ``make bench`` measures the real timings."""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import mongomock.collection
import pytest
from bson import ObjectId

N_RECORDS = 2_000
READS = ("find", "find_one", "count_documents", "aggregate", "distinct")


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    """Counts every read made through mongomock, by collection."""
    counts: Counter = Counter()
    for name in READS:
        original = getattr(mongomock.collection.Collection, name)

        def counted(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            counts[self.name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(mongomock.collection.Collection, name, counted)
    yield counts


@pytest.fixture
def crowded(loaded_db, trained, api) -> dict[str, str]:
    """The store with ~2,000 jobs and ~2,000 model versions (200 names x 10), aliased."""
    job = loaded_db.jobs.find_one({"_id": trained()["job_id"]})
    model = loaded_db.models.find_one({"_id": job["result"]["model_id"]})
    jobs, models, aliases = [], [], []
    for i in range(N_RECORDS):
        name, version = f"m{i // 10}", i % 10 + 1
        model_id = str(ObjectId())
        status = ("succeeded", "running", "queued", "failed")[i % 4]
        jobs.append({**copy.deepcopy(job), "_id": str(ObjectId()), "status": status,
                     "model_name": name})  # fmt: skip
        models.append({**copy.deepcopy(model), "_id": model_id, "name": name, "version": version,
                       "job_id": f"job-{i}", "score": (i % 97) / 97})  # fmt: skip
        if version == 10:
            aliases.append({"_id": f"{name}@champion", "name": name, "alias": "champion",
                            "version": version, "model_id": model_id})  # fmt: skip
    loaded_db.jobs.insert_many(jobs)
    loaded_db.models.insert_many(models)
    loaded_db.aliases.insert_many(aliases)
    return {"job": job["_id"], "model": model["_id"], "other": models[5]["_id"]}


PAGES = {  # path → most reads it may make (one key check, then the page's own queries)
    "/ui/": 2,  # no count of the matches: a page reads one more row than it shows
    "/ui/?status=running&sort=model_name&page=3": 2,
    "/ui/jobs/{job}": 2,
    "/ui/jobs/progress?ids={job}": 2,
    "/ui/models": 3,
    "/ui/models?sort=-f1_macro&alias=champion": 4,
    "/ui/models/{model}": 5,
    "/ui/compare?ids={model},{other}": 2,
    "/ui/datasets": 3,
    "/ui/datasets/iris": 5,  # with the verified read of its file (GridFS)
    "/ui/searches": 4,
    "/ui/jobs/new": 3,
}


def test_every_page_makes_a_fixed_number_of_queries(admin, crowded, queries) -> None:
    made = {}
    for path, most in PAGES.items():
        queries.clear()
        started = time.perf_counter()
        response = admin.get(path.format(**crowded))
        assert response.status_code == 200, (path, response.text[:500])
        made[path] = (sum(queries.values()), round(time.perf_counter() - started, 3))
        assert made[path][0] <= most, (path, dict(queries))
    print(made)  # reads and seconds per page (mongomock: seconds are not production's)


def test_a_page_of_the_list_holds_fifty_rows(admin, crowded) -> None:
    html = admin.get("/ui/").text
    assert html.count('<tr id="job-') == 50
    assert "rows 1 to 50 · page 1" in html and 'href="/ui/?page=2" rel="next"' in html
    last = admin.get("/ui/?page=41").text  # 2001 jobs: one on the last page, none after
    assert last.count('<tr id="job-') == 1 and 'rel="next"' not in last
    models = admin.get("/ui/models").text
    assert models.count('name="ids"') == 50 and "@champion" in models
