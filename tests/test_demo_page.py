"""The demo page at `/`, end to end: the real service over TCP, driven in headless Chromium.

Chromium is Debian's package (`make test` installs it when run as root); Playwright drives it
without downloading a browser of its own.
"""

import base64
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, sync_playwright

from service.main import create_app

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is missing: apt-get install chromium (make test does it as root)",
)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The service with the shipped models, on a free port, once /ready says 200."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound here and handed over, so no other process can take it
    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=1):
                break
        except OSError:  # refused, or 503 while the models load
            assert thread.is_alive() and time.monotonic() < deadline, "the service never got ready"
            time.sleep(0.1)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(base_url: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 900, "height": 800})
        page.set_default_timeout(10_000)
        page.goto(base_url + "/")
        yield page
        browser.close()


def wait_loaded(page: Page, image_id: str) -> None:
    page.wait_for_function(
        "id => { const img = document.getElementById(id); return img.complete && "
        "img.naturalWidth > 0 && !img.hidden }",
        arg=image_id,
    )


def result(page: Page, output_id: str, error_id: str) -> str:
    """The output's text once the call has answered; a shown error fails the test with it."""
    page.wait_for_function(
        "([out, err]) => document.getElementById(out).value || "
        "document.getElementById(err).textContent",
        arg=[output_id, error_id],
    )
    assert page.text_content(f"#{error_id}") == ""
    return page.text_content(f"#{output_id}")


# Draws a PNG (a data URL) over the whole pad, as pointer strokes would have left it.
PAINT = """async url => {
  const img = new Image();
  img.src = url;
  await img.decode();
  const pad = document.getElementById('pad');
  pad.getContext('2d').drawImage(img, 0, 0, pad.width, pad.height);
}"""


def inked_pixels(page: Page) -> int:
    """Pixels of the pad that are not white paper."""
    return page.evaluate(
        """() => {
          const pad = document.getElementById('pad');
          const data = pad.getContext('2d').getImageData(0, 0, pad.width, pad.height).data;
          let inked = 0;
          for (let i = 0; i < data.length; i += 4) inked += data[i] < 255;
          return inked;
        }"""
    )


def test_demo_page(
    page: Page,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    record_property: Callable[[str, object], None],
) -> None:
    # Text: the API's own words for a bad query, then an answer and its handwriting.
    page.fill("#query", "100+1")
    page.click("#solve")
    page.wait_for_selector("#text-error:has-text('over 99')")
    page.fill("#query", "81+24")
    page.click("#solve")
    assert result(page, "answer", "text-error") == "105"
    wait_loaded(page, "render-img")

    # Drawing: a pointer stroke inks the pad and Clear wipes it.
    box = page.locator("#pad").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 100, box["y"] + 100, steps=5)
    page.mouse.up()
    assert inked_pixels(page) > 0
    page.click("#clear")
    assert inked_pixels(page) == 0

    # Reading: real MNIST test digits (dark on light, as if drawn on the pad) painted on it.
    strip = tmp_path / "strip.png"
    subprocess.run(
        [sys.executable, "-m", "training", "strip", "81+24", "--dark-on-light", "--out", strip],
        check=True,
    )
    page.evaluate(PAINT, "data:image/png;base64," + base64.b64encode(strip.read_bytes()).decode())
    page.click("#read")
    assert result(page, "read-answer", "read-error") == "105"
    assert page.text_content("#expression") == "81+24"

    # Generative: a GAN grid and a VAE strip.
    page.wait_for_selector("#gen-model option[value='gan']", state="attached")
    page.select_option("#gen-model", "gan")
    page.fill("#sample-n", "9")
    page.click("#sample")
    wait_loaded(page, "sample-img")
    page.select_option("#gen-model", "vae")
    page.select_option("#method", "linear")
    page.click("#interpolate")
    wait_loaded(page, "interpolate-img")
    assert "model=vae" in page.get_attribute("#interpolate-img", "src")

    shot = tmp_path / "demo.png"
    page.screenshot(path=shot, full_page=True)
    record_property("screenshot", str(shot))
    with capsys.disabled():
        print(f"\ndemo page screenshot: {shot}")
