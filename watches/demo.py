"""The watches demo set (`--data demo`): images/, 48 watch-like product shots, 64x64: a photo crop
of scikit-image's as the dial, a metal case, hands and hour marks, a strap, on a light background."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from common.demo_data import build_demo_set, command_line, load_photos, random_crops, save_images

# photos in skimage.data used as dials
DIAL_PHOTOS = ("clock", "coffee", "astronaut", "rocket", "hubble_deep_field", "immunohistochemistry", "chelsea",
               "motorcycle_left")

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


def _build(folder: Path, counts: dict, size: int, rng) -> None:
    photos = load_photos(DIAL_PHOTOS)
    dials = random_crops(photos, counts["images"], size, rng, scale=(0.2, 0.6))
    save_images(folder / "images", [render_watch(d, rng) for d in dials])



def demo_dataset(root=None, *, size: int | None = None) -> Path:
    """The watches demo set's folder (built on first use; see common.demo_data.build_demo_set)."""
    return build_demo_set("watches", _build, default_size=64, counts={"images": 48}, seed=2020,
                          root=root, size=size)


if __name__ == "__main__":
    raise SystemExit(command_line(demo_dataset, "python -m watches.demo"))
