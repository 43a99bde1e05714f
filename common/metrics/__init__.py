"""Image-quality and generative metrics.

Full-reference image quality (PSNR, SSIM, MAE, RMSE; whole image or hole only, one-shot
and streaming) lives in common.metrics.image_quality and is re-exported here. The
generative metrics are separate modules: common.metrics.fid, .kid, .inception_score,
.precision_recall, .perceptual, over the shared feature extractor in .features.

The re-exports are imported on first use, so `python -m common.metrics.evaluate --help`
does not load TensorFlow.
"""

__all__ = [
    "psnr", "ssim", "ssim_map", "mae", "rmse",
    "PSNRMetric", "SSIMMetric", "MAEMetric", "RMSEMetric",
]


def __getattr__(name):
    if name in __all__:
        from common.metrics import image_quality

        return getattr(image_quality, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
