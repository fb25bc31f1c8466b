"""A run's report.html rendered by a real browser: every plot loads, and the page has content.

Needs Debian's chromium and chromium-driver, which `.ci/run` installs; CI sets
DESCENT_REQUIRE_BROWSER=1 so that a missing browser fails there instead of skipping.
"""

import io
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from descent.cli import jobs
from descent.cli.config import RunConfig

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    if os.environ.get("DESCENT_REQUIRE_BROWSER"):
        raise RuntimeError("chromium and chromedriver are required (apt-get install chromium "
                           "chromium-driver)")  # fmt: skip
    pytest.skip("needs chromium and chromedriver", allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver")


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,1000",
    ):
        options.add_argument(flag)  # fmt: skip
    service = webdriver.ChromeService(executable_path=DRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    yield driver
    driver.quit()


def test_report_renders_with_every_plot_loaded(browser, tmp_path):
    config = RunConfig(data="iris", model="mlp:16", epochs=3, batch_size=16, out=str(tmp_path))
    folder, _ = jobs.train(config, echo=lambda line: None, progress=False)
    browser.get(folder.report.resolve().as_uri())
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth]);"
    )
    assert sorted(alt for alt, _, _ in images) == sorted(p.stem for p in folder.plots.iterdir())
    assert all(complete and width > 300 for _, complete, width in images), images
    headings = browser.execute_script(
        "return Array.from(document.querySelectorAll('h2')).map(h => h.textContent);"
    )
    assert headings[:2] == ["Result", "Curves"] and "Config" in headings
    shot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("L")
    pixels = np.asarray(shot)
    assert shot.size[0] >= 1000 and pixels.std() > 10  # drawn, not a blank page
