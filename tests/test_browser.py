"""End to end in a real browser: JupyterLab from this venv (as `make lab` starts it), notebook 05 on the smoke
profile with the kernel it names, Run All, then the browser-camera widget on Chromium's fake camera, which plays
FER2013 test faces. Needs Debian's chromium (apt-get install chromium) and Playwright for Python; no browser
download. Set FER_SCREENSHOT_DIR to keep the screenshots (else they go to the test's temporary folder)."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import papermill as pm
import pytest
from conftest import real_fer2013

from fer_utils.data.fer2013 import load_arrays
from fer_utils.paths import NOTEBOOKS_DIR
from fer_utils.realtime.video import make_demo_video
from fer_utils.report import pipeline

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NOTEBOOK = "05-webcam-demo.ipynb"
pytestmark = [pytest.mark.slow, pytest.mark.browser]

if not Path(CHROMIUM).exists():
    pytest.skip("the browser test needs Debian's chromium package: apt-get install chromium (.ci/run installs it)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (in the dev extra)")

QUIET = ["--disable-background-networking", "--disable-component-update", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="module")
def fake_camera(folder):
    """A Y4M video of moving FER2013 test faces for Chromium's fake camera."""
    data_dir = real_fer2013().get("data_dir")
    test = load_arrays(data_dir, verbose=False).split("test")
    path = folder / "faces.y4m"
    make_demo_video(test.images, test.labels, path, seconds=8.0, fps=15)
    return path


@pytest.fixture(scope="module")
def lab(folder):
    """JupyterLab from this venv on a free localhost port with a token, holding notebook 05 set to the smoke profile."""
    params = pipeline.notebook_inputs("smoke", {**real_fer2013(), "train_model": False}, folder / "reports",
                                      folder / "runs")[NOTEBOOK[:-6]]
    pm.execute_notebook(str(NOTEBOOKS_DIR / NOTEBOOK), str(folder / NOTEBOOK), parameters=params, prepare_only=True,
                        progress_bar=False)
    port, token = free_port(), os.urandom(12).hex()
    env = {**os.environ, "JUPYTER_PREFER_ENV_PATH": "1", "JUPYTER_RUNTIME_DIR": str(folder / "runtime")}
    for var in ("FER2013_ZIP", "FER2013_DIR", "FER2013_CSV"):  # the kernel runs in another folder
        if env.get(var):
            env[var] = str(Path(env[var]).resolve())
    command = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", f"--port={port}",
               "--ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
               f"--LabApp.workspaces_dir={folder / 'workspaces'}", "--allow-root"]
    log = (folder / "jupyter.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/api/kernelspecs?token={token}", timeout=2) as answer:
                    specs = json.load(answer)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"JupyterLab exited: {(folder / 'jupyter.log').read_text()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer in 60 s")
        yield {"url": url, "token": token, "specs": specs}
    finally:
        server.terminate()
        server.wait(20)
        log.close()


@pytest.fixture(scope="module")
def screenshots(folder):
    target = Path(os.environ.get("FER_SCREENSHOT_DIR") or folder / "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


def launch(playwright, *flags):
    root = ["--no-sandbox"] if os.geteuid() == 0 else []
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*root, *QUIET, *flags])


def test_the_notebook_kernel_is_this_venvs_own(lab):
    spec = lab["specs"]["kernelspecs"]["fer-study"]["spec"]
    assert Path(spec["argv"][0]).resolve() == Path(sys.executable).resolve(), (
        "JupyterLab from this venv must find the fer-study kernel registered inside it (make setup)")


def test_browser_camera_end_to_end(lab, fake_camera, screenshots):
    with sync_api.sync_playwright() as playwright:
        # The site's camera permission is granted through Playwright rather than --use-fake-ui-for-media-stream,
        # which would accept every request and so leave no way to test a denied camera in the same page.
        browser = launch(playwright, "--use-fake-device-for-media-stream",
                         f"--use-file-for-fake-video-capture={fake_camera}")
        page = browser.new_page(viewport={"width": 1280, "height": 1000}, permissions=["camera"])
        try:
            run_browser_camera(page, lab, screenshots)
        except Exception:
            page.screenshot(path=str(screenshots / "browser-camera-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def run_browser_camera(page, lab, screenshots):
    page.goto(f"{lab['url']}/lab/tree/{NOTEBOOK}?token={lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    kernel_name = page.locator(".jp-KernelName").first
    sync_api.expect(kernel_name).to_have_text("Python (fer-study)", timeout=60_000)
    idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    sync_api.expect(idle).to_have_count(1, timeout=60_000)
    page.locator(".jp-MenuBar-item, .lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()

    widget = page.locator(".fer-camera")
    sync_api.expect(widget.locator(".fer-start")).to_be_visible(timeout=180_000)
    assert widget.locator("img").count() == 0, "no image element (and so no broken image) before the first frame"
    sync_api.expect(idle).to_have_count(1, timeout=60_000)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert not errors.filter(has_text="Traceback").count(), errors.all_inner_texts()

    news = page.get_by_role("button", name="No", exact=True)  # JupyterLab asks whether to fetch its news
    if news.count():
        news.click()
    widget.locator(".fer-start").click()
    sync_api.expect(widget).to_have_attribute("data-camera", "on", timeout=20_000)
    page.wait_for_function("() => Number(document.querySelector('.fer-camera').dataset.analysed || 0) >= 30",
                           timeout=120_000)
    # a result with a face and the overlay it drew, read in one tick of the page (the next result redraws it)
    seen = page.wait_for_function("""() => {
        const el = document.querySelector('.fer-camera');
        if (!(Number(el.dataset.faces || 0) > 0)) return false;
        const canvas = el.querySelector('.fer-overlay');
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let green = 0;
        for (let i = 0; i < pixels.length; i += 4)
            if (pixels[i] < 40 && pixels[i + 1] > 180 && pixels[i + 2] < 40 && pixels[i + 3] > 200) green += 1;
        return {stats: {...el.dataset}, green};
    }""", timeout=30_000).json_value()
    stats, green = seen["stats"], seen["green"]
    assert set(stats["labels"].split(",")) <= {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}
    assert green > 200, f"the canvas shows no box ({green} box-coloured pixels)"
    widget.scroll_into_view_if_needed()
    widget.screenshot(path=str(screenshots / "browser-camera.png"))
    status = widget.locator(".fer-status").inner_text()
    print(f"\nbrowser camera: {stats['analysed']} frames analysed, {stats['fps']} analysed frames/s, "
          f"{stats['roundTripMs']} ms round trip; status: {status!r}; screenshot {screenshots / 'browser-camera.png'}")
    (screenshots / "browser-camera.json").write_text(json.dumps(stats, indent=1))

    widget.locator(".fer-stop").click()
    sync_api.expect(widget).to_have_attribute("data-camera", "released", timeout=10_000)
    assert widget.get_attribute("data-live-tracks") == "0", "Stop must stop every media track"
    sync_api.expect(widget.locator(".fer-status")).to_contain_text("camera released")

    # Now the site's camera permission is denied: Start must say so, and how to fix it.
    cdp = page.context.new_cdp_session(page)
    context_id = cdp.send("Target.getTargetInfo")["targetInfo"]["browserContextId"]
    cdp.send("Browser.setPermission", {"permission": {"name": "camera"}, "setting": "denied", "origin": lab["url"],
                                       "browserContextId": context_id})
    widget.locator(".fer-start").click()
    problem = widget.locator(".fer-problem")
    sync_api.expect(problem).to_be_visible(timeout=10_000)
    sync_api.expect(problem).to_contain_text("denied")
    sync_api.expect(problem).to_contain_text("Privacy & Security > Camera")
    assert widget.get_attribute("data-camera") == "error"
    widget.screenshot(path=str(screenshots / "browser-camera-denied.png"))
