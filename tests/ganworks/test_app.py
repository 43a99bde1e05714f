"""python -m ganworks.app, the web app, as users reach it: the command line started in its own process on
127.0.0.1 with tiny untrained models of the three tasks, then driven through Gradio's Python client and in
headless Chromium (tests.browser): upload a photo, paint a stroke, click Fill. Each tab's output is what
the task's inference library computes in this process; outside the painted hole the fill is the photo's
own pixels; bad uploads get one-line messages.

Needs the app extra (Gradio, in the test extra too); only under .ci/check-floors, whose venv holds the
runtime dependencies alone, is a missing Gradio a skip."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

if os.environ.get("GANWORKS_FLOORS") == "1":
    pytest.importorskip("gradio", reason="the floors venv has the runtime dependencies only, not the app extra")

from ganworks import app  # noqa: E402
from tests.browser import chromium  # noqa: E402
from tests.common.hostile_files import huge_header_png  # noqa: E402
from tests.common.test_generator import trained_run  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MODELS = {"night2day": "night2day-resnet", "inpainting": "inpainting-improved", "watches": "watches-stylegan2"}
START_TIMEOUT = 240  # s: the app's process imports TensorFlow and Gradio and loads three models


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{task: a tiny run folder of that task} (a checkpoint and its exported generators)."""
    root = tmp_path_factory.mktemp("app-runs")
    for task, name in MODELS.items():
        trained_run(name, root / task)
    return {task: root / task for task in MODELS}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(runs, log):
    """Start `python -m ganworks.app` on a free 127.0.0.1 port -> (process, URL) once it serves, or
    (None, None) when another process took the port first (its one-line error says so); bounded by
    START_TIMEOUT."""
    port = free_port()
    argv = [sys.executable, "-m", "ganworks.app", "--port", str(port), "--host", "127.0.0.1",
            *(f"--{task}={path}" for task, path in runs.items())]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(log.parent / "gradio")}
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT
    while True:  # bounded: the deadline, or the process ending
        if proc.poll() is not None:
            if "error: cannot serve on" in log.read_text():
                return None, None
            pytest.fail(f"the app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop(proc)
            pytest.fail(f"the app did not serve {url} within {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(runs, tmp_path_factory):
    """`python -m ganworks.app` serving the three runs on 127.0.0.1 -> its URL; stopped after. A free port can
    be taken by another process between finding it and binding it: then up to two more ports are tried."""
    log = tmp_path_factory.mktemp("app-log") / "server.log"
    for _ in range(3):
        proc, url = start_app(runs, log)
        if proc is not None:
            break
    else:
        pytest.fail(f"three free ports were each taken before the app bound them:\n{log.read_text()[-1000:]}")
    try:
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


def photo_file(path, height=40, width=56, seed=0) -> np.ndarray:
    """A random RGB photo written as PNG -> its pixels."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


# --------------------------------------------------------------------------- the command line


def test_the_command_line_refuses_bad_flags_in_one_line(runs, capsys):
    for argv, message in (([], "give at least one of --night2day"),
                          (["--watches", "no/such/run"], "--watches not found: no/such/run"),
                          (["--watches", str(runs["watches"]), "--port", "70000"], "must be from 1 to 65535"),
                          (["--watches", str(runs["watches"]), "--max-megapixels", "0"], "must be above 0")):
        with pytest.raises(SystemExit) as stop:
            app.main(argv)
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("python -m ganworks.app: error: ") and message in err and "\n" not in err, err
    # a run of another task: the loader's one line, before anything is served
    assert app.main(["--inpainting", str(runs["night2day"])]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "night2day" in err and "\n" not in err, err
    # a port another process holds
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert app.main(["--watches", str(runs["watches"]), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: cannot serve on 127.0.0.1:{port}: "), err


@pytest.mark.parametrize("task", MODELS)
def test_each_notebooks_last_cell_serves_its_run_with_a_share_link_when_asked(task):
    import nbformat

    from tests.notebook_params import parameters

    nb = nbformat.read(REPO / "notebooks" / f"{task}.ipynb", as_version=4)
    _, p = parameters(nb)
    assert p["APP"] is False  # off by default: it runs until stopped
    calls = []
    for app_on in (False, True):
        exec(nb.cells[-1].source, {"APP": app_on, "OUT": "runs/x",
                                   "run_python": lambda *a: calls.append([str(v) for v in a])})
    assert calls == [["-m", "ganworks.app", f"--{task}", "runs/x", "--share"]]
    args = app.build_parser().parse_args(calls[0][2:])
    assert args.share and getattr(args, task) == "runs/x" and args.host == "127.0.0.1"


def test_a_painted_layer_becomes_the_hole_at_the_photos_size():
    layer = np.zeros((20, 28, 4), np.uint8)
    layer[5:10, 4:14, 3] = 255  # painted where alpha > 0, whatever the colour
    layer[0, 0, :3] = 255  # colour with zero alpha is not paint
    hole = app.painted_hole([layer], (40, 56))  # a canvas at half the photo's size: nearest, doubled
    expected = np.zeros((40, 56), bool)
    expected[10:20, 8:28] = True
    np.testing.assert_array_equal(hole, expected)
    assert not app.painted_hole([], (4, 4)).any() and not app.painted_hole(None, (4, 4)).any()


# --------------------------------------------------------------------------- Gradio's Python client


def test_translate_through_the_client_is_the_library_translation(client, runs, tmp_path):
    from gradio_client import handle_file

    from night2day.inference import Translator

    photo = photo_file(tmp_path / "night.png", 40, 56)
    at_scale, at_size, note = client.predict(handle_file(str(tmp_path / "night.png")), api_name="/translate")
    translator = Translator.load(runs["night2day"])
    for got, size in ((rgb(at_scale), "train"), (rgb(at_size), "original")):
        want = translator.translate(photo, size=size)
        assert got.shape == photo.shape == want.shape
        # another process, the same CPU kernels: equal up to a rounding step of the uint8 conversion
        assert np.abs(got.astype(int) - want).max() <= 1
    assert "56x40 px photo" in note and f"{translator.training_scale}x{translator.training_scale}" in note


def test_fill_through_the_client_keeps_every_pixel_outside_the_painted_hole(client, runs, tmp_path):
    from gradio_client import handle_file

    from inpainting.inference import Inpainter, telea

    photo = photo_file(tmp_path / "photo.png", 40, 56, seed=1)
    layer = np.zeros((40, 56, 4), np.uint8)
    layer[12:22, 20:34] = (255, 0, 255, 255)
    Image.fromarray(layer).save(tmp_path / "layer.png")
    editor = {"background": handle_file(str(tmp_path / "photo.png")),
              "layers": [handle_file(str(tmp_path / "layer.png"))], "composite": None, "id": None}
    shown, model, classical, mask, note = client.predict(handle_file(str(tmp_path / "photo.png")), editor,
                                                         api_name="/fill")
    hole = np.asarray(Image.open(mask)) > 127
    np.testing.assert_array_equal(hole, layer[..., 3] > 0)
    model, classical, shown = rgb(model), rgb(classical), rgb(shown)
    for out in (model, classical):
        np.testing.assert_array_equal(out[~hole], photo[~hole])  # exactly the photo's, outside the hole
    assert (model[hole] != photo[hole]).any(axis=-1).mean() > 0.9  # the hole was filled, not kept
    want = Inpainter.load(runs["inpainting"]).fill(photo, hole).image
    assert np.abs(model.astype(int) - want).max() <= 1
    np.testing.assert_array_equal(classical[hole], telea(photo, hole)[hole])
    assert (shown[hole] == app.HOLE_COLOUR).all() and (shown[~hole] == photo[~hole]).all()
    assert note.startswith(f"hole: {hole.sum()} px of {hole.size}")


def test_watches_through_the_client_are_the_library_images(client, runs):
    from common.runtime.images import enlarged
    from watches.inference import generate, load_generator
    from watches.stylegan2 import set_noise_mode

    image, mixed, strip, note = client.predict(3, 0.7, "const", 5, "coarse", 1, 4, api_name="/generate")
    generator, latent_dim = load_generator(runs["watches"])
    set_noise_mode(generator, "const")
    want = enlarged(generate(generator, latent_dim, [3], 0.7)[0])
    assert np.abs(rgb(image).astype(int) - want).max() <= 1
    sheet = rgb(mixed)  # 2 x 2 tiles with label bands: the column seed's, the row seed's and the mixed image
    assert sheet.shape[0] > 2 * want.shape[0] and sheet.shape[1] > 2 * want.shape[1]
    assert rgb(strip).shape[1] >= 4 * want.shape[1]  # four images in a row, each as large as the watch
    assert note.startswith("seed 3, psi 0.7, noise const")
    # the other noise modes run (an untrained StyleGAN2's noise strengths are NVIDIA's initial 0, so they show
    # the same watch: watches.generate's tests tell the modes apart)
    for mode in ("random", "none"):
        other, _, _, other_note = client.predict(3, 0.7, mode, None, "coarse", 1, 2, api_name="/generate")
        assert rgb(other).shape == want.shape and f"noise {mode}" in other_note


def test_bad_uploads_and_values_get_one_line_messages(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    (tmp_path / "notes.png").write_text("not an image at all")
    photo_file(tmp_path / "tiny.png", 1, 1)
    huge_header_png(tmp_path / "huge.png")  # 10000 MP: over what Pillow-based decoding takes
    huge_header_png(tmp_path / "big.png", 5000, 5000)  # 25 MP: over the app's --max-megapixels 16
    photo_file(tmp_path / "photo.png")
    def upload(name):
        return handle_file(str(tmp_path / name))

    unpainted = {"background": None, "layers": [], "composite": None, "id": None}
    cases = [("/translate", (upload("notes.png"),), "notes.png: not an image"),
             ("/translate", (upload("tiny.png"),), "tiny.png is 1x1 px: a photo needs at least 16"),
             ("/translate", (upload("huge.png"),), "huge.png: too large to decode"),
             ("/translate", (upload("big.png"),), "big.png is 5000x5000 px, over the 16 megapixels"),
             ("/fill", (upload("photo.png"), unpainted), "paint the hole"),
             # a strip of 40: the slider's range, which Gradio checks itself (also in one line)
             ("/generate", (3, 0.7, "const", None, "coarse", 1, 40), "greater than maximum value 16")]
    for api, args, message in cases:
        with pytest.raises(AppError) as error:
            client.predict(*args, api_name=api)
        text = str(error.value)
        assert message in text and "\n" not in text and "Traceback" not in text, (api, text)


# --------------------------------------------------------------------------- in Chromium


def wait_for(condition, timeout=60.0, what="the page"):
    """Poll condition() until it returns something truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.25)


def image_src(driver, elem_id):
    from selenium.webdriver.common.by import By

    images = driver.find_elements(By.CSS_SELECTOR, f"#{elem_id} img")
    return images[0].get_attribute("src") if images and images[0].get_attribute("src") else None


def fetched(url) -> np.ndarray:
    with urllib.request.urlopen(url, timeout=30) as response:
        from io import BytesIO

        return np.asarray(Image.open(BytesIO(response.read())).convert("RGB"))


def open_tab(driver, url, name):
    from selenium.webdriver.common.by import By

    driver.get(url)
    tabs = wait_for(lambda: [b for b in driver.find_elements(By.CSS_SELECTOR, "button[role=tab]") if name in b.text],
                    what=f"the {name} tab")
    tabs[0].click()


def test_in_chromium_a_painted_stroke_is_filled_and_nothing_outside_it_changes(server, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    height, width = 96, 128
    y, x = np.mgrid[0:height, 0:width]
    photo = np.stack([x * 2, y * 2, x + y], axis=-1).astype(np.uint8)  # a smooth photo: Telea's fill is visible
    Image.fromarray(photo).save(tmp_path / "photo.png")
    with chromium(tmp_path) as driver:
        open_tab(driver, server, "inpainting")
        driver.find_element(By.CSS_SELECTOR, "#inp-photo input[type=file]").send_keys(str(tmp_path / "photo.png"))
        canvas = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#inp-editor canvas"), what="the editor")[0]
        time.sleep(1.0)  # the editor draws the photo as its background
        # one horizontal stroke through the middle of the canvas, where the editor centres the photo
        stroke = ActionChains(driver).move_to_element_with_offset(canvas, -60, 0).click_and_hold()
        for _ in range(12):
            stroke.move_by_offset(10, 0)
        stroke.release().perform()
        driver.find_element(By.ID, "inp-run").click()
        sources = wait_for(lambda: all(image_src(driver, k) for k in ("inp-model", "inp-telea", "inp-mask"))
                           and [image_src(driver, k) for k in ("inp-model", "inp-telea", "inp-mask")],
                           what="the filled images")
        model, classical, mask = (fetched(src) for src in sources)
        note = driver.find_element(By.ID, "inp-note").text
    hole = mask[..., 0] > 127
    assert model.shape == classical.shape == photo.shape and hole.shape == photo.shape[:2]
    # the hole is the stroke: through the photo's centre, wide as the drag, clear of the photo's border
    rows, cols = np.nonzero(hole)
    assert hole[height // 2, width // 2] and cols.max() - cols.min() >= 40
    assert rows.min() > 4 and rows.max() < height - 5 and cols.min() > 4 and cols.max() < width - 5
    for out in (model, classical):
        np.testing.assert_array_equal(out[~hole], photo[~hole])  # every pixel outside the stroke: the input's
        assert (out[hole] != photo[hole]).any()
    assert note.startswith(f"hole: {hole.sum()} px")


def test_in_chromium_a_text_file_uploaded_as_a_photo_gets_a_message_in_the_page(server, tmp_path):
    from selenium.webdriver.common.by import By

    (tmp_path / "notes.png").write_text("not an image at all")
    with chromium(tmp_path) as driver:
        open_tab(driver, server, "night")
        driver.find_element(By.CSS_SELECTOR, "#n2d-photo input[type=file]").send_keys(str(tmp_path / "notes.png"))
        time.sleep(0.5)
        driver.find_element(By.ID, "n2d-run").click()
        text = wait_for(lambda: "notes.png: not an image" in driver.find_element(By.TAG_NAME, "body").text
                        and driver.find_element(By.TAG_NAME, "body").text, what="the error message")
    assert "Traceback" not in text
