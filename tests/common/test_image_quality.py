"""PSNR / SSIM / MAE / RMSE against scikit-image, TensorFlow and numpy on the hole."""
import numpy as np
import pytest
import skimage.data
import tensorflow as tf
from scipy.ndimage import gaussian_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from common.metrics import MAEMetric, PSNRMetric, RMSEMetric, SSIMMetric, mae, psnr, rmse, ssim, ssim_map


def sk_ssim(a, b, max_val=1.0, full=False):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=max_val, channel_axis=-1, full=full)


def sk_psnr(a, b, max_val=1.0):
    return peak_signal_noise_ratio(a, b, data_range=max_val)


def degraded(a, seed, noise=0.05, blur=1.0):
    rng = np.random.default_rng(seed)
    return np.clip(gaussian_filter(a, (blur, blur, 0)) + rng.normal(0, noise, a.shape), 0, 1)


@pytest.fixture(scope="module")
def photos():
    """astronaut, chelsea, coffee in [0, 1] with a blurred + noisy copy."""
    pairs = []
    for i, name in enumerate(["astronaut", "chelsea", "coffee"]):
        a = getattr(skimage.data, name)().astype(np.float64) / 255.0
        pairs.append((name, a, degraded(a, i)))
    return pairs


def random_batch(shape=(3, 24, 32, 3), seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random(shape)
    b = np.clip(a + rng.normal(0, 0.2, shape), 0, 1)
    b[0] = rng.random(shape[1:])  # one unrelated pair (SSIM near 0)
    return a, b


def test_psnr_and_ssim_match_skimage_per_image_on_random_images():
    a, b = random_batch()
    got_psnr, got_ssim = np.asarray(psnr(a, b)), np.asarray(ssim(a, b))
    assert got_psnr.shape == got_ssim.shape == (3,)
    for i in range(3):
        assert got_psnr[i] == pytest.approx(sk_psnr(a[i], b[i]), abs=1e-4)
        assert got_ssim[i] == pytest.approx(sk_ssim(a[i], b[i]), abs=1e-4)
    assert abs(got_ssim[0]) < 0.1 < got_ssim[1]


def test_psnr_and_ssim_match_skimage_on_real_photos(photos):
    for name, a, b in photos:
        assert float(psnr(a, b)) == pytest.approx(sk_psnr(a, b), abs=1e-4), name
        assert float(ssim(a, b)) == pytest.approx(sk_ssim(a, b), abs=1e-4), name
        assert float(mae(a, b)) == pytest.approx(np.abs(a - b).mean(), abs=1e-6), name
        assert float(rmse(a, b)) == pytest.approx(np.sqrt(((a - b) ** 2).mean()), abs=1e-6), name


def test_ssim_stays_within_1e_4_of_skimage_on_a_high_ssim_photo_where_float32_sums_drift(photos):
    # astronaut + N(0, 0.01): tf.image.ssim's float32 mean is off by ~2.5e-4 here (docstring)
    a = photos[0][1]
    b = np.clip(a + np.random.default_rng(5).normal(0, 0.01, a.shape), 0, 1)
    assert float(ssim(a, b)) == pytest.approx(sk_ssim(a, b), abs=1e-6)


def test_ssim_map_is_skimages_full_map_cropped_by_the_window_radius():
    a, b = random_batch((1, 30, 26, 3), seed=3)
    _, full = sk_ssim(a[0], b[0], full=True)
    got = np.asarray(ssim_map(a[0], b[0]))
    assert got.shape == (20, 16, 3)
    np.testing.assert_allclose(got, full[5:-5, 5:-5], atol=1e-6)


def test_ssim_equals_tensorflows_ssim_where_its_float32_sum_is_accurate():
    a, b = random_batch((4, 40, 36, 3), seed=4)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    np.testing.assert_allclose(np.asarray(ssim(a, b)), tf.image.ssim(a32, b32, 1.0).numpy(), atol=1e-5)
    tf_map = tf.image.ssim(a32, b32, 1.0, return_index_map=True).numpy()  # channel mean, [B, h, w]
    np.testing.assert_allclose(np.asarray(ssim_map(a, b)).mean(-1), tf_map, atol=1e-5)
    np.testing.assert_allclose(np.asarray(psnr(a, b)), tf.image.psnr(a32, b32, 1.0).numpy(), atol=1e-5)


def test_max_val_255_inputs_float_and_uint8(photos):
    _, a, b = photos[1]
    a255, b255 = a * 255.0, b * 255.0
    assert float(psnr(a255, b255, max_val=255)) == pytest.approx(sk_psnr(a255, b255, 255), abs=1e-4)
    assert float(ssim(a255, b255, max_val=255)) == pytest.approx(sk_ssim(a255, b255, 255), abs=1e-4)
    # same value as on [0, 1] with max_val=1
    assert float(ssim(a255, b255, max_val=255)) == pytest.approx(float(ssim(a, b)), abs=1e-6)
    a8, b8 = np.round(a255).astype(np.uint8), np.round(b255).astype(np.uint8)
    assert float(psnr(a8, b8, max_val=255)) == pytest.approx(sk_psnr(a8, b8, 255), abs=1e-4)
    assert float(ssim(a8, b8, max_val=255)) == pytest.approx(sk_ssim(a8.astype(float), b8.astype(float), 255),
                                                             abs=1e-4)
    assert float(mae(a8, b8)) == pytest.approx(np.abs(a8.astype(float) - b8).mean(), abs=1e-4)


def hole_masks(batch, height, width):
    masks = np.zeros((batch, height, width, 1), np.float32)
    masks[0, 8:20, 10:22] = 1  # centre block
    masks[1, 0:9, 0:12] = 1  # block in the corner, partly within 5 px of the border
    masks[2, 12:30, 4:30] = 1
    return masks


def test_masked_mae_rmse_psnr_match_numpy_on_the_hole_pixels():
    a, b = random_batch((3, 30, 32, 3), seed=6)
    masks = hole_masks(3, 30, 32)
    got = {name: np.asarray(fn(a, b, mask=masks)) for name, fn in [("mae", mae), ("rmse", rmse), ("psnr", psnr)]}
    for i in range(3):
        hole = masks[i, :, :, 0] > 0
        diff = a[i][hole] - b[i][hole]  # [pixels, 3]
        assert got["mae"][i] == pytest.approx(np.abs(diff).mean(), abs=1e-6)
        assert got["rmse"][i] == pytest.approx(np.sqrt((diff**2).mean()), abs=1e-6)
        assert got["psnr"][i] == pytest.approx(sk_psnr(a[i][hole], b[i][hole]), abs=1e-4)
        assert got["psnr"][i] == pytest.approx(10 * np.log10(1.0 / (diff**2).mean()), abs=1e-4)


def test_masked_ssim_is_the_mean_of_the_ssim_map_over_the_hole(photos):
    a, b = random_batch((3, 30, 32, 3), seed=7)
    masks = hole_masks(3, 30, 32)
    got = np.asarray(ssim(a, b, mask=masks))
    for i in range(3):
        _, full = sk_ssim(a[i], b[i], full=True)
        inner = full[5:-5, 5:-5]  # where the window fits
        hole = masks[i, 5:-5, 5:-5, 0] > 0
        assert got[i] == pytest.approx(inner[hole].mean(), abs=1e-6)
    # on a real photo, a hole in the middle
    _, a, b = photos[2]
    mask = np.zeros(a.shape[:2] + (1,))
    mask[100:228, 200:328] = 1
    _, full = sk_ssim(a, b, full=True)
    assert float(ssim(a, b, mask=mask)) == pytest.approx(full[100:228, 200:328].mean(), abs=1e-6)


def test_an_all_ones_mask_gives_the_unmasked_values_and_an_empty_one_gives_nan():
    a, b = random_batch((2, 20, 20, 3), seed=8)
    ones, empty = np.ones((2, 20, 20, 1)), np.zeros((2, 20, 20, 1))
    for fn in (mae, rmse, psnr, ssim):
        np.testing.assert_allclose(np.asarray(fn(a, b, mask=ones)), np.asarray(fn(a, b)), atol=1e-5)
        assert np.all(np.isnan(np.asarray(fn(a, b, mask=empty))))
    # reduce="mean" leaves images without a hole out
    partial = np.concatenate([empty[:1], ones[:1]])
    assert float(mae(a, b, mask=partial, reduce="mean")) == pytest.approx(np.abs(a[1] - b[1]).mean(), abs=1e-6)


def test_single_images_give_scalars_and_reduce_mean_gives_the_batch_mean():
    a, b = random_batch(seed=9)
    assert np.asarray(psnr(a[0], b[0])).shape == ()
    assert np.asarray(ssim(a[0], b[0], mask=np.ones((24, 32, 1)))).shape == ()
    for fn in (mae, rmse, psnr, ssim):
        assert float(fn(a, b, reduce="mean")) == pytest.approx(np.asarray(fn(a, b)).mean(), abs=1e-5)
    assert float(psnr(a, a)[0]) == np.inf
    assert float(ssim(a, a)[0]) == pytest.approx(1.0)


def test_bad_inputs_are_rejected_with_a_clear_error():
    a = np.zeros((2, 10, 16, 3))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(a, a)
    with pytest.raises(ValueError, match="shape"):
        mae(a, a[:1])
    with pytest.raises(ValueError, match="reduce"):
        mae(a, a, reduce="sum")
    with pytest.raises(ValueError, match="mask rank"):
        mae(a, a, mask=np.ones((10, 16, 1)))


@pytest.mark.parametrize("metric_cls, fn", [(PSNRMetric, psnr), (SSIMMetric, ssim), (MAEMetric, mae),
                                            (RMSEMetric, rmse)])
def test_streaming_metric_equals_the_one_shot_mean_over_all_images(metric_cls, fn):
    a, b = random_batch((5, 24, 24, 3), seed=10)
    masks = np.ones((5, 24, 24, 1), np.float32)
    masks[1] = 0  # no hole: skipped
    masks[3, :12] = 0
    kwargs = {"max_val": 1.0} if fn in (psnr, ssim) else {}
    metric = metric_cls(**kwargs)
    metric.update_state(a[:2], b[:2])
    metric.update_state(a[2:], b[2:])
    assert float(metric.result()) == pytest.approx(np.asarray(fn(a, b, **kwargs)).mean(), abs=1e-5)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    metric.update_state(a[0], b[0], mask=masks[0])  # a single image
    metric.update_state(a[1:4], b[1:4], mask=masks[1:4])
    metric.update_state(a[4:], b[4:], mask=masks[4:])
    per_image = np.asarray(fn(a, b, mask=masks, **kwargs))
    assert float(metric.result()) == pytest.approx(np.nanmean(per_image), abs=1e-5)
    assert float(metric.result()) == pytest.approx(float(fn(a, b, mask=masks, reduce="mean", **kwargs)), abs=1e-5)


def test_streaming_metric_works_in_a_tf_function_and_round_trips_its_config():
    a, b = random_batch((4, 16, 16, 3), seed=11)
    metric = SSIMMetric(max_val=1.0, name="val_ssim")
    update = tf.function(metric.update_state,
                         input_signature=[tf.TensorSpec([None, 16, 16, 3]), tf.TensorSpec([None, 16, 16, 3])])
    update(a[:3], b[:3])
    update(a[3:], b[3:])
    assert float(metric.result()) == pytest.approx(np.asarray(ssim(a, b)).mean(), abs=1e-5)
    clone = SSIMMetric.from_config(metric.get_config())
    assert clone.name == "val_ssim" and clone.max_val == 1.0
    weighted = PSNRMetric()
    weighted.update_state(a, b, sample_weight=[1.0, 0.0, 0.0, 3.0])
    values = np.asarray(psnr(a, b))
    assert float(weighted.result()) == pytest.approx((values[0] + 3 * values[3]) / 4, abs=1e-4)
