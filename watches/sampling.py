"""Running a watches generator: seeded latents, the two generators' calling conventions, sample grids.

The one module the task (sample grids during training), the evaluation (generated batches) and
the inference library (generate, style mixing, interpolation) all run generators through.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from common.runtime.images import image_grid, shown


def seed_latents(seeds, latent_dim) -> np.ndarray:
    """float32 [len(seeds), latent_dim]: seed s -> N(0, 1) drawn by numpy's PCG64 from s (the same on every
    machine), as NVIDIA's generate.py does."""
    return np.stack([np.random.default_rng(int(s)).standard_normal(int(latent_dim)) for s in seeds]).astype("float32")


def is_stylegan2(generator) -> bool:
    """A StyleGAN2 generator takes [z, psi]; a DCGAN one takes z."""
    return isinstance(generator.inputs, (list, tuple)) and len(generator.inputs) == 2


def run_generator(generator, z, psi=1.0, training=False):
    """images [B, S, S, 3] in [-1, 1] from latents z [B, latent_dim]: a StyleGAN2 generator takes [z, psi]
    (truncation towards the average w); a DCGAN generator takes z, truncated by scaling it by psi."""
    if is_stylegan2(generator):
        z = tf.convert_to_tensor(z, tf.float32)
        return generator([z, tf.fill([tf.shape(z)[0], 1], tf.cast(psi, tf.float32))], training=training)
    return generator(z * psi if psi != 1 else z, training=training)


def latent_size(generator) -> int:
    """The latent size a (DCGAN or StyleGAN2) generator takes."""
    return int(generator.inputs[0].shape[-1])


def seed_sheet(images, seeds, columns=None) -> np.ndarray:
    """images of these seeds (uint8 [B, S, S, 3], or a list of uint8 [S, S, 3]) -> a sheet, `columns` a
    row (default: about square), each enlarged to the sheet tile (common.runtime.images.sheet_tile: at
    least 128 px) and captioned "seed N"."""
    images = shown(np.stack(list(images)), "pixels")
    columns = columns or int(np.ceil(np.sqrt(len(images))))
    labels = [f"seed {s}" for s in seeds]
    return image_grid([images[i:i + columns] for i in range(0, len(images), columns)],
                      captions=[labels[i:i + columns] for i in range(0, len(labels), columns)])


def sample_grid(generator, latents, seeds, columns=4, tile=None) -> np.ndarray:
    """The training sample sheet: the generator's images of these latents (seed_latents(seeds)), `columns`
    a row, each captioned with its seed; tile: the side each is shown at (default sheet_tile(S))."""
    pixels = shown(np.asarray(run_generator(generator, latents)), "tanh", tile)
    return seed_sheet(pixels, seeds, columns)
