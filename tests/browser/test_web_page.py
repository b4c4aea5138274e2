"""The web page at ``/`` in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``,
driven by Selenium), against the real API, a real streaming worker and a real Celery worker.

Chromium's fake microphone plays a known WAV (``--use-file-for-fake-audio-capture``), so the Live
tab's MediaRecorder sends real Opus/WebM over the real WebSocket relay. Set
``BUDGIE_SCREENSHOT_DIR=docs`` to refresh the screenshots in docs/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from budgie.localstack import free_port
from tests.conftest import ROOT, SHIPPED_MODEL
from tests.speech import concatenate, silence, synthesize

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SENTENCE = "the quick brown fox jumps over the lazy dog"


@pytest.fixture(scope="module")
def stream_worker(redis_client, test_registry, tmp_path_factory):
    from tests.integration.test_streaming import start_worker, stop_worker

    worker = start_worker(redis_client, tmp_path_factory.mktemp("web") / "worker.log", "web-stream", 2, SHIPPED_MODEL)
    yield worker
    stop_worker(worker)


@pytest.fixture(scope="module")
def site(redis_client, stream_worker, tmp_path_factory):
    """The API (page, REST and WebSocket relay) under gunicorn gthread, as deployed: a browser sees
    exactly the production server's WebSocket handshake and close."""
    from budgie.localstack import stop_process, wait_until

    port = free_port()
    log = tmp_path_factory.mktemp("web-api") / "api.log"
    env = {**os.environ, "BUDGIE_DEFAULT_MODEL": SHIPPED_MODEL}
    command = ["-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "16", "-b", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(
        [sys.executable, *command, "app:create_app()"],
        cwd=ROOT,
        env=env,
        stdout=open(log, "w"),  # noqa: SIM115 (the child owns it)
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{base}/health", timeout=1).status_code < 500
        except requests.RequestException:
            return False

    try:
        wait_until(up, proc, log, "the API under gunicorn", timeout=60)
        yield base
    finally:
        stop_process(proc, timeout=10)


@pytest.fixture(scope="module")
def microphone(speech_dir) -> Path:
    """What the fake microphone says, looped: the sentence, then a pause that ends the utterance."""
    spoken = synthesize(SENTENCE, speech_dir / "web-fox.wav", sample_rate=48000)
    pause = silence(speech_dir / "web-pause.wav", 1.5, sample_rate=48000)
    return concatenate([spoken, pause], speech_dir / "web-mic.wav")


@pytest.fixture(scope="module")
def browser(microphone):
    if not (CHROMIUM and DRIVER):
        pytest.fail("chromium and chromium-driver are required (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1100,760",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}",
        "--autoplay-policy=no-user-gesture-required",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def screenshot(driver, name: str) -> None:
    target = os.environ.get("BUDGIE_SCREENSHOT_DIR")
    if target:
        driver.save_screenshot(str(Path(target) / name))


def wait(driver, condition, timeout: float, what: str):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d))
    except TimeoutException:
        status = driver.find_element(By.ID, "live-status").text
        console = [e["message"][:300] for e in driver.get_log("browser")]
        raise AssertionError(f"timed out waiting for {what}; status: {status!r}; console: {console}") from None


def test_live_tab_transcribes_the_microphone(site, browser):
    from selenium.webdriver.common.by import By

    browser.get(f"{site}/?model={SHIPPED_MODEL}")
    wait(browser, lambda d: d.find_element(By.ID, "live-model").get_attribute("value") == SHIPPED_MODEL, 20, "models")
    browser.find_element(By.ID, "live-start").click()
    wait(browser, lambda d: "listening" in d.find_element(By.ID, "live-status").text, 30, "session.begin")
    assert "webm" in browser.find_element(By.ID, "live-status").text  # MediaRecorder's Opus in WebM

    def final_words(d) -> list[str]:
        return [w.text for w in d.find_elements(By.CSS_SELECTOR, "#live-transcript .final .word")]

    wait(browser, lambda d: {"quick", "lazy"} <= set(final_words(d)), 90, "final words from the microphone")
    word = browser.find_element(By.CSS_SELECTOR, "#live-transcript .final .word")
    assert word.get_attribute("title").endswith(" s")  # word timing on hover
    assert word.value_of_css_property("color") in ("rgba(17, 17, 17, 1)", "rgb(17, 17, 17)")  # final is black
    screenshot(browser, "web-live.png")
    browser.find_element(By.ID, "live-stop").click()
    wait(browser, lambda d: "done" in d.find_element(By.ID, "live-status").text, 60, "session.end")


def test_files_tab_uploads_and_shows_transcript_with_downloads(site, browser, speech_dir, celery_worker):
    from selenium.webdriver.common.by import By

    audio = synthesize(SENTENCE, speech_dir / "web-upload.wav")
    browser.get(f"{site}/?model={SHIPPED_MODEL}")
    browser.find_element(By.ID, "tab-files").click()
    wait(browser, lambda d: d.find_element(By.ID, "files-model").get_attribute("value") == SHIPPED_MODEL, 20, "models")
    upload = browser.find_element(By.ID, "files-input")
    browser.execute_script("arguments[0].style.display = 'block'", upload)
    upload.send_keys(str(audio))
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".job .stage"), 60, "stage progress")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".job .transcript .word"), 180, "the transcript")
    words = [w.text for w in browser.find_elements(By.CSS_SELECTOR, ".job .transcript .word")]
    assert {"quick", "lazy"} <= set(words), words
    assert browser.find_element(By.CSS_SELECTOR, ".job .state").text == "completed"
    assert browser.find_element(By.CSS_SELECTOR, ".job audio").get_attribute("src").startswith("blob:")
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, ".job a.download")}
    assert sorted(links) == ["json", "srt", "txt", "vtt"]
    for fmt, href in links.items():
        response = requests.get(href, timeout=10)
        assert response.status_code == 200, (fmt, response.text)
        body = response.text
        assert "quick" in body
        if fmt in ("srt", "vtt"):
            assert "-->" in body
        if fmt == "json":
            assert response.json()["text"]
    # playing the audio highlights the word being spoken
    browser.execute_script(
        "const a = document.querySelector('.job audio'); a.muted = true; a.currentTime = 1.0; a.play();"
    )
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".job .word.current"), 15, "the current word")
    screenshot(browser, "web-files.png")
