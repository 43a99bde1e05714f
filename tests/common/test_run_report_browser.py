"""report.html as a browser shows it: headless Chromium (Debian's /usr/bin/chromium and /usr/bin/chromedriver,
driven by Selenium) loads the page from disk with the network closed; every image decodes and the tables are
there. Skipped, with the reason, when Chromium or Selenium is missing, unless GANWORKS_REQUIRE_BROWSER=1 (CI:
.ci/run installs them) makes that a failure."""

from __future__ import annotations

import json

import pytest

from common.runtime.run_report import MAX_SAMPLES, write_report
from tests.browser import chromium
from tests.common.test_run_report import EVALUATIONS, fake_run


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path) as driver:
        yield driver


def test_every_image_of_the_report_loads_and_its_tables_are_there(browser, tmp_path):
    from selenium.webdriver.common.by import By

    run = fake_run(tmp_path / "fake", "inpainting-improved")
    results, _, _ = EVALUATIONS["inpainting"]
    (run / "evaluation.json").write_text(json.dumps(results))
    browser.get(write_report(run).resolve().as_uri())
    assert browser.title.startswith("inpainting")
    images = browser.find_elements(By.TAG_NAME, "img")
    assert len(images) == 1 + MAX_SAMPLES + 1
    for image in images:
        loaded = browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image)
        assert loaded and loaded > 0, image.get_attribute("alt")
    # the loss panels are drawn wide, the 40 px sample sheets at their size
    assert browser.execute_script("return arguments[0].naturalWidth", images[0]) > 600
    assert browser.execute_script("return arguments[0].naturalWidth", images[1]) == 40
    tables = {t.get_attribute("class"): t for t in browser.find_elements(By.TAG_NAME, "table")}
    assert {"status", "evaluation", "config"} <= set(tables)
    methods = [t for t in browser.find_elements(By.CSS_SELECTOR, "table.evaluation") if "telea" in t.text]
    assert methods and "psnr_hole" in methods[0].text
    assert "--out" in browser.find_element(By.CSS_SELECTOR, "#resume pre").text
