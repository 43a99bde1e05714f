"""watches pipelines (SPEC section 3): one folder of images (searched recursively), resized to
--image-size, in [-1, 1], optionally mirrored (StyleGAN's x-flip); a function of (seed, step)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from common.data import image_dataset, list_images, scan_images


def train_dataset(folder, *, image_size, batch_size, seed, start_step, mirror=False):
    """Infinite batches float32 [B, S, S, 3] in [-1, 1]; batch k is the one of global step start_step + k."""
    return image_dataset(folder, image_size=image_size, batch_size=batch_size, value_range="tanh", order="shuffle",
                         seed=seed, start_step=start_step, random_flip=mirror)


def summary(folder, sample=200) -> dict:
    """{"images", "skipped": [(path, reason)], "sizes": {"WxH": count} over the first `sample` readable images}."""
    import cv2

    good, bad = scan_images(list_images(folder))
    sizes = Counter()
    for path in good[:sample]:
        image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if image is not None:
            sizes[f"{image.shape[1]}x{image.shape[0]}"] += 1
    return {"folder": str(Path(folder)), "images": len(good), "skipped": bad, "sizes": dict(sizes.most_common())}


def describe(info) -> str:
    sizes = ", ".join(f"{k} ({v})" for k, v in list(info["sizes"].items())[:4])
    line = f"data: {info['images']} images in {info['folder']}; sizes seen: {sizes}"
    return line + (f"; skipped {len(info['skipped'])} unreadable" if info["skipped"] else "")
