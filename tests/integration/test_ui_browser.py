"""The web UI in a real headless Chromium on the local stack: log in, submit a job from the
form and watch its progress bar reach done without a reload, open its model and its
confusion matrix, move an alias, upload a dataset. Screenshots of the main pages are saved
to ``docs/img/ui-<page>.png`` along the way.

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package; skipped
(saying which is missing) without them, and a failure in CI, where ``.ci/run`` installs them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localstack import LocalStack
from tests.integration.helpers import api_client, poll, require_binary, submit_and_wait, unique

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
WAIT = 120  # seconds for a job or a page to get where the test expects


def _chrome() -> tuple[str, str]:
    """The system Chromium and its driver (skipped without them, a failure in CI)."""
    browser = shutil.which("chromium-browser") or require_binary("chromium", "chromium")
    return browser, require_binary("chromedriver", "chromium-driver")


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    """A headless Chromium driven by Selenium, 1400x1000."""
    browser, chromedriver = _chrome()
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=chromedriver)
    chrome = webdriver.Chrome(options=options, service=service)
    chrome.implicitly_wait(2)
    try:
        yield chrome
    finally:
        chrome.quit()


def _shot(driver: Any, page: str) -> None:
    """Save the whole page as ``docs/img/ui-<page>.png``, after checking it is no error page."""
    from selenium.webdriver.common.by import By

    errors = driver.find_elements(By.CSS_SELECTOR, ".error-page")
    assert not errors, f"{driver.current_url}: {errors[0].text}"
    IMAGES.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(1000, height), 4000))
    driver.save_screenshot(str(IMAGES / f"ui-{page}.png"))
    driver.set_window_size(1400, 1000)


def _text(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css))


def test_a_user_trains_inspects_promotes_and_uploads_in_the_browser(
    stack: LocalStack, driver: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base = stack.api_url
    with api_client(stack) as api:  # a second model (compare) and a search, over the API
        other = submit_and_wait(api, dataset="iris", algorithm="knn", model_name=unique("knn"))
        search = api.post("/api/v1/searches", json={
            "dataset": "iris", "algorithm": "knn", "model_name": unique("ui-search"),
            "strategy": "grid", "space": {"n_neighbors": [1, 5, 9, 15]}, "cv": 3,
        }).json()  # fmt: skip

    driver.get(base + "/")
    assert "/ui/login" in driver.current_url
    driver.find_element(By.NAME, "key").send_keys(stack.admin_key)
    _shot(driver, "login")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    assert driver.current_url.rstrip("/").endswith("/ui"), driver.current_url

    name = unique("ui-rf")
    driver.get(base + "/ui/jobs/new?dataset=iris&algorithm=random_forest")
    driver.find_element(By.NAME, "model_name").send_keys(name)
    driver.find_element(By.NAME, "hp.n_estimators").send_keys("40")
    Select(driver.find_element(By.NAME, "hp.criterion")).select_by_visible_text("entropy")
    _shot(driver, "submit")
    driver.find_element(By.CSS_SELECTOR, "form.form > button[type=submit]").click()
    assert "/ui/jobs/" in driver.current_url
    driver.execute_script("window.__same_page = true")  # gone if the page reloads
    poll(lambda: "succeeded" in _text(driver, "#job-live .badge"), WAIT, 0.5, "the job to end")
    assert driver.execute_script("return window.__same_page") is True  # htmx swapped it in
    bar = driver.find_element(By.CSS_SELECTOR, "#job-live .progress")
    assert bar.get_attribute("aria-valuenow") == "100"
    _shot(driver, "job")

    driver.find_element(By.PARTIAL_LINK_TEXT, f"{name} v1").click()
    assert driver.find_elements(By.CSS_SELECTOR, ".chart-confusion svg"), "no confusion matrix"
    driver.find_element(By.NAME, "alias").send_keys("browser")
    driver.find_element(By.CSS_SELECTOR, "#aliases button[type=submit]").click()
    assert f"{name}@browser now points at version 1." in _text(driver, ".flash")
    _shot(driver, "model")

    model_id = driver.current_url.rsplit("/", 1)[1]
    driver.get(f"{base}/ui/compare?ids={model_id},{other['result']['model_id']}")
    assert driver.find_elements(By.CSS_SELECTOR, "figure.chart svg")
    _shot(driver, "compare")

    driver.get(base + "/ui/")
    assert driver.find_elements(By.CSS_SELECTOR, f"#job-rows a[href='/ui/models/{model_id}']")
    _shot(driver, "jobs")
    driver.get(base + "/ui/models?sort=-f1_macro")
    assert name in _text(driver, "section.group h2")
    _shot(driver, "models")

    csv = tmp_path / "tiny.csv"
    csv.write_text("x,y,label\n" + "".join(f"{i},{i % 3},{'ab'[i % 2]}\n" for i in range(40)))
    dataset = unique("ui-data")
    driver.get(base + "/ui/datasets")
    driver.find_element(By.NAME, "name").send_keys(dataset)
    driver.find_element(By.NAME, "target").send_keys("label")
    driver.find_element(By.NAME, "file").send_keys(str(csv))
    driver.find_element(By.CSS_SELECTOR, "#upload button[type=submit]").click()
    assert f"Dataset {dataset} v1 stored (40 rows)." in _text(driver, ".flash")
    driver.get(base + "/ui/datasets")
    _shot(driver, "datasets")
    driver.get(base + "/ui/datasets/iris")
    _shot(driver, "dataset")

    driver.get(f"{base}/ui/searches/{search['search_id']}")
    poll(lambda: "succeeded" in _text(driver, "#search-live .badge"), WAIT, 0.5, "the search")
    driver.refresh()  # the charts are drawn with the page, once trials have scores
    assert driver.find_elements(By.CSS_SELECTOR, "figure.chart svg"), "no score chart"
    _shot(driver, "search")
    driver.get(base + "/ui/searches")
    _shot(driver, "searches")
