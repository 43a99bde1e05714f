"""night2day pipelines (SPEC section 1) over the trainA/trainB/testA/testB layout (A = night, B = day).

ResNet preset: random flip (--flip), resize to 720 (scaled with --image-size), random crop,
[-1, 1]; epochs are passes over the larger domain. Multi-scale preset: resize,
[0, 1], a fresh random batch from each domain every step. Both are functions of
(seed, step), so a resumed run sees the batches an uninterrupted one would.
"""

from __future__ import annotations

from pathlib import Path

from common.data import DataError, image_dataset, list_images, steps_per_epoch, unpaired_dataset
from night2day.options import default_load_size

# the sub-folders a night2day data folder holds, in order of preference (common.data_source.resolve_data)
LAYOUTS = (("trainA", "trainB"), ("testA", "testB"))
DOMAINS = {"trainA": "night (train)", "trainB": "day (train)", "testA": "night (test)", "testB": "day (test)"}


def domain_folders(root, splits=("trainA", "trainB")) -> dict[str, Path]:
    """{split: folder} for the CycleGAN layout in root, or in the shallowest folder up to 2
    levels below it holding all of splits (a dataset's <name>/<version>/trainA); DataError
    (one line) naming what is missing and where it looked otherwise."""
    from common.data_source import LAYOUT_SEARCH_DEPTH, describe_folder, find_layout

    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    base = find_layout(root, splits, missing_ok=True)
    if base is None:
        missing = next(split for split in splits if not (root / split).is_dir())
        wanted = " and ".join(f"{split}/" for split in splits)
        raise DataError(f"{root} has no {missing}/ folder ({DOMAINS[missing]} images), nor does any folder up to "
                        f"{LAYOUT_SEARCH_DEPTH} levels below it hold {wanted} ({describe_folder(root)}); expected "
                        "trainA/ trainB/ testA/ testB/ (A = night, B = day) - "
                        "see `python -m night2day.prepare --help`")
    return {split: base / split for split in splits}

def value_range_of(model: str) -> str:
    """The generator's output range: tanh for the ResNet preset, sigmoid for the multi-scale one."""
    return "tanh" if model == "resnet" else "sigmoid"

def train_dataset(root, *, model, image_size, batch_size, seed, start_step, load_size=None, flip=None):
    """(night, day) batches: float32 [B, S, S, 3] each, in the preset's value range.

    ResNet: random flip, resize to load_size x load_size, random S x S crop (load_size
    None: night2day.options.default_load_size). Multi-scale: resize to S. flip: random left-right
    flips (None: the preset's, on for ResNet and off for multi-scale).
    """
    flip = (model == "resnet") if flip is None else bool(flip)
    folders = domain_folders(root)
    if model == "resnet":
        return unpaired_dataset(folders["trainA"], folders["trainB"], image_size=image_size,
                                batch_size=batch_size, value_range="tanh", order="shuffle", seed=seed,
                                start_step=start_step, resize_to=load_size or default_load_size(model, image_size),
                                random_crop=True, random_flip=flip)
    return unpaired_dataset(folders["trainA"], folders["trainB"], image_size=image_size,
                            batch_size=batch_size, value_range="sigmoid", order="random", seed=seed,
                            start_step=start_step, random_flip=flip)

def default_steps_per_epoch(root, *, model, batch_size) -> int:
    """ResNet: one pass over the larger domain; multi-scale: 1 (the notebook's one-batch epochs)."""
    if model != "resnet":
        return 1
    folders = domain_folders(root)
    n_a, n_b = len(list_images(folders["trainA"])), len(list_images(folders["trainB"]))
    return max(1, steps_per_epoch(n_a, n_b, batch_size))

def ordered_dataset(source, *, model, image_size, batch_size=8):
    """One pass, in file order, over a folder or a list of image paths (an undecodable file is left out,
    the last batch may be smaller): float32 [<=batch_size, S, S, 3] resized to image_size, in the preset's range."""
    return image_dataset(source, image_size=image_size, batch_size=batch_size, value_range=value_range_of(model),
                         order="sequential", repeat=False, drop_remainder=False)
