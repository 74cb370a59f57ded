"""The page of ``fastfer serve`` in a real browser: Debian's headless Chromium driven through its
chromedriver by selenium (no browser download). It uploads the shipped photo and finds the
face's label drawn and listed, then turns on a fake camera playing a clip made from the photo
and sees the face tracked with one id over the frames. Screenshots are kept in
``$FASTFER_ARTIFACTS`` (default tests/artifacts/, git-ignored) and their paths printed."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from _child_env import SANITIZER_VARIABLES
from _paths import ROOT, SHIPPED_PHOTO
from _serve import ServeProcess

pytestmark = pytest.mark.extended

pytest.importorskip("fastapi", reason="fastfer serve needs the serve extra: pip install '.[serve]'")
webdriver = pytest.importorskip("selenium.webdriver", reason="the browser tests need selenium (the test extra)")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("no Chromium with its driver: apt-get install -y chromium chromium-driver", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

import fastfer  # noqa: E402


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("FASTFER_ARTIFACTS") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = ServeProcess("--workers", "2", log_path=tmp_path_factory.mktemp("serve") / "server.log")
    yield proc
    proc.stop()


def write_y4m(path: Path, frames: list, fps: int = 10) -> None:
    """A YUV4MPEG2 clip (4:2:0) of BGR frames, the format Chromium's fake camera plays."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())


def camera_clip(path: Path) -> None:
    """40 frames of 640×480: the shipped photo drifting right by 2 pixels a frame."""
    photo = cv2.imread(str(SHIPPED_PHOTO))
    frames = []
    for k in range(40):
        canvas = np.full((480, 640, 3), 200, np.uint8)
        x = 20 + 2 * k
        canvas[:, x : x + 512] = photo[16:496, : 640 - x][:, :512]
        frames.append(canvas)
    write_y4m(path, frames)


def chromium(*arguments: str):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1000,1400",
        *arguments,
    ):
        options.add_argument(argument)
    return webdriver.Chrome(
        service=webdriver.ChromeService(executable_path=CHROMEDRIVER, env=browser_env()), options=options
    )


def browser_env() -> dict:
    """This environment without a sanitizer's preload (LD_PRELOAD of libasan, ASAN_OPTIONS, ...):
    chromedriver and Chromium hold none of fastfer's code, and under a preloaded libasan
    chromedriver exits at once (status 1). Chromium inherits chromedriver's environment."""
    return {key: value for key, value in os.environ.items() if key not in SANITIZER_VARIABLES}


def screenshot(driver, artifacts: Path, name: str) -> Path:
    path = artifacts / name
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def test_upload_the_photo_and_see_the_face_drawn_and_listed(server, artifacts):
    expected = fastfer.FER().analyze(SHIPPED_PHOTO.read_bytes())[0].label
    driver = chromium()
    try:
        driver.get(f"http://127.0.0.1:{server.port}/")
        driver.find_element(By.ID, "file").send_keys(str(SHIPPED_PHOTO))
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#faces li"))
        listed = driver.find_elements(By.CSS_SELECTOR, "#faces li")
        assert [item.get_attribute("data-label") for item in listed] == [expected]
        assert expected in listed[0].text
        drawn = driver.execute_script("return JSON.parse(document.getElementById('canvas').dataset.drawn)")
        assert len(drawn) == 1 and expected in drawn[0]
        # The box really is on the canvas: the middle of its top edge has the label's colour.
        colour = driver.execute_script("return COLORS[arguments[0]]", expected)
        pixel = driver.execute_script(
            "const ctx = document.getElementById('canvas').getContext('2d');"
            "return Array.from(ctx.getImageData(arguments[0], arguments[1], 1, 1).data);",
            *_top_edge(server),
        )
        rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        assert max(abs(a - b) for a, b in zip(pixel, rgb)) <= 3, (pixel, colour)  # canvas colour rounding
        assert "1 face" in driver.find_element(By.ID, "status").text
        assert screenshot(driver, artifacts, "serve_upload.png").stat().st_size > 10_000
    finally:
        driver.quit()


def _top_edge(server) -> tuple:
    face = server.analyze(SHIPPED_PHOTO.read_bytes()).json()["faces"][0]
    x1, y1, x2, _ = face["box"]
    return int((x1 + x2) / 2), int(round(y1))


def test_fake_camera_frames_are_tracked_with_one_stable_id(server, artifacts, tmp_path):
    clip = tmp_path / "camera.y4m"
    camera_clip(clip)
    driver = chromium(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    )
    try:
        driver.get(f"http://127.0.0.1:{server.port}/")
        driver.find_element(By.ID, "camera").click()
        seen, frames = set(), set()
        deadline = time.monotonic() + 90
        while len(frames) < 5 and time.monotonic() < deadline:
            state = driver.execute_script(
                "return {status: document.getElementById('status').textContent,"
                " ids: Array.from(document.querySelectorAll('#faces li')).map(li => li.dataset.trackId)}"
            )
            if state["status"].startswith("frame ") and state["ids"]:
                frames.add(int(state["status"].split()[1].rstrip(":")))
                seen.update(state["ids"])
            time.sleep(0.1)
        assert len(frames) >= 5, f"frames seen: {sorted(frames)}; status: {state['status']}"
        assert seen == {"1"}, seen
        screenshot(driver, artifacts, "serve_camera.png")
        driver.find_element(By.ID, "camera").click()
        assert driver.find_element(By.ID, "camera").get_attribute("aria-pressed") == "false"
    finally:
        driver.quit()
