"""The inpainting demo set (`--data demo`): train/ test/, 40 + 12 scene crops of scikit-image's
photos, 128x128."""

from __future__ import annotations

from pathlib import Path

from common.demo_data import SCENES, build_demo_set, command_line, load_photos, random_crops, save_images


def _build(folder: Path, counts: dict, size: int, rng) -> None:
    photos = load_photos(SCENES + ("hubble_deep_field",))
    crops = random_crops(photos, counts["train"] + counts["test"], size, rng, scale=(0.4, 1.0))
    save_images(folder / "train", crops[:counts["train"]])
    save_images(folder / "test", crops[counts["train"]:])


def demo_dataset(root=None, *, size: int | None = None) -> Path:
    """The inpainting demo set's folder (built on first use; see common.demo_data.build_demo_set)."""
    return build_demo_set("inpainting", _build, default_size=128, counts={"train": 40, "test": 12}, seed=2016,
                          root=root, size=size)


if __name__ == "__main__":
    raise SystemExit(command_line(demo_dataset, "python -m inpainting.demo"))
