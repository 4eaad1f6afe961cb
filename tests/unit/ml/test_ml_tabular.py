"""CSV parsing and dataset profiling, including the built-in datasets."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from app.errors import DataError, UnsupportedMediaError
from app.ml.builtin import builtin_datasets
from app.ml.tabular import infer_task, profile_dataset, read_csv

DATASETS = Path(__file__).resolve().parents[3] / "datasets"
BUILTIN_TASKS = {
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "digits": "classification",
    "diabetes": "regression",
}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "empty"),
        (b" \n\n", "empty"),
        (b"a,b,target\n", "no data rows"),
        (b"a,b\n1,2\n3,4,5\n", "line 3 has 3 fields, the header has 2"),
        (b'a,b\n1,"2\n', "Malformed CSV"),
        (b"a,b\n1,2,3\n4,5,6\n", "line 2 has more fields than the header"),
    ],
)
def test_unusable_csv_is_a_data_error(raw, fragment):
    with pytest.raises(DataError, match=fragment):
        read_csv(raw)


def test_ragged_row_error_names_the_line():
    with pytest.raises(DataError) as info:
        read_csv(b"a,b\n1,2\n3,4\n5,6,7\n")
    assert info.value.details["line"] == 4


@pytest.mark.parametrize(
    "raw", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "é,a\n1,2\n".encode("latin-1")]
)
def test_binary_or_undecodable_is_unsupported_media(raw):
    with pytest.raises(UnsupportedMediaError):
        read_csv(raw)


def test_utf8_bom_is_accepted():
    assert list(read_csv(b"\xef\xbb\xbfa,b\n1,2\n").columns) == ["a", "b"]


def test_missing_target_lists_the_columns():
    with pytest.raises(DataError) as info:
        profile_dataset(b"a,b\n1,x\n2,y\n", "label")
    assert info.value.details == {"field": "target", "allowed": ["a", "b"]}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"a,label\n1,x\n2,x\n3,x\n", "single class"),
        (b"a,label\n1,\n2,\n", "no values"),
        (b"id,label\n1,x\n2,y\n3,x\n4,y\n", "No feature columns"),
    ],
)
def test_untrainable_target_is_a_data_error(raw, fragment):
    with pytest.raises(DataError, match=fragment) as info:
        profile_dataset(raw, "label")
    assert info.value.details["field"] == "target"


def test_profile_describes_columns_and_drops_ids():
    raw = (
        b"customer_id,name,age,income,plan,churned\n"
        b"101,ann,30,1000.5,basic,yes\n102,bob,41,2300.25,pro,no\n"
        b"103,cid,30,1800.75,basic,no\n104,dan,52,,pro,yes\n"
    )
    frame, profile = profile_dataset(raw, "churned")
    assert len(frame) == 4
    assert profile.features == ["age", "income", "plan"]
    assert profile.column_types == {
        "customer_id": "id",
        "name": "id",
        "age": "numeric",
        "income": "numeric",
        "plan": "categorical",
    }
    assert (profile.task, profile.classes) == ("classification", ["no", "yes"])
    assert (profile.n_samples, profile.n_features) == (4, 3)
    assert profile.sha256 == hashlib.sha256(raw).hexdigest() and profile.size_bytes == len(raw)


def test_infer_task_rules():
    assert infer_task(pd.Series(["a", "b", "a"])) == "classification"
    assert infer_task(pd.Series([True, False, True])) == "classification"
    assert infer_task(pd.Series([0, 1] * 3)) == "classification"
    assert infer_task(pd.Series([1.0, 2.0, 3.0, None] * 10)) == "classification"
    assert infer_task(pd.Series([0.5, 1.25, 3.0] * 10)) == "regression"
    assert infer_task(pd.Series(range(100))) == "regression"
    with pytest.raises(DataError):
        infer_task(pd.Series([None, None], dtype=float))


@pytest.mark.parametrize("name", sorted(BUILTIN_TASKS))
def test_builtin_datasets_profile_with_the_expected_task(name):
    entry = {d.name: d for d in builtin_datasets(DATASETS)}[name]
    _, profile = profile_dataset(entry.path.read_bytes(), entry.target)
    assert profile.task == BUILTIN_TASKS[name]
    assert "id" not in profile.column_types.values()
    assert all(c == c.lower() and " " not in c for c in [*profile.features, profile.target])


def test_builtin_catalog_contents():
    catalog = {d.name: d for d in builtin_datasets(DATASETS)}
    assert set(catalog) == set(BUILTIN_TASKS)
    iris = profile_dataset(catalog["iris"].path.read_bytes(), "species")[1]
    assert iris.classes == ["setosa", "versicolor", "virginica"]
    assert iris.features == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    cancer = profile_dataset(catalog["breast_cancer"].path.read_bytes(), "diagnosis")[1]
    assert cancer.classes == ["benign", "malignant"]
    digits = profile_dataset(catalog["digits"].path.read_bytes(), "digit")[1]
    assert (digits.n_features, digits.classes) == (64, list(range(10)))
    assert all(d.description and d.path.is_file() for d in catalog.values())


def test_generate_script_reproduces_the_shipped_files(tmp_path):
    spec = importlib.util.spec_from_file_location("datasets_generate", DATASETS / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    generate.main(tmp_path)
    for name in ["catalog.json", *(f"{n}.csv" for n in BUILTIN_TASKS)]:
        assert (tmp_path / name).read_bytes() == (DATASETS / name).read_bytes(), name
