"""Small built-in demo datasets (`--data demo`), made offline from the photos that ship
inside scikit-image, so every task runs end to end without a download.

    night2day   trainA/ trainB/ testA/ testB/   24 + 8 images per domain, 128x128
                B = day: crops of the photos; A = night: night renderings (darkened
                with a gamma curve, blue-shifted, sensor noise, a few lamps / headlight
                pairs with glow). Training crops differ between the domains (unpaired);
                testA/NNN.png is the night rendering of testB/NNN.png, so the test
                split is paired and G(night) can be scored against the true day image
    inpainting  train/ test/                    40 + 12 scene crops, 128x128
    watches     images/                         48 watch-like product shots, 64x64: a
                photo crop as the dial, a metal case, hands and hour marks, a strap,
                on a light background

Every image is a pure function of a fixed seed: two builds give the same files byte
for byte. `demo_dataset` builds a set once into a temporary folder, writes a
completion marker and renames the folder into place, so an interrupted or concurrent
build never leaves a half-made set behind.

    python -m common.demo_data [--task all|night2day|inpainting|watches] [--out DIR] [--size N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

DEMO_VERSION = 2  # bump when the generated images change, so old caches are rebuilt
COMPLETE_MARKER = ".ganworks-complete"

# photos in skimage.data that are real colour photographs and need no download
SCENES = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "motorcycle_right")
DIAL_PHOTOS = ("clock", "coffee", "astronaut", "rocket", "hubble_deep_field", "immunohistochemistry", "chelsea",
               "motorcycle_left")

TASKS = {
    # task: default image size, {subfolder: count}, seed
    "night2day": (128, {"trainA": 24, "trainB": 24, "testA": 8, "testB": 8}, 2017),
    "inpainting": (128, {"train": 40, "test": 12}, 2016),
    "watches": (64, {"images": 48}, 2020),
}


def default_root() -> Path:
    """$GANWORKS_CACHE/demo, GANWORKS_CACHE defaulting to ~/.cache/ganworks."""
    return Path(os.environ.get("GANWORKS_CACHE") or Path.home() / ".cache" / "ganworks").expanduser() / "demo"


def demo_dataset(task: str, root=None, *, size: int | None = None) -> Path:
    """The folder of `task`'s demo set under `root` (default `default_root()`), built on
    first use. `size` overrides the task's image size (a separate folder, `<task>-<size>`)."""
    if task not in TASKS:
        raise ValueError(f"unknown demo task {task!r}; choose from {', '.join(TASKS)}")
    default_size, counts, seed = TASKS[task]
    size = int(size or default_size)
    if size < 8:
        raise ValueError(f"demo image size must be at least 8, got {size}")
    root = Path(root).expanduser() if root is not None else default_root()
    final = root / (task if size == default_size else f"{task}-{size}")
    stamp = {"task": task, "size": size, "version": DEMO_VERSION, "counts": counts}
    if _is_complete(final, stamp):
        return final

    root.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{final.name}.building-", dir=root))
    try:
        _BUILDERS[task](build, counts, size, np.random.default_rng(seed))
        (build / COMPLETE_MARKER).write_text(json.dumps(stamp, sort_keys=True) + "\n")
        build.chmod(0o755)
        if final.exists() and not _is_complete(final, stamp):  # stale: half-made or older version
            stale = Path(tempfile.mkdtemp(prefix=f".{final.name}.stale-", dir=root))
            os.replace(final, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(build, final)
        except OSError:
            if not _is_complete(final, stamp):  # not a concurrent build that finished first
                raise
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return final


def _is_complete(folder: Path, stamp: dict) -> bool:
    try:
        return json.loads((folder / COMPLETE_MARKER).read_text()) == json.loads(json.dumps(stamp))
    except (OSError, ValueError):
        return False


# --------------------------------------------------------------------------- photos


def load_photos(names) -> list[np.ndarray]:
    """The named skimage.data photos that are available offline, as uint8 [H, W, 3]."""
    import skimage.data

    photos = []
    for name in names:
        try:
            if name in ("motorcycle_left", "motorcycle_right"):
                left, right, _ = skimage.data.stereo_motorcycle()
                image = left if name == "motorcycle_left" else right
            else:
                image = getattr(skimage.data, name)()
        except Exception:  # missing in this scikit-image, or would need a download
            continue
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=-1)
        photos.append(np.ascontiguousarray(image[..., :3].astype(np.uint8)))
    if len(photos) < 2:
        raise RuntimeError(f"scikit-image provides too few of the demo photos {names} offline")
    return photos


def random_crops(photos, count: int, size: int, rng, scale=(0.3, 0.9)) -> list[np.ndarray]:
    """`count` square crops (side a random fraction `scale` of the photo's short side),
    taken from the photos in turn and resized to uint8 [size, size, 3]; near-uniform
    crops (blank sky, walls) are drawn again."""
    crops = []
    while len(crops) < count:
        photo = photos[len(crops) % len(photos)]
        h, w = photo.shape[:2]
        for _ in range(20):
            side = int(rng.uniform(*scale) * min(h, w))
            y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            crop = photo[y:y + side, x:x + side]
            if crop.std() > 20:
                break
        crops.append(np.asarray(Image.fromarray(crop).resize((size, size), Image.LANCZOS)))
    return crops


def _save(folder: Path, images) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:03d}.png")


# --------------------------------------------------------------------------- night2day


def render_night(day: np.ndarray, rng) -> np.ndarray:
    """A night version of a day image, uint8 [H, W, 3] -> uint8 [H, W, 3]."""
    h, w = day.shape[:2]
    x = (day / 255.0) ** 1.8 * rng.uniform(0.3, 0.45)  # gamma: midtones fall more than highlights
    x *= np.array([0.55, 0.75, 1.0]) * np.linspace(0.6, 1.0, h)[:, None, None]  # blue cast; darker sky
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    for _ in range(int(rng.integers(1, 4))):  # street lamps, or a pair of headlights
        cy, cx = rng.uniform(0.15, 0.9), rng.uniform(0.1, 0.9)
        centres = [(cy, cx), (cy, cx + rng.uniform(0.12, 0.25))] if rng.random() < 0.5 else [(cy, cx)]
        colour = np.array([1.0, 0.85, 0.55]) if rng.random() < 0.6 else np.array([0.9, 0.95, 1.0])
        core, glow = rng.uniform(0.008, 0.02), rng.uniform(0.04, 0.09)
        for py, px in centres:
            d2 = (yy - py) ** 2 + (xx - px) ** 2
            light = 3.0 * np.exp(-d2 / (2 * core**2)) + 0.5 * np.exp(-d2 / (2 * glow**2))
            x += light[..., None] * colour
    x += rng.normal(0.0, 1.0, x.shape) * (0.01 + 0.03 * np.sqrt(np.clip(x, 0, 1)))  # sensor noise
    return np.round(np.clip(x, 0.0, 1.0) * 255).astype(np.uint8)


def _build_night2day(folder: Path, counts: dict, size: int, rng) -> None:
    photos = load_photos(SCENES)
    n_train, n_test = counts["trainB"], counts["testB"]
    # training: both domains show every photo, but through different crops (unpaired)
    _save(folder / "trainB", random_crops(photos, n_train, size, rng))
    _save(folder / "trainA", [render_night(c, rng) for c in random_crops(photos, n_train, size, rng)])
    # test: the same crops in both domains (paired), crops the training sets do not hold
    test_day = random_crops(photos, n_test, size, rng)
    _save(folder / "testB", test_day)
    _save(folder / "testA", [render_night(c, rng) for c in test_day])


# --------------------------------------------------------------------------- inpainting


def _build_inpainting(folder: Path, counts: dict, size: int, rng) -> None:
    photos = load_photos(SCENES + ("hubble_deep_field",))
    crops = random_crops(photos, counts["train"] + counts["test"], size, rng, scale=(0.4, 1.0))
    _save(folder / "train", crops[:counts["train"]])
    _save(folder / "test", crops[counts["train"]:])


# --------------------------------------------------------------------------- watches


def render_watch(dial: np.ndarray, rng, supersample: int = 4) -> np.ndarray:
    """A watch product shot around a dial picture: uint8 [S, S, 3] -> uint8 [S, S, 3].

    Drawn at `supersample` times the size and downscaled, for smooth edges.
    """
    size = dial.shape[0]
    n = size * supersample
    yy, xx = (np.mgrid[0:n, 0:n] + 0.5) / n
    cy, cx = 0.5 + rng.uniform(-0.04, 0.04, 2)
    radius = rng.uniform(0.28, 0.36)
    dy, dx = yy - cy, xx - cx
    r = np.hypot(dy, dx)
    angle = np.arctan2(dx, -dy)  # 0 at twelve o'clock, clockwise

    image = np.ones((n, n, 3)) * rng.uniform(0.88, 1.0) * np.linspace(1.0, 0.9, n)[:, None, None]
    strap_colour = np.array([[0.08, 0.08, 0.09], [0.35, 0.2, 0.1], [0.55, 0.56, 0.6]][rng.integers(3)])
    strap = np.abs(dx) < radius * rng.uniform(0.6, 0.8)
    image[strap] = strap_colour * (0.8 + 0.2 * np.cos(dx[strap] / radius * np.pi / 2))[:, None]

    metal = np.array([[0.83, 0.69, 0.3], [0.78, 0.78, 0.8], [0.8, 0.55, 0.5]][rng.integers(3)])
    case = r < radius
    shine = 0.7 + 0.3 * np.cos(angle - rng.uniform(0, 2 * np.pi))
    image[case] = metal * shine[case][:, None]

    dial_radius = radius * rng.uniform(0.78, 0.86)
    inside = r < dial_radius
    picture = np.asarray(Image.fromarray(dial).resize((n, n), Image.BILINEAR)) / 255.0
    tint = rng.uniform(0.1, 0.9, 3)
    image[inside] = 0.6 * picture[inside] + 0.4 * tint

    ink = np.array([0.95, 0.95, 0.95]) if tint.mean() < 0.45 else np.array([0.05, 0.05, 0.07])
    hour_marks = inside & (r > dial_radius * 0.8) & (np.abs(((angle + np.pi / 12) % (np.pi / 6)) - np.pi / 12)
                                                       * r < 0.012)
    image[hour_marks] = ink
    for length, width in ((0.55, 0.022), (0.85, 0.012)):  # hour hand, minute hand
        theta = rng.uniform(0, 2 * np.pi)
        ux, uy = np.sin(theta), -np.cos(theta)
        along = dx * ux + dy * uy
        across = np.abs(dx * uy - dy * ux)
        image[(along > -0.05 * dial_radius) & (along < length * dial_radius) & (across < width)] = ink
    image[r < 0.025] = metal

    out = Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
    return np.asarray(out.resize((size, size), Image.LANCZOS))


def _build_watches(folder: Path, counts: dict, size: int, rng) -> None:
    photos = load_photos(DIAL_PHOTOS)
    dials = random_crops(photos, counts["images"], size, rng, scale=(0.2, 0.6))
    _save(folder / "images", [render_watch(d, rng) for d in dials])


_BUILDERS = {"night2day": _build_night2day, "inpainting": _build_inpainting, "watches": _build_watches}


# --------------------------------------------------------------------------- CLI


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.demo_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="all", choices=["all", *TASKS])
    parser.add_argument("--out", default=None, help=f"root folder (default {default_root()})")
    parser.add_argument("--size", type=int, default=None, help="image size instead of the task's default")
    args = parser.parse_args(argv)
    for task in TASKS if args.task == "all" else [args.task]:
        print(demo_dataset(task, args.out, size=args.size), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
