"""``download_throughput``: MB/s of ``GET /models/<id>/download`` vs. GridFS with pymongo.

The model is a random forest on 10 noisy classes (deep trees with wide value arrays)
trained by a worker with ``MODEL_COMPRESSION=0``, so a ≥ 50 MB file costs a few seconds
of training; throughput is about bytes, not about what they contain. Reads start once the
worker's ONNX export of that model ended (it keeps a core busy for seconds).
"""

from __future__ import annotations

import hashlib
import time

from bench.baselines import gridfs_read
from bench.harness import Api, BenchError, Harness, Tier, synthetic_csv
from bench.progress import Progress
from bench.report import Figure
from bench.sizes import Sizes

DATASET = "bench_download"
READ_BYTES = 1024 * 1024
MB = 1_000_000


def download_throughput(h: Harness, tier: Tier, sizes: Sizes, progress: Progress) -> Figure:
    """Per round: one HTTP download, then one pymongo read of the same GridFS file."""
    fig = Figure("download_throughput", "MB/s", ">=", 0.8)
    csv = synthetic_csv(sizes.download_rows, 20, classes=10, flip_y=0.3)
    body = {
        "dataset": DATASET,
        "algorithm": "random_forest",
        "model_name": "bench_download",
        "hyperparameters": {"n_estimators": sizes.download_trees},
    }
    with Api(tier) as api:
        api.ensure_dataset(DATASET, csv, "label")
        _, job = api.run_job(body, 300.0)
        model = api.wait_for_export(job["result"]["model_id"], 300.0)
        size = int(model["size_bytes"])
        if size < sizes.download_min_bytes:
            raise BenchError(f"model is {size} bytes, < {sizes.download_min_bytes}")
        url = f"{api.base}/models/{model['model_id']}/download"
        if _download(api, url, check=model["sha256"]) != size:  # untimed: content is right
            raise BenchError("download length differs from size_bytes")
        file_id = model["file_id"]
        for _ in range(sizes.download_reads):
            start = time.perf_counter()
            got = _download(api, url)
            service = got / MB / (time.perf_counter() - start)
            seconds, read = gridfs_read(h.mongo(), file_id)
            if got != size or read != size:
                raise BenchError(f"read {got} / {read} bytes of {size}")
            fig.add(service, read / MB / seconds)
        progress.step(sizes.rounds)
    fig.details = {
        "size_bytes": size,
        "compression": tier.model_compression,
        "reads": sizes.download_reads,
    }
    return fig


def _download(api: Api, url: str, check: str | None = None) -> int:
    """Bytes received (verifying the sha256 when ``check`` is given)."""
    sha = hashlib.sha256() if check else None
    total = 0
    with api.session.get(url, stream=True, timeout=120) as response:
        response.raise_for_status()
        while data := response.raw.read(READ_BYTES, decode_content=False):
            total += len(data)
            if sha is not None:
                sha.update(data)
    if sha is not None and sha.hexdigest() != check:
        raise BenchError("downloaded bytes do not match the model's sha256")
    return total
