"""Headless Chromium for the tests that look at a page as a user's browser shows it: Debian's
/usr/bin/chromium and /usr/bin/chromedriver, driven by Selenium, with nothing fetched in the background.

`chromium(tmp_path)` is a context manager giving a Selenium driver; without Chromium or Selenium it skips
the test with the reason, unless GANWORKS_REQUIRE_BROWSER=1 (CI: .ci/run installs them) makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("GANWORKS_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("GANWORKS_CHROMEDRIVER", "/usr/bin/chromedriver"))
# what works in a container with no network: no sandbox (root), no GPU, nothing fetched in the background
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")


def missing() -> str | None:
    """Why no browser test can run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install 'selenium>=4.15', part of the test extra)"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (path.is_file() and os.access(path, os.X_OK)):
            return f"{path} is missing (apt-get install {package})"
    return None


@contextlib.contextmanager
def chromium(tmp_path):
    reason = missing()
    if reason:
        if os.environ.get("GANWORKS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"GANWORKS_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = Path(tmp_path) / "chromium-profile"
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
