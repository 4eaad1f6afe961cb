"""The built-in sample datasets listed in ``datasets/catalog.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BuiltinDataset:
    """One catalog entry: a CSV shipped with TensorFleet."""

    name: str
    path: Path
    target: str
    description: str
    source: str


def builtin_datasets(root: Path) -> list[BuiltinDataset]:
    """The datasets of ``root/catalog.json`` (paths resolved against ``root``)."""
    root = Path(root)
    entries = json.loads((root / "catalog.json").read_text(encoding="utf-8"))
    return [
        BuiltinDataset(
            name=entry["name"],
            path=root / entry["file"],
            target=entry["target"],
            description=entry["description"],
            source=entry.get("source", ""),
        )
        for entry in entries
    ]
