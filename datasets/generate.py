"""Regenerate the built-in datasets from the copies scikit-learn ships (no network).

Usage: ``python datasets/generate.py [OUTPUT_DIR]`` (default: this directory). Writes
``<name>.csv`` for every dataset and ``catalog.json``; the output is deterministic.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd
from sklearn import datasets as sk

HERE = Path(__file__).resolve().parent


def snake(name: str) -> str:
    """``'mean radius'`` -> ``'mean_radius'``; ``'od280/od315_of_diluted_wines'`` -> ``..._``."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower().replace("(cm)", "")).strip("_")


def _frame(bunch, target: str, labels: dict | None = None) -> pd.DataFrame:
    """The bunch's features (snake_case) with the target last, mapped through ``labels``."""
    features = bunch.data.rename(columns=snake)
    values = bunch.target.map(labels) if labels else bunch.target
    df = features.assign(**{target: values})
    for column in df.columns:
        if pd.api.types.is_float_dtype(df[column]) and (df[column] % 1 == 0).all():
            df[column] = df[column].astype("int64")  # 59.0 -> 59 (diabetes ages, targets)
    return df


# name -> (target column, class names or None, description)
DATASETS = {
    "iris": ("species", "names", "Iris flowers: 4 measurements in cm, 3 species, 150 rows."),
    "wine": (
        "cultivar",
        {0: "cultivar_1", 1: "cultivar_2", 2: "cultivar_3"},
        "Italian wines: 13 chemical analyses, 3 grape cultivars, 178 rows.",
    ),
    "breast_cancer": (
        "diagnosis",
        "names",
        "Breast tumour cell nuclei: 30 features, malignant or benign, 569 rows.",
    ),
    "digits": ("digit", None, "Handwritten digits: 8x8 pixel intensities 0-16, 0-9, 1797 rows."),
    "diabetes": (
        "progression",
        None,
        "Diabetes patients: age, sex, BMI, blood pressure and 6 serum measurements;"
        " disease progression one year later (regression), 442 rows.",
    ),
}


def build() -> list[tuple[dict, pd.DataFrame]]:
    """(catalog entry, frame) for every built-in dataset."""
    out = []
    for name, (target, labels, description) in DATASETS.items():
        options = {"scaled": False} if name == "diabetes" else {}
        bunch = getattr(sk, f"load_{name}")(as_frame=True, **options)
        if labels == "names":
            labels = dict(enumerate(str(n) for n in bunch.target_names))
        entry = {
            "name": name,
            "file": f"{name}.csv",
            "target": target,
            "description": description,
            "source": f"scikit-learn, sklearn.datasets.load_{name}() (bundled copy)",
        }
        out.append((entry, _frame(bunch, target, labels)))
    return out


def main(out_dir: Path = HERE) -> None:
    """Write every dataset CSV and catalog.json into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    catalog = []
    for entry, frame in build():
        frame.to_csv(out_dir / entry["file"], index=False, lineterminator="\n")
        catalog.append(entry)
    text = json.dumps(catalog, indent=2) + "\n"
    (out_dir / "catalog.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
