"""Scoring a night2day checkpoint on the test split (what `python -m night2day.evaluate` runs).

FID and KID between translated test-night images (G(testA)) and real test-day images
(testB), and cycle-reconstruction PSNR/SSIM (testA vs F(G(testA)), testB vs G(F(testB)))
on [0, 1] pixels. Images are resized to the training scale (the config's load_size: the
ResNet preset learns on crops of images resized to 720/256 x its size) and translated
whole. When testA and testB hold the same scenes (same file names), PSNR/SSIM of G(night)
against the true day image are reported beside the untranslated night image (the floor)
and a per-channel mean/std colour transfer to the day statistics (the non-learned
baseline to beat). Test images that cannot be read are left out and named.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from common import report
from common.data import DataError, from_range, list_images, scan_images
from common.metrics import psnr, ssim
from common.metrics.evaluate import evaluate_folders
from common.runtime.images import save_png
from night2day import data
from night2day.build import training_scale
from night2day.inference import copy_with_input_size, load


def cycle_scores(forward, backward, dataset, value_range, save_dir=None, limit=None) -> dict:
    """Run x -> forward -> backward over a dataset of float32 [B, H, W, 3] batches in value_range.

    -> {"psnr", "ssim": means of x vs its reconstruction on [0, 1] pixels, "images": how many}.
    save_dir: also write each forward(x) there as 000000.png, 000001.png, ... limit: stop after
    that many images.
    """
    psnrs, ssims, count = [], [], 0
    for batch in dataset:
        if limit is not None and count >= limit:
            break
        if limit is not None:
            batch = batch[: limit - count]
        translated = forward(batch, training=False)
        rebuilt = backward(translated, training=False)
        x = np.asarray(from_range(batch, value_range), np.float32) / 255.0
        r = np.asarray(from_range(rebuilt, value_range), np.float32) / 255.0
        psnrs.extend(np.atleast_1d(np.asarray(psnr(x, r, max_val=1.0))).tolist())
        ssims.extend(np.atleast_1d(np.asarray(ssim(x, r, max_val=1.0))).tolist())
        if save_dir is not None:
            for i, image in enumerate(np.asarray(from_range(translated, value_range))):
                save_png(Path(save_dir) / f"{count + i:06d}.png", image)
        count += int(batch.shape[0])
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "images": count}


def color_transfer(images, target_mean, target_std, eps=1e-6) -> np.ndarray:
    """The non-learned baseline: each image's per-channel mean and std moved to the day statistics.

    images: float [B, H, W, 3] in [0, 1]; target_mean, target_std: [3] -> float32 [B, H, W, 3] in [0, 1].
    """
    images = np.asarray(images, np.float32)
    mean = images.mean(axis=(1, 2), keepdims=True)
    std = images.std(axis=(1, 2), keepdims=True)
    out = (images - mean) / (std + eps) * np.asarray(target_std, np.float32) + np.asarray(target_mean, np.float32)
    return np.clip(out, 0.0, 1.0)


def channel_stats(dataset, value_range) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of [0, 1] pixels pooled over every image of a dataset -> ([3], [3])."""
    total, total_sq, count = np.zeros(3), np.zeros(3), 0
    for batch in dataset:
        x = np.asarray(from_range(batch, value_range), np.float64) / 255.0
        total += x.sum(axis=(0, 1, 2))
        total_sq += np.square(x).sum(axis=(0, 1, 2))
        count += x.shape[0] * x.shape[1] * x.shape[2]
    mean = total / count
    return mean.astype(np.float32), np.sqrt(np.maximum(total_sq / count - mean**2, 0.0)).astype(np.float32)


def paired_files(night_files, day_files) -> list[tuple[str, str]]:
    """(night, day) paths whose file names match (without extension), in night order."""
    day_by_stem = {Path(p).stem: p for p in day_files}
    return [(n, day_by_stem[Path(n).stem]) for n in night_files if Path(n).stem in day_by_stem]


def paired_scores(generator, pairs, *, model, scale, value_range, day_stats, batch_size=8) -> dict:
    """When testA and testB hold the same scenes: how close each method gets to the true day image.

    -> {method: {"psnr", "ssim"}} on [0, 1] pixels at `scale`, for "night (untranslated)" (the
    floor), "colour transfer" (per-channel mean/std moved to day_stats: the non-learned
    baseline) and "G(night)".
    """
    night = data.ordered_dataset([a for a, _ in pairs], model=model, image_size=scale, batch_size=batch_size)
    day = data.ordered_dataset([b for _, b in pairs], model=model, image_size=scale, batch_size=batch_size)
    scores = {"night (untranslated)": ([], []), "colour transfer": ([], []), "G(night)": ([], [])}
    for x, y in zip(night, day):
        target = np.asarray(from_range(y, value_range), np.float32) / 255.0
        source = np.asarray(from_range(x, value_range), np.float32) / 255.0
        translated = np.asarray(from_range(generator(x, training=False), value_range), np.float32) / 255.0
        for name, guess in (("night (untranslated)", source), ("colour transfer", color_transfer(source, *day_stats)),
                            ("G(night)", translated)):
            scores[name][0].extend(np.atleast_1d(np.asarray(psnr(guess, target, max_val=1.0))).tolist())
            scores[name][1].extend(np.atleast_1d(np.asarray(ssim(guess, target, max_val=1.0))).tolist())
    return {name: {"psnr": float(np.mean(p)), "ssim": float(np.mean(q))} for name, (p, q) in scores.items()}


def paired_results(generator, data_root, night_files, day_files, *, model, scale, batch_size=8,
                   limit=None) -> dict | None:
    """The paired table's numbers when night and day test files share names, else None.

    -> {"pairs": n, "day_statistics_from": folder, method: {"psnr", "ssim"}, ...} (see paired_scores);
    the colour transfer moves to the statistics of trainB (testB if there is none). limit: use at
    most that many pairs.
    """
    pairs = paired_files(night_files, day_files)[:limit]
    if not pairs:
        return None
    vr = data.value_range_of(model)
    day_folder = Path(data_root) / "trainB"
    stats_source = day_folder if day_folder.is_dir() else Path(day_files[0]).parent
    day_stats = channel_stats(data.ordered_dataset(stats_source, model=model, image_size=scale,
                                                   batch_size=batch_size), vr)
    return {"pairs": len(pairs), "day_statistics_from": str(stats_source),
            **paired_scores(generator, pairs, model=model, scale=scale, value_range=vr, day_stats=day_stats,
                            batch_size=batch_size)}


def format_paired(paired: dict) -> str:
    """The paired table: one row per method, PSNR and SSIM against the true day images."""
    table = [(name, paired[name]["psnr"], paired[name]["ssim"]) for name in
             ("night (untranslated)", "colour transfer", "G(night)")]
    return "\n".join([f"paired test images ({paired['pairs']}): how close to the true day image",
                      report.format_table(table, header=("method", "PSNR dB", "SSIM"))])


def readable_test_files(folder, limit=None):
    """The first ``limit`` (all if None) readable images of a test folder, in order, and the
    skipped ones before them as [{"path", "reason"}]. Each file is checked and decoded here,
    so the dataset gets only files that decode and every left-out file can be named.
    DataError (one line) if none can be read."""
    paths = list_images(folder)
    readable, skipped = scan_images(paths, decode=True, stop_after=limit, report=False)
    if not readable:
        first = skipped[0]
        raise DataError(f"none of the {len(paths)} images in {folder} can be read "
                        f"(first: {first['path']}: {first['reason']})")
    return readable, skipped


def evaluate(checkpoint, data_root, *, extractor=None, metrics=("fid", "kid"), max_images=None,
             batch_size=8, kid_subset_size=1000) -> dict:
    """-> dict of results. extractor: a common.metrics.features extractor (default Inception-v3).

    results["skipped_files"]: [{"path", "reason"}] for every test image left out because it
    cannot be read (empty, not an image, truncated, corrupt), from either domain.
    """
    found = load(checkpoint)
    if found.model is None:
        raise DataError(f"{checkpoint} is an exported generator; evaluation needs both generators: give the run "
                        "folder or a checkpoint")
    model, config = found.model, found.config
    folders = data.domain_folders(data_root, splits=("testA", "testB"))
    vr = data.value_range_of(config["model"])
    files = {split: readable_test_files(folders[split], max_images) for split in ("testA", "testB")}
    skipped = files["testA"][1] + files["testB"][1]

    scale = training_scale(config)  # the scale the generators learned at (see --load-size)

    def test_set(split):
        return data.ordered_dataset(files[split][0], model=config["model"], image_size=scale,
                                    batch_size=batch_size)

    G, F = model.generator_g, model.generator_f
    if scale != config["image_size"]:  # fully convolutional ResNet generators, run on whole images
        G, F = copy_with_input_size(G), copy_with_input_size(F)
    results = {"checkpoint": str(checkpoint), "model": config["model"], "image_size": config["image_size"],
               "eval_size": scale}
    with tempfile.TemporaryDirectory(prefix="night2day-eval-") as fake_dir:
        forward = cycle_scores(G, F, test_set("testA"), vr, save_dir=fake_dir, limit=max_images)
        backward = cycle_scores(F, G, test_set("testB"), vr, limit=max_images)
        results["cycle_night_psnr"], results["cycle_night_ssim"] = forward["psnr"], forward["ssim"]
        results["cycle_day_psnr"], results["cycle_day_ssim"] = backward["psnr"], backward["ssim"]
        results["n_test_night"], results["n_test_day"] = forward["images"], backward["images"]
        if metrics:
            dist = evaluate_folders(folders["testB"], fake_dir, metrics=list(metrics), extractor=extractor,
                                    max_images=max_images, kid_subset_size=kid_subset_size)
            seen = {item["path"] for item in skipped}  # FID's seeded subset of testB may hold others
            skipped += [item for item in dist.pop("skipped_files", []) if item["path"] not in seen]
            results.update({f"day_vs_translated_{k}": v for k, v in dist.items()})
    paired = paired_results(G, data_root, files["testA"][0], files["testB"][0], model=config["model"],
                            scale=scale, batch_size=batch_size)
    if paired:
        results["paired"] = paired
    results["skipped_files"] = skipped
    return results


def format_results(results: dict) -> str:
    """The results as aligned "name  value" rows, the paired table (if any), then the skipped test images."""
    rows = [(k, v) for k, v in results.items() if not isinstance(v, (dict, list))]
    parts = [report.format_table(rows)]
    if results.get("paired"):
        parts += ["", format_paired(results["paired"])]
    return "\n".join(parts + report.format_skipped(results.get("skipped_files"), "test image"))
