"""Image-quality and generative metrics.

Full-reference image quality (PSNR, SSIM, MAE, RMSE; whole image or hole only, one-shot
and streaming) lives in common.metrics.image_quality and is re-exported here. The
generative metrics are separate modules: common.metrics.fid, .kid, .inception_score,
.precision_recall, .perceptual, over the shared feature extractor in .features.
"""

from common.metrics.image_quality import (
    MAEMetric,
    PSNRMetric,
    RMSEMetric,
    SSIMMetric,
    mae,
    psnr,
    rmse,
    ssim,
    ssim_map,
)

__all__ = [
    "psnr", "ssim", "ssim_map", "mae", "rmse",
    "PSNRMetric", "SSIMMetric", "MAEMetric", "RMSEMetric",
]
