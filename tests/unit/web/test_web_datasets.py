"""Datasets pages: the list, a version's profile and first rows (read verified), uploads."""

from __future__ import annotations

import io

from tests.unit.web.conftest import post

CSV = b"a,b,label\n1,x,yes\n2,y,no\n,x,yes\n4,y,no\n5,x,yes\n6,y,no\n7,x,yes\n8,y,no\n"


def _upload(api, name="tiny", target="label", raw=CSV, mimetype="text/csv"):
    data = {"name": name, "target": target, "file": (io.BytesIO(raw), "t.csv", mimetype)}
    return post(api, "/ui/datasets", data, content_type="multipart/form-data")


def test_the_datasets_page_lists_the_latest_version_of_each(admin) -> None:
    html = admin.get("/ui/datasets").text
    for name in ("iris", "wine", "breast_cancer"):
        assert f'href="/ui/datasets/{name}"' in html


def test_the_datasets_page_with_no_datasets_says_so(admin, loaded_db) -> None:
    loaded_db.datasets.delete_many({})
    page = admin.get("/ui/datasets")
    assert page.status_code == 200 and "No datasets yet." in page.text


def test_a_dataset_page_shows_its_profile_balance_and_first_rows(admin) -> None:
    page = admin.get("/ui/datasets/iris")
    assert page.status_code == 200
    html = page.text
    assert "First 20 rows" in html and "<th>sepal_length</th>" in html
    assert "Class balance" in html and "<svg" in html
    assert "<td>numeric</td>" in html and "classification" in html


def test_an_unknown_dataset_or_version_is_a_404_page(admin) -> None:
    assert admin.get("/ui/datasets/nope").status_code == 404
    assert admin.get("/ui/datasets/iris?version=9").status_code == 404
    assert admin.get("/ui/datasets/iris?version=x").status_code == 400


def test_uploading_a_csv_stores_a_version_and_shows_missing_values(admin, loaded_db) -> None:
    response = _upload(admin)
    assert response.status_code == 303
    assert response.headers["Location"] == "/ui/datasets/tiny?version=1"
    assert loaded_db.datasets.find_one({"name": "tiny"})["n_samples"] == 8
    html = admin.get(response.headers["Location"]).text
    assert "Dataset tiny v1 stored (8 rows)." in html
    assert "1 (12.5 %)" in html  # column a misses one value of eight
    assert _upload(admin).headers["Location"] == "/ui/datasets/tiny?version=2"


def test_a_bad_upload_comes_back_with_the_message(admin, loaded_db) -> None:
    missing_target = _upload(admin, target="nope")
    assert missing_target.status_code == 400 and "nope" in missing_target.text
    assert 'value="tiny"' in missing_target.text
    builtin = _upload(admin, name="iris", target="label")
    assert builtin.status_code == 409 and "built-in" in builtin.text
    assert _upload(admin, name="bad name!").status_code == 400
    assert _upload(admin, mimetype="image/png").status_code == 415
    assert loaded_db.datasets.find_one({"name": "tiny"}) is None


def test_a_tampered_file_is_refused_and_the_page_still_renders(admin, loaded_db) -> None:
    doc = loaded_db.datasets.find_one({"name": "wine"})
    loaded_db["fs.chunks"].update_one(
        {"files_id": doc["file_id"]}, {"$set": {"data": b"x,y\n1,2\n"}}
    )
    page = admin.get("/ui/datasets/wine")
    assert page.status_code == 200 and "flash-error" in page.text
    assert "<th>alcohol</th>" not in page.text.split("First")[1]  # no rows shown
