"""Scoring completed images against their originals (what `python -m inpainting.evaluate` reports).

Images are uint8 [B, H, W, 3]; masks float32 [B, H, W, 1], 1 = hole. Every method (the model,
OpenCV's Telea and Navier-Stokes) is scored on the same images and holes:
  * PSNR, SSIM, MAE, RMSE on [0, 1] pixels, each on the completed full image ("full": most of
    its pixels are known and equal the original, as in the source's reported 26.14 dB / 0.956)
    and on the hole pixels only ("hole": what the method actually made up). The hole SSIM is the
    mean of the SSIM map over the hole pixels at least 5 px from the image border (where the
    11x11 window fits); a hole entirely within 5 px of the border has no hole SSIM and is left
    out of the mean. A per-image PSNR is capped at PSNR_CAP dB (an identical image is inf).
  * the perceptual (LPIPS-like) distance of completed vs original, with a VGG16 extractor;
  * FID and KID of completed vs original images, with an Inception extractor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.metrics import image_quality

PSNR_CAP = 100.0
CLASSICAL = ("telea", "ns")
QUALITY = ("psnr", "ssim", "mae", "rmse")
COLUMNS = [(f"{m}_{where}", f"{m.upper()} {where}") for m in QUALITY for where in ("full", "hole")]


def classical_fill(images, masks, method, radius=3) -> np.ndarray:
    """OpenCV's inpainting (method "telea" or "ns") of each image's hole -> uint8 [B, H, W, 3]; every
    pixel outside the hole is returned unchanged."""
    import cv2

    flag = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}[method]
    images = np.asarray(images, np.uint8)
    holes = np.asarray(masks)[..., 0] > 0.5
    out = images.copy()
    for i, (image, hole) in enumerate(zip(images, holes)):
        filled = cv2.inpaint(np.ascontiguousarray(image), hole.astype(np.uint8) * 255, radius, flag)
        out[i][hole] = filled[hole]
    return out


def image_scores(original, completed, masks) -> dict[str, np.ndarray]:
    """Per-image {psnr,ssim,mae,rmse}_{full,hole} on [0, 1] pixels -> float64 [B] each."""
    a = np.asarray(original, np.float32) / 255.0
    b = np.asarray(completed, np.float32) / 255.0
    m = np.asarray(masks, np.float32)
    out = {}
    for where, mask in (("full", None), ("hole", m)):
        for name in QUALITY:
            fn = getattr(image_quality, name)
            kwargs = {"max_val": 1.0} if name in ("psnr", "ssim") else {}
            out[f"{name}_{where}"] = np.asarray(fn(a, b, mask=mask, **kwargs), np.float64)
        out[f"psnr_{where}"] = np.minimum(out[f"psnr_{where}"], PSNR_CAP)
    return out


class ScoreAccumulator:
    """Collects per-image scores (and features) batch by batch; `result()` -> {method: {metric: mean}}."""

    def __init__(self, *, perceptual_extractor=None, feature_extractor=None, metrics=("fid", "kid")):
        self.perceptual_extractor = perceptual_extractor
        self.feature_extractor = feature_extractor if metrics else None
        self.metrics = tuple(metrics)
        self.values: dict[str, dict[str, list]] = {}
        self.features: dict[str, list] = {}
        self.count = 0

    def _features(self, name, images):
        out = self.feature_extractor(images, None)
        self.features.setdefault(name, []).append({k: np.asarray(v) for k, v in out.items()})

    def add(self, original, completed_by_method, masks):
        original = np.asarray(original, np.uint8)
        if self.feature_extractor is not None:
            self._features("original", original)
        for method, completed in completed_by_method.items():
            scores = image_scores(original, completed, masks)
            if self.perceptual_extractor is not None:
                from common.metrics.perceptual import vgg_perceptual_distance

                scores["perceptual"] = vgg_perceptual_distance(original, completed,
                                                               extractor=self.perceptual_extractor)
            for key, values in scores.items():
                self.values.setdefault(method, {}).setdefault(key, []).extend(np.atleast_1d(values).tolist())
            if self.feature_extractor is not None:
                self._features(method, np.asarray(completed, np.uint8))
        self.count += len(original)

    def result(self) -> dict:
        from common.metrics.evaluate import evaluate_features

        out = {}
        for method, scores in self.values.items():
            out[method] = {k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
                           for k, v in scores.items()}
            if self.feature_extractor is not None:
                real, fake = (_concat(self.features[n]) for n in ("original", method))
                out[method].update(evaluate_features(real, fake, self.metrics,
                                                     kid_subset_size=min(1000, self.count)))
        return out


def _concat(parts) -> dict:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


METHOD_LABELS = {"model": "model", "telea": "Telea (cv2)", "ns": "Navier-Stokes (cv2)"}


def format_results(results, images, mask_kind) -> str:
    """The console table: one row per method, full-image and hole-only columns, then the rest."""
    from common.report import format_table

    extra = [k for k in ("perceptual", "fid", "kid") if any(k in r for r in results.values())]
    header = ["method", *(label for _, label in COLUMNS), *extra]
    rows = []
    for method, r in results.items():
        row = [METHOD_LABELS.get(method, method)]
        row += [f"{r[k]:.2f}" if k.startswith("psnr") else f"{r[k]:.4f}" for k, _ in COLUMNS]
        row += [f"{r[k]:.4f}" if k in r else "-" for k in extra]
        rows.append(row)
    return "\n".join([f"{images} test images, {mask_kind} holes (the same holes for every method)",
                      format_table(rows, header),
                      "full = the completed whole image (known pixels included, as the source reports); "
                      "hole = the missing pixels only; PSNR in dB, MAE/RMSE on [0, 1] pixels"])


def comparison_sheet(masked_inputs, completed_by_method, originals, limit=8) -> np.ndarray:
    """uint8 sheet, one row per image: input | each method's completion (in the dict's order) | original,
    under a band naming the columns; small images enlarged (nearest) to at least 128 px."""
    from common.runtime.images import enlarged, labelled_grid

    n = min(limit, len(originals))
    labels = ("input", *(METHOD_LABELS.get(m, m) for m in completed_by_method), "original")
    rows = [[enlarged(x) for x in (masked_inputs[i], *(c[i] for c in completed_by_method.values()), originals[i])]
            for i in range(n)]
    return labelled_grid([(labels, rows)])


def test_images(data_root, max_images=None) -> list[str]:
    """The readable images of the test split (val/, or the folder itself when it has neither)."""
    from common.data import list_images, scan_images
    from inpainting.data import splits

    root = Path(data_root)
    folder = splits(root)["test"] or root
    good, _ = scan_images(list_images(folder))
    return good[:max_images] if max_images else good


def evaluate(inpainter, paths, *, mask=None, seed=0, batch_size=16, feature_extractor=None,
             perceptual_extractor=None, metrics=("fid", "kid"), sheet_rows=8):
    """Score an Inpainter and cv2's Telea and NS on the same seeded holes in these images.

    -> (results {"images", "mask", "methods": {method: {metric: value}}}, uint8 comparison sheet).
    """
    import tensorflow as tf

    from common.runtime.images import to_uint8
    from inpainting import data
    from inpainting.holes import paste_prediction
    from inpainting.inpainting_gan import generator_input, masked_input
    from inpainting.masks import make_masks

    holes = inpainter.card.holes
    size = inpainter.size
    kind = mask or holes["mask"]
    options = holes["mask_options"] if kind == holes["mask"] else {}  # another kind: its defaults
    scores = ScoreAccumulator(perceptual_extractor=perceptual_extractor, feature_extractor=feature_extractor,
                              metrics=metrics)
    shown = None
    for step, batch in enumerate(data.ordered_images(paths, image_size=size, batch_size=batch_size)):
        masks = make_masks(kind, seed=seed, step=step, batch_size=int(batch.shape[0]), image_size=size, **options)
        content = inpainter.generator(generator_input(batch, masks, inpainter.fill_value, inpainter.context),
                                      training=False)
        completed = to_uint8(paste_prediction(batch, tf.cast(content, tf.float32), masks, inpainter.overlap))
        originals = to_uint8(batch)
        masks_np = np.asarray(masks)
        by_method = {"model": completed, **{name: classical_fill(originals, masks_np, name) for name in CLASSICAL}}
        scores.add(originals, by_method, masks_np)
        if shown is None:
            shown = (to_uint8(masked_input(batch, masks, 0.0)), by_method, originals)
    if shown is None:
        from common.data import DataError

        raise DataError("no test image could be read")
    results = {"images": scores.count, "mask": kind, "image_size": size, "seed": seed, "methods": scores.result()}
    masked, by_method, originals = shown
    order = {name: by_method[name] for name in (*CLASSICAL, "model")}
    return results, comparison_sheet(masked, order, originals, limit=sheet_rows)
