"""inpainting pipelines (SPEC section 2) over a train/ [val/] [test/] layout, or a plain folder of images.

Training batches are (images, masks): images resized to the training size in [-1, 1],
in an order keyed by (seed, epoch), and hole masks drawn by inpainting.masks from
(seed, step). Both are functions of (seed, step), so a resumed run sees the batches and
holes an uninterrupted one would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from common.data import DataError, image_dataset, list_images
from inpainting.masks import make_masks

# the sub-folders an inpainting data folder holds (common.data_source.resolve_data); a plain folder works too
LAYOUTS = (("train",),)
# the mean colour of the training images is estimated from at most this many of them
MEAN_COLOUR_SAMPLE = 512


def splits(root) -> dict[str, Path | None]:
    """{"train": folder, "test": folder or None}: root/train and root/test (or root/val) when root has
    a train/ folder (inpainting.prepare's layout, the demo data), else every image under root is for
    training and there is no test split."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    if not (root / "train").is_dir():
        return {"train": root, "test": None}
    test = next((root / name for name in ("test", "val") if (root / name).is_dir()), None)
    return {"train": root / "train", "test": test}


def train_dataset(folder, *, image_size, batch_size, seed, start_step, mask, mask_options, load_size=None,
                  flip=False):
    """Infinite (images float32 [B, S, S, 3] in [-1, 1], masks float32 [B, S, S, 1]) batches; batch k is
    the one of global step start_step + k. load_size: resize to it and take a random S x S crop (None:
    resize to S, as the source); flip: mirror left-right at random (augmentation for small sets)."""
    crop = load_size is not None and load_size != image_size
    images = image_dataset(folder, image_size=image_size, batch_size=batch_size, value_range="tanh",
                           order="shuffle", seed=seed, start_step=start_step, resize_to=load_size if crop else None,
                           random_crop=crop, random_flip=flip)

    def with_masks(step, batch):
        return batch, make_masks(mask, seed=seed, step=step, batch_size=batch_size, image_size=image_size,
                                 **mask_options)

    steps = tf.data.Dataset.counter(start=start_step, dtype=tf.int64)
    return tf.data.Dataset.zip(steps, images).map(with_masks, num_parallel_calls=tf.data.AUTOTUNE,
                                                  deterministic=True).prefetch(tf.data.AUTOTUNE)


def ordered_images(source, *, image_size, batch_size=16):
    """One pass, in file order, over a folder or a list of paths: float32 [<=B, S, S, 3] in [-1, 1]
    (an undecodable file is left out)."""
    return image_dataset(source, image_size=image_size, batch_size=batch_size, value_range="tanh",
                         order="sequential", repeat=False, drop_remainder=False)


def mean_colour(folder, *, image_size, limit=MEAN_COLOUR_SAMPLE) -> list[float]:
    """The mean RGB colour of (at most `limit` of) the images in folder, in [-1, 1]: the fill value
    Pathak et al. put in the hole."""
    paths = list_images(folder)[:limit]
    total, count = np.zeros(3), 0
    for batch in ordered_images(paths, image_size=image_size, batch_size=32):
        total += np.asarray(batch, np.float64).sum(axis=(0, 1, 2))
        count += batch.shape[0] * batch.shape[1] * batch.shape[2]
    return [round(float(v), 6) for v in total / max(count, 1)]


def steps_per_epoch(folder, batch_size) -> int:
    """One pass over the training images (at least one step)."""
    return max(1, len(list_images(folder)) // batch_size)
