"""How every task's small built-in demo set (`--data demo`) is made and kept: offline, from the
photos that ship inside scikit-image. Each task describes its own set in <task>/demo.py (its
sub-folders, counts, image size, seed and a function that draws the images) and builds it with
`build_demo_set`; `resolve_data(..., build_demo=...)` calls that for `--data demo`.

Every image is a pure function of a fixed seed: two builds give the same files byte
for byte. `build_demo_set` builds a set once into a temporary folder, writes a
completion marker and renames the folder into place, so an interrupted or concurrent
build never leaves a half-made set behind.

    python -m <task>.demo [--out DIR] [--size N]     build (once) and print the folder
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

def default_root() -> Path:
    """$GANWORKS_CACHE/demo, GANWORKS_CACHE defaulting to ~/.cache/ganworks."""
    return Path(os.environ.get("GANWORKS_CACHE") or Path.home() / ".cache" / "ganworks").expanduser() / "demo"


def build_demo_set(task: str, build, *, default_size: int, counts: dict, seed: int, root=None,
                   size: int | None = None) -> Path:
    """The folder of `task`'s demo set under `root` (default `default_root()`), built on first
    use by build(folder, counts, size, rng) (counts: {subfolder: number of images}; rng: a numpy
    Generator from `seed`). `size` overrides default_size (a separate folder, `<task>-<size>`)."""
    size = int(size or default_size)
    if size < 8:
        raise ValueError(f"demo image size must be at least 8, got {size}")
    root = Path(root).expanduser() if root is not None else default_root()
    final = root / (task if size == default_size else f"{task}-{size}")
    stamp = {"task": task, "size": size, "version": DEMO_VERSION, "counts": counts}
    if _is_complete(final, stamp):
        return final

    root.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{final.name}.building-", dir=root))
    try:
        build(building, counts, size, np.random.default_rng(seed))
        (building / COMPLETE_MARKER).write_text(json.dumps(stamp, sort_keys=True) + "\n")
        building.chmod(0o755)
        if final.exists() and not _is_complete(final, stamp):  # stale: half-made or older version
            stale = Path(tempfile.mkdtemp(prefix=f".{final.name}.stale-", dir=root))
            os.replace(final, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(building, final)
        except OSError:
            if not _is_complete(final, stamp):  # not a concurrent build that finished first
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
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


def save_images(folder: Path, images) -> None:
    """uint8 [H, W, 3] images as folder/000.png, 001.png, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:03d}.png")


# --------------------------------------------------------------------------- CLI


def command_line(demo_dataset, prog: str, argv=None) -> int:
    """`python -m <task>.demo`: build (once) and print the folder of demo_dataset(root, size=)."""
    from common.report import one_line_errors

    description = "Build the built-in demo set once and print its folder."
    parser = one_line_errors(argparse.ArgumentParser(prog=prog, description=description))
    parser.add_argument("--out", default=None, help=f"root folder (default {default_root()})")
    parser.add_argument("--size", type=int, default=None, help="image size (default: the task's)")
    args = parser.parse_args(argv)
    print(demo_dataset(args.out, size=args.size), flush=True)
    return 0
