"""Generating watch images from a trained generator (what `python -m watches.generate` runs).

A "checkpoint" argument is anything common.runtime.generator.load takes: a run folder, a checkpoint
folder or an exported .keras generator with its card beside it. Seed s always gives the same image
(watches.sampling.seed_latents). A StyleGAN2 generator's mapping and synthesis are its own
sub-models (split_generator): style mixing and interpolation run in w space.
"""

from __future__ import annotations

import argparse

import keras
import numpy as np

from common.report import parse_seeds
from common.runtime import generator as gen
from common.runtime.images import image_grid, shown, to_uint8
from watches.build import build_gan
from watches.sampling import is_stylegan2, run_generator, seed_latents


def _card_fields(config, network) -> dict:
    return {"model": config["model"], "value_range": "tanh", "image_size": int(config["image_size"]),
            "latent_dim": int(config["latent_dim"])}


# a run exports its sampler: the EMA weights when it keeps them (StyleGAN2 always)
GENERATORS = gen.GeneratorSpec("watches", build=build_gan, exports=lambda m: {"generator": m.sampler},
                               card_fields=_card_fields)


def load(path) -> gen.Generators:
    """A watches run, checkpoint or exported generator -> its generator and card (one DataError line
    for anything else)."""
    from watches import stylegan2  # noqa: F401 - registers the StyleGAN2 layers for loading

    return gen.load(path, GENERATORS)


def load_generator(path):
    """A run folder, checkpoint or exported .keras file -> (generator, latent size)."""
    found = load(path)
    return found.network(), int(found.card.latent_dim)


def split_generator(generator):
    """A StyleGAN2 [z, psi] generator -> (mapping [z, psi] -> w, synthesis ws -> images), its own sub-models."""
    subs = [layer for layer in generator.layers if isinstance(layer, keras.Model)]
    mapping = next(m for m in subs if len(m.inputs) == 2)
    synthesis = next(m for m in subs if len(m.inputs[0].shape) == 3)
    return mapping, synthesis


def generate(generator, latent_dim, seeds, truncation=1.0):
    """uint8 [len(seeds), S, S, 3], one image per seed."""
    return to_uint8(run_generator(generator, seed_latents(seeds, latent_dim), truncation))


def _ws(generator, latent_dim, seeds, truncation):
    """StyleGAN2: the (truncated) w of each seed, broadcast to every layer: [len(seeds), num_ws, w_dim]."""
    mapping, synthesis = split_generator(generator)
    z = seed_latents(seeds, latent_dim)
    w = np.asarray(mapping([z, np.full([len(seeds), 1], truncation, np.float32)], training=False))
    return np.repeat(w[:, None], synthesis.inputs[0].shape[1], axis=1), synthesis


STYLE_RANGES = {"coarse": (0, 4), "middle": (4, 8), "fine": (8, None)}


def style_indices(styles, num_ws) -> list[int]:
    """'coarse' | 'middle' | 'fine' | 'A-B' -> the w indices whose styles come from the column seed."""
    if styles in STYLE_RANGES:
        lo, hi = STYLE_RANGES[styles]
        return list(range(lo, num_ws if hi is None else min(hi, num_ws)))
    seeds = parse_seeds(styles)
    if max(seeds) >= num_ws:
        raise argparse.ArgumentTypeError(f"--styles {styles}: this generator has w indices 0-{num_ws - 1}")
    return seeds


def style_mixing(generator, latent_dim, rows, columns, styles="coarse", truncation=1.0, projected=None):
    """uint8 sheet (the StyleGAN paper's Figure 3): top row the column seeds' images, left column the row
    seeds', and at (r, c) row seed r's image with the `styles` layers' w taken from column seed c; each
    row and column labelled with its seed, the title saying which styles are mixed. projected: ws
    [N, num_ws, w_dim] (watches.project's) added as the first rows, labelled "projected" (not truncated)."""
    ws, synthesis = _ws(generator, latent_dim, list(rows) + list(columns), truncation)
    row_ws, col_ws = ws[:len(rows)], ws[len(rows):]
    labels = [f"seed {r}" for r in rows]
    if projected is not None and len(projected):
        row_ws = np.concatenate([np.asarray(projected, np.float32), row_ws])
        labels = ["projected" if len(projected) == 1 else f"projected {i}" for i in range(len(projected))] + labels
        rows = [None] * len(row_ws)
    take = style_indices(styles, ws.shape[1])
    mixed = np.repeat(row_ws[:, None], len(columns), axis=1)  # [R, C, num_ws, w_dim]
    mixed[:, :, take] = col_ws[None, :, take]
    row_images = shown(synthesis(row_ws, training=False))
    col_images = shown(synthesis(col_ws, training=False))
    mixed_images = shown(synthesis(mixed.reshape(-1, *ws.shape[1:]), training=False))
    blank = np.full_like(row_images[0], 255)
    grid = [[blank] + list(col_images)]
    for r in range(len(rows)):
        grid.append([row_images[r]] + list(mixed_images[r * len(columns):(r + 1) * len(columns)]))
    what = styles if styles in STYLE_RANGES else f"w {styles}"
    return image_grid(grid, columns=[""] + [f"seed {c}" for c in columns], row_labels=[""] + labels,
                      title=f"row {'image' if projected is not None and len(projected) else 'seed'} with the "
                            f"{what} styles of the column seed")


def interpolation_sheet(strip, a, b) -> np.ndarray:
    """uint8 [steps, S, S, 3] (interpolation) -> one labelled row: "seed a", the fractions between, "seed b"."""
    ts = np.linspace(0.0, 1.0, len(strip))
    labels = [f"seed {a}"] + [f"{t:.2f}" for t in ts[1:-1]] + [f"seed {b}"]
    return image_grid([shown(np.asarray(strip), "pixels")], captions=[labels])


def truncation_grid(generator, latent_dim, seeds, psis=(1.0, 0.7, 0.5, 0.0)) -> np.ndarray:
    """uint8 sheet: one row per seed (labelled), one column per truncation psi (labelled "psi 0.7"):
    less variety, fewer failures towards psi 0 (the average watch for StyleGAN2)."""
    by_psi = [shown(generate(generator, latent_dim, seeds, psi), "pixels") for psi in psis]
    rows = [[images[i] for images in by_psi] for i in range(len(seeds))]
    return image_grid(rows, columns=[f"psi {psi:g}" for psi in psis], row_labels=[f"seed {s}" for s in seeds])


def interpolation(generator, latent_dim, a, b, steps=8, truncation=1.0):
    """uint8 [steps, S, S, 3] between seeds a and b: linear in w for StyleGAN2 (as the paper's
    interpolations), spherical in z for DCGAN."""
    if is_stylegan2(generator):
        ws, synthesis = _ws(generator, latent_dim, [a, b], truncation)
        ts = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None, None]
        return to_uint8(synthesis((1 - ts) * ws[:1] + ts * ws[1:], training=False))
    za, zb = seed_latents([a, b], latent_dim)
    omega = np.arccos(np.clip(np.dot(za / np.linalg.norm(za), zb / np.linalg.norm(zb)), -1.0, 1.0))
    ts = np.linspace(0.0, 1.0, steps)
    if omega < 1e-6:
        zs = np.stack([(1 - t) * za + t * zb for t in ts])
    else:
        zs = np.stack([(np.sin((1 - t) * omega) * za + np.sin(t * omega) * zb) / np.sin(omega) for t in ts])
    return to_uint8(generator(zs.astype("float32") * truncation, training=False))
