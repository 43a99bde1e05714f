"""A web app for trained generators of the three tasks: upload a photo, paint a hole, move a slider.

    python -m ganworks.app --night2day runs/night2day --inpainting runs/inpainting --watches runs/watches
    python -m ganworks.app --watches runs/watches --share       # Kaggle / Colab: a public *.gradio.live link
    python -m ganworks.app --inpainting generator.keras --host 0.0.0.0 --port 8080

Needs the optional extra: pip install "ganworks[app]" (Gradio). Each of --night2day, --inpainting and
--watches takes what that task's tools take as --checkpoint: a run folder, a checkpoint folder or an
exported .keras generator with its card; the app has one tab per model given, run through the task's
inference library (night2day.inference, inpainting.inference, watches.inference):

    night -> day   upload a photo: its translation at the training scale (resized there and back, as
                   `night2day.translate --size train`) and at the photo's own resolution
    inpainting     upload a photo, paint the hole with the brush, click Fill: the photo with the hole
                   shown, the model's fill and OpenCV's Telea side by side; outside the hole every pixel
                   of both fills is the photo's (as Pillow decodes it), shown and downloaded as PNG
    watches        a seed, truncation psi, noise mode, style mixing with a second seed and an
                   interpolation strip between two seeds (noise and mixing: StyleGAN2 only)

A file that is not an image, an image under --min-side px a side or over --max-megapixels, or a mask
with no hole gets a one-line message in the page; nothing is decoded before its header is checked.
The server binds to --host (127.0.0.1: this machine only) and stops with Ctrl-C (in a notebook: the
stop button).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from common.report import add_verbose, one_line_error, one_line_errors, quiet_tensorflow

NOISE_MODES = ("const", "random", "none")
STYLES = ("coarse", "middle", "fine")
HOLE_COLOUR = (255, 0, 255)  # how the painted hole is shown on the input
MAX_SEED = 2**32 - 1


class UploadError(ValueError):
    """Bad input from the page: its message (one line) is what the page shows."""


# --------------------------------------------------------------------------- what the tabs compute


@dataclass
class Limits:
    """What an upload may be: at least min_side px each way, at most max_pixels in all (header check)."""

    min_side: int = 16
    max_pixels: int = 16_000_000


def upload_path(value):
    """A path from what an image component sends: its file path, a FileData dict or None."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("path")
    return None if value is None else str(value)


def read_upload(value, limits: Limits, what="photo"):
    """An uploaded file -> inpainting.inference.Photo (Pillow's decode, in the photo's mode);
    UploadError (one line) for no file, a non-image, a damaged image, or a size out of limits, all
    told from the header before any pixel is decoded."""
    from PIL import Image

    from common.data import DataError, check_image_file
    from inpainting.inference import read_photo

    path = upload_path(value)
    if path is None:
        raise UploadError(f"upload a {what} first")
    name = Path(path).name
    reason = check_image_file(path)
    if reason is None:
        try:
            with Image.open(path) as image:
                width, height = image.size
        except Exception as exc:  # noqa: BLE001 - anything Pillow cannot open is told in one line
            reason = f"cannot be read as an image ({one_line_error(exc)})"
    if reason is not None:
        raise UploadError(f"{name}: {reason}")
    if width * height > limits.max_pixels:
        raise UploadError(f"{name} is {width}x{height} px, over the {limits.max_pixels / 1e6:g} megapixels this "
                          f"app takes (--max-megapixels): scale it down first")
    if min(width, height) < limits.min_side:
        raise UploadError(f"{name} is {width}x{height} px: a {what} needs at least {limits.min_side} px a side")
    try:
        return read_photo(path)
    except DataError as exc:
        raise UploadError(str(exc).replace(path, name)) from None


def translate(translator, upload, limits: Limits):
    """night -> day of an upload -> (uint8 at the training scale, uint8 at the photo's resolution, note),
    both the photo's size."""
    from night2day.inference import ImageTooSmallError

    photo = read_upload(upload, limits).rgb
    height, width = photo.shape[:2]
    try:
        at_scale = translator.translate(photo, size="train")
        at_size = translator.translate(photo, size="original")
    except (ImageTooSmallError, ValueError) as exc:
        raise UploadError(one_line_error(exc)) from None
    scale = translator.training_scale or height
    note = f"{width}x{height} px photo: resized to the training scale {scale}x{scale} px and back; "
    if translator.fully_convolutional:
        note += f"and run at its own {width}x{height} px"
    else:  # dense layers: "original" also runs at the training size
        note += f"this generator has dense layers, so at the photo's size too it runs at {translator.image_size} px"
    return at_scale, at_size, note


def painted_hole(layers, shape):
    """The editor's brush layers (RGBA arrays, or [H, W] / [H, W, 3] ones) -> bool [H, W] hole of a photo of
    `shape` (H, W): wherever any layer is painted (alpha > 0), the layer resized to the photo by nearest
    neighbours when the editor's canvas had another size."""
    import numpy as np
    from PIL import Image

    hole = np.zeros(shape, bool)
    for layer in layers or []:
        layer = np.asarray(layer)
        if layer.ndim == 3 and layer.shape[-1] == 4:
            painted = layer[..., 3] > 0
        elif layer.ndim == 3:
            painted = layer.max(axis=-1) > 0
        else:
            painted = layer > 0
        if painted.shape != tuple(shape):
            painted = np.asarray(Image.fromarray(painted).resize((shape[1], shape[0]), Image.NEAREST))
        hole |= painted
    return hole


def fill(inpainter, upload, editor, limits: Limits):
    """The uploaded photo with the painted hole filled -> (the photo with the hole shown, the model's fill,
    Telea's fill, the hole as a white-on-black mask, note); outside the hole both fills are the photo's
    pixels (its RGB view: grey as three equal channels, alpha left out)."""
    import numpy as np

    from inpainting.inference import telea

    photo = read_upload(upload, limits).rgb
    layers = editor.get("layers") if isinstance(editor, dict) else None
    hole = painted_hole(layers, photo.shape[:2])
    if not hole.any():
        raise UploadError("paint the hole on the photo with the brush first (step 2), then click Fill")
    filled = inpainter.fill(photo, hole)
    classical = photo.copy()
    classical[hole] = telea(photo, hole)[hole]
    shown = photo.copy()
    shown[hole] = HOLE_COLOUR
    mask = np.where(hole, 255, 0).astype(np.uint8)
    note = f"hole: {int(hole.sum())} px of {hole.size} ({100 * hole.mean():.1f}%)"
    return shown, filled.image, classical, mask, note + (f"; {filled.note}" if filled.note else "")


def _seed(value, what="seed") -> int:
    try:
        seed = int(value)
    except (TypeError, ValueError):
        raise UploadError(f"the {what} must be a whole number from 0 to {MAX_SEED}, got {value!r}") from None
    if isinstance(value, float) and not value.is_integer() or not 0 <= seed <= MAX_SEED:
        raise UploadError(f"the {what} must be a whole number from 0 to {MAX_SEED}, got {value!r}")
    return seed


def watch(generator, latent_dim, seed, psi, noise_mode, mix_seed, styles, seed_b, steps):
    """The watches tab -> (image of `seed`, style-mixing sheet or None, interpolation strip, note)."""
    from common.runtime.images import enlarged
    from watches.inference import generate, interpolation, interpolation_sheet, style_mixing
    from watches.sampling import is_stylegan2

    seed, seed_b = _seed(seed), _seed(seed_b, "second seed of the strip")
    psi = float(psi)
    if not 0.0 <= psi <= 1.0:
        raise UploadError(f"truncation psi must be between 0 and 1, got {psi:g}")
    steps = int(steps)
    if not 2 <= steps <= 16:
        raise UploadError(f"the strip needs 2 to 16 images, got {steps}")
    stylegan2 = is_stylegan2(generator)
    notes = []
    if stylegan2:
        from watches.stylegan2 import set_noise_mode

        if noise_mode not in NOISE_MODES:
            raise UploadError(f"noise mode must be one of {', '.join(NOISE_MODES)}, got {noise_mode!r}")
        set_noise_mode(generator, noise_mode)
    elif noise_mode != "const" or mix_seed not in (None, ""):
        notes.append("noise mode and style mixing are StyleGAN2's: this is a DCGAN generator")
    image = enlarged(generate(generator, latent_dim, [seed], psi)[0])
    mixed = None
    if stylegan2 and mix_seed not in (None, ""):
        if styles not in STYLES:
            raise UploadError(f"styles must be one of {', '.join(STYLES)}, got {styles!r}")
        mixed = style_mixing(generator, latent_dim, [seed], [_seed(mix_seed, "mixing seed")], styles, psi)
    strip = interpolation_sheet(interpolation(generator, latent_dim, seed, seed_b, steps, psi), seed, seed_b)
    size = int(generator.outputs[0].shape[1])
    notes.insert(0, f"seed {seed}, psi {psi:g}" + (f", noise {noise_mode}" if stylegan2 else "")
                 + f": {size}x{size} px" + (" (shown enlarged)" if image.shape[0] > size else ""))
    return image, mixed, strip, "; ".join(notes)


# --------------------------------------------------------------------------- the page


def _guarded(fn):
    """fn's UploadError / DataError become gr.Error (the page shows the message, never a stack trace);
    anything else becomes one line too."""
    import functools

    import gradio as gr

    from common.data import DataError

    @functools.wraps(fn)
    def call(*args):
        try:
            return fn(*args)
        except (UploadError, DataError) as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - the page gets one line, the console the trace
            import traceback

            traceback.print_exc()
            raise gr.Error(f"failed: {one_line_error(exc)}") from None

    return call


def build_app(night2day=None, inpainting=None, watches=None, limits: Limits | None = None):
    """The gradio.Blocks page: one tab per model given (a night2day Translator, an inpainting Inpainter,
    a watches (generator, latent size) pair)."""
    import gradio as gr

    limits = limits or Limits()
    with gr.Blocks(title="ganworks", analytics_enabled=False) as app:
        gr.Markdown("# ganworks\nTrained generators of night2day, inpainting and watches.")
        with gr.Tabs():
            if night2day is not None:
                _night2day_tab(gr, night2day, limits)
            if inpainting is not None:
                _inpainting_tab(gr, inpainting, limits)
            if watches is not None:
                _watches_tab(gr, *watches)
    return app


def _night2day_tab(gr, translator, limits):
    scale = translator.training_scale or translator.image_size
    with gr.Tab("night → day", id="night2day"):
        with gr.Row():
            photo = gr.Image(type="filepath", sources=["upload", "clipboard"], label="night photo",
                             elem_id="n2d-photo")
            at_scale = gr.Image(format="png", label=f"day, at the training scale ({scale} px)", interactive=False,
                                elem_id="n2d-scale")
            at_size = gr.Image(format="png", label="day, at the photo's size", interactive=False, elem_id="n2d-size")
        note = gr.Markdown(elem_id="n2d-note")
        button = gr.Button("Translate", variant="primary", elem_id="n2d-run")
        def run(photo):
            return translate(translator, photo, limits)

        # preprocess=False: the handler gets the uploaded file as sent and checks it itself (read_upload)
        button.click(_guarded(run), inputs=photo,
                     outputs=[at_scale, at_size, note], preprocess=False, api_name="translate")


def _inpainting_tab(gr, inpainter, limits):
    with gr.Tab("inpainting", id="inpainting"):
        gr.Markdown("1. Upload a photo. 2. Paint the hole on it with the brush. 3. Click **Fill**.")
        with gr.Row():
            photo = gr.Image(type="filepath", sources=["upload", "clipboard"], label="1. photo", elem_id="inp-photo")
            editor = gr.ImageEditor(type="numpy", sources=[], label="2. paint the hole", layers=False,
                                    transforms=[], format="png", elem_id="inp-editor",
                                    brush=gr.Brush(colors=["rgb(255, 0, 255)"], color_mode="fixed"),
                                    eraser=gr.Eraser())
        button = gr.Button("Fill", variant="primary", elem_id="inp-run")
        with gr.Row():
            shown = gr.Image(format="png", label="input (the hole in magenta)", interactive=False, elem_id="inp-input")
            model = gr.Image(format="png", label="model", interactive=False, elem_id="inp-model")
            classical = gr.Image(format="png", label="Telea (OpenCV)", interactive=False, elem_id="inp-telea")
            mask = gr.Image(format="png", image_mode="L", label="hole", interactive=False, elem_id="inp-mask")
        note = gr.Markdown(elem_id="inp-note")

        def to_editor(upload):
            """A checked upload becomes the editor's background (the brush paints over it)."""
            if upload_path(upload) is None:
                return None
            read_upload(upload, limits)
            return {"background": upload_path(upload), "layers": [], "composite": upload_path(upload)}

        photo.upload(_guarded(to_editor), inputs=photo, outputs=editor, preprocess=False, api_name=False)
        photo.clear(lambda: None, outputs=editor, api_name=False)

        def run(photo, painted):
            from gradio.components.image_editor import EditorData

            # the editor's payload as its own component reads it (layers sent by the page as blobs, or as
            # files by a client) -> {"layers": [RGBA uint8 arrays], ...}
            value = editor.preprocess(EditorData(**painted)) if isinstance(painted, dict) else None
            return fill(inpainter, photo, value, limits)

        # preprocess=False: the photo comes as sent (checked by read_upload), the editor's value is read above
        button.click(_guarded(run), inputs=[photo, editor], outputs=[shown, model, classical, mask, note],
                     preprocess=False, api_name="fill")


def _watches_tab(gr, generator, latent_dim):
    from watches.sampling import is_stylegan2

    stylegan2 = is_stylegan2(generator)
    with gr.Tab("watches", id="watches"):
        with gr.Row():
            with gr.Column():
                seed = gr.Number(0, precision=0, minimum=0, maximum=MAX_SEED, label="seed", elem_id="w-seed")
                psi = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="truncation psi (0: the average watch)",
                                elem_id="w-psi")
                noise = gr.Radio(list(NOISE_MODES), value="const", label="noise mode", interactive=stylegan2,
                                 visible=stylegan2, elem_id="w-noise")
                mix_seed = gr.Number(None, precision=0, minimum=0, maximum=MAX_SEED,
                                     label="style mixing: the seed whose styles are taken (empty: none)",
                                     visible=stylegan2, elem_id="w-mix")
                styles = gr.Radio(list(STYLES), value="coarse", label="styles taken", visible=stylegan2,
                                  elem_id="w-styles")
                seed_b = gr.Number(1, precision=0, minimum=0, maximum=MAX_SEED, label="interpolation: to seed",
                                   elem_id="w-seed-b")
                steps = gr.Slider(2, 16, value=8, step=1, label="images in the strip", elem_id="w-steps")
                button = gr.Button("Generate", variant="primary", elem_id="w-run")
            with gr.Column():
                image = gr.Image(format="png", label="watch", interactive=False, elem_id="w-image")
                mixed = gr.Image(format="png", label="style mixing", interactive=False, visible=stylegan2,
                                 elem_id="w-mixed")
        strip = gr.Image(format="png", label="interpolation", interactive=False, elem_id="w-strip")
        note = gr.Markdown(elem_id="w-note")
        def run(seed, psi, noise_mode, mix_seed, styles, seed_b, steps):
            return watch(generator, latent_dim, seed, psi, noise_mode, mix_seed, styles, seed_b, steps)

        button.click(_guarded(run),
                     inputs=[seed, psi, noise, mix_seed, styles, seed_b, steps],
                     outputs=[image, mixed, strip, note], api_name="generate")


# --------------------------------------------------------------------------- the command line


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, got {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 1 to 65535, got {port}")
    return port


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ganworks.app", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    for task in ("night2day", "inpainting", "watches"):
        article = "an" if task[0] in "aeiou" else "a"
        p.add_argument(f"--{task}", metavar="CHECKPOINT",
                       help=f"{article} {task} run folder, checkpoint folder or exported .keras generator "
                            "(default: no tab)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to serve on: 127.0.0.1 for this machine only, 0.0.0.0 for every interface")
    p.add_argument("--port", type=_port, default=7860, help="port to serve on")
    p.add_argument("--share", action="store_true",
                   help="also serve through a public Gradio share link (Kaggle, Colab; needs internet)")
    p.add_argument("--max-megapixels", type=_positive, default=16.0, help="largest upload taken")
    p.add_argument("--min-side", type=int, default=16, help="smallest upload side taken, in px")
    return add_verbose(one_line_errors(p))


def load_models(args):
    """The models the arguments name -> build_app's keyword arguments (one DataError line for a bad one)."""
    models = {}
    if args.night2day:
        from night2day.inference import Translator

        models["night2day"] = Translator.load(args.night2day)
    if args.inpainting:
        from inpainting.inference import Inpainter

        models["inpainting"] = Inpainter.load(args.inpainting)
    if args.watches:
        from watches.inference import load_generator

        models["watches"] = load_generator(args.watches)
    return models


def main(argv=None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    given = [t for t in ("night2day", "inpainting", "watches") if getattr(args, t)]
    if not given:
        p.error("give at least one of --night2day, --inpainting, --watches (a run folder or exported generator)")
    for task in given:
        if not Path(getattr(args, task)).exists():
            p.error(f"--{task} not found: {getattr(args, task)}")
    if args.min_side < 1:
        p.error(f"--min-side must be at least 1, got {args.min_side}")
    try:
        import gradio  # noqa: F401
    except ImportError:
        p.error("the web app needs Gradio: pip install \"ganworks[app]\" (or pip install gradio)")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    quiet_tensorflow(args.verbose)
    from common.data import DataError

    try:
        models = load_models(args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    limits = Limits(min_side=args.min_side, max_pixels=int(args.max_megapixels * 1e6))
    app = build_app(**models, limits=limits)
    print(f"starting the app ({', '.join(given)}) on http://{args.host}:{args.port}"
          + (" and a share link" if args.share else "") + " (Ctrl-C stops it)", flush=True)
    try:
        app.launch(server_name=args.host, server_port=args.port, share=args.share, show_error=False, quiet=False)
    except OSError as exc:  # the port is taken, the address is not this machine's
        print(f"error: cannot serve on {args.host}:{args.port}: {one_line_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
