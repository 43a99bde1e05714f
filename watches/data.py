"""watches pipelines (SPEC section 3): one folder of images (searched recursively), resized to
--image-size, in [-1, 1], optionally mirrored (StyleGAN's x-flip); a function of (seed, step).
The data summary printed at the start is the shared one (common.data.print_summary)."""

from __future__ import annotations

from common.data import image_dataset

LAYOUTS = ()  # any folder of images: no sub-folders to look for (common.data_source.resolve_data)


def train_dataset(folder, *, image_size, batch_size, seed, start_step, flip=False):
    """Infinite batches float32 [B, S, S, 3] in [-1, 1]; batch k is the one of global step start_step + k."""
    return image_dataset(folder, image_size=image_size, batch_size=batch_size, value_range="tanh", order="shuffle",
                         seed=seed, start_step=start_step, random_flip=flip)
