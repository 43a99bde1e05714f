"""The night2day demo set (`--data demo`): trainA/ trainB/ testA/ testB/, 24 + 8 images per domain,
128x128. B = day: crops of scikit-image's photos; A = night: night renderings (darkened with a gamma
curve, blue-shifted, sensor noise, a few lamps / headlight pairs with glow). Training crops differ
between the domains (unpaired); testA/NNN.png is the night rendering of testB/NNN.png, so the test
split is paired and G(night) can be scored against the true day image."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.demo_data import SCENES, build_demo_set, command_line, load_photos, random_crops, save_images


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


def _build(folder: Path, counts: dict, size: int, rng) -> None:
    photos = load_photos(SCENES)
    n_train, n_test = counts["trainB"], counts["testB"]
    # training: both domains show every photo, but through different crops (unpaired)
    save_images(folder / "trainB", random_crops(photos, n_train, size, rng))
    save_images(folder / "trainA", [render_night(c, rng) for c in random_crops(photos, n_train, size, rng)])
    # test: the same crops in both domains (paired), crops the training sets do not hold
    test_day = random_crops(photos, n_test, size, rng)
    save_images(folder / "testB", test_day)
    save_images(folder / "testA", [render_night(c, rng) for c in test_day])



def demo_dataset(root=None, *, size: int | None = None) -> Path:
    """The night2day demo set's folder (built on first use; see common.demo_data.build_demo_set)."""
    return build_demo_set("night2day", _build, default_size=128,
                          counts={"trainA": 24, "trainB": 24, "testA": 8, "testB": 8}, seed=2017, root=root, size=size)


if __name__ == "__main__":
    raise SystemExit(command_line(demo_dataset, "python -m night2day.demo"))
