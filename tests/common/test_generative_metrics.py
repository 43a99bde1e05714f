"""FID, KID, Inception Score, precision/recall and the perceptual distance against
closed-form or hand-computed values, on small synthetic features."""

import warnings

import numpy as np
import pytest

from common.metrics import fid, inception_score, kid, perceptual, precision_recall
from common.metrics.features import FeatureExtractor


def gaussian_sample(rng, mean, cov, n):
    """n points whose *sample* mean and (unbiased) covariance equal mean and cov exactly."""
    d = len(mean)
    z = rng.normal(size=(n, d))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # sample cov = I
    return np.asarray(mean) + z @ np.linalg.cholesky(cov).T


# ----------------------------------------------------------------------------- FID


def test_frechet_distance_matches_closed_form_for_diagonal_covariances():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)  # 5 + 1 + 1 + 6.25
    assert expected == pytest.approx(13.25)
    assert fid.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_matches_closed_form_for_non_commuting_2x2_covariances():
    # For 2x2 M with non-negative eigenvalues, Tr sqrt(M) = sqrt(Tr M + 2 sqrt(det M)).
    s1 = np.array([[2.0, 0.8], [0.8, 1.0]])
    s2 = np.array([[1.0, -0.3], [-0.3, 3.0]])
    mu1, mu2 = np.array([0.5, -1.0]), np.array([-0.5, 2.0])
    tr_sqrt = np.sqrt(np.trace(s1 @ s2) + 2 * np.sqrt(np.linalg.det(s1) * np.linalg.det(s2)))
    expected = 1.0 + 9.0 + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert fid.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_fid_of_gaussian_features_matches_closed_form_to_1e_3():
    rng = np.random.default_rng(0)
    d = 6
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    cov_a = q @ np.diag([0.5, 1.0, 1.5, 2.0, 3.0, 4.0]) @ q.T
    q2, _ = np.linalg.qr(rng.normal(size=(d, d)))
    cov_b = q2 @ np.diag([1.0, 1.0, 2.0, 0.2, 5.0, 1.0]) @ q2.T
    mu_a, mu_b = rng.normal(size=d), rng.normal(size=d)
    real = gaussian_sample(rng, mu_a, cov_a, 3000)
    fake = gaussian_sample(rng, mu_b, cov_b, 2500)
    # closed form via eigen-decomposition: (A B)^(1/2) has the same trace as (A^(1/2) B A^(1/2))^(1/2)
    w, v = np.linalg.eigh(cov_a)
    root_a = v @ np.diag(np.sqrt(w)) @ v.T
    inner = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    expected = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sum(np.sqrt(inner))
    result = fid.fid_from_features(real, fake)
    assert result.fid == pytest.approx(expected, rel=1e-3)
    assert (result.n_real, result.n_fake) == (3000, 2500)
    assert result.as_dict() == {"fid": result.fid, "n_real": 3000, "n_fake": 2500}


def test_fid_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(1).normal(size=(2100, 8)) * 3 + 10
    assert abs(fid.fid_from_features(x, x).fid) < 1e-8


def test_fid_increases_with_the_mean_shift():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(2500, 4)), rng.normal(size=(2500, 4))
    values = [fid.fid_from_features(x, y + s).fid for s in (0.0, 0.5, 1.0)]
    assert values[0] < 0.05 < values[1] < values[2]


def test_fid_warns_below_2048_samples_and_reports_the_counts():
    x = np.random.default_rng(3).normal(size=(100, 4))
    with pytest.warns(UserWarning, match=r"n_real=100, n_fake=50"):
        result = fid.fid_from_features(x, x[:50])
    assert (result.n_real, result.n_fake) == (100, 50)


def test_fid_with_singular_covariances_is_finite_and_zero_for_identical_sets():
    # 5 samples in 10 dimensions: rank-4 covariance, singular product; the offset handles it
    x = np.random.default_rng(4).normal(size=(5, 10))
    y = np.random.default_rng(5).normal(size=(5, 10))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="FID from")
        same = fid.fid_from_features(x, x).fid
        other = fid.fid_from_features(x, y).fid
    assert abs(same) < 1e-4
    assert np.isfinite(other) and other > 1.0


def test_streaming_gaussian_stats_equal_one_shot_statistics():
    x = np.random.default_rng(6).normal(size=(1000, 5)) * 0.01 + 1000.0  # large mean, small spread
    stats = fid.GaussianStats()
    for batch in np.array_split(x, 13):
        stats.update(batch)
    assert stats.count == 1000
    np.testing.assert_allclose(stats.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.cov, np.cov(x, rowvar=False), rtol=1e-8, atol=1e-14)


def test_streaming_fid_equals_one_shot_fid():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(2048, 3)), rng.normal(size=(2048, 3)) * 1.5 + 0.3
    sx, sy = fid.GaussianStats(), fid.GaussianStats()
    for bx, by in zip(np.array_split(x, 10), np.array_split(y, 7)):
        sx.update(bx)
        sy.update(by)
    for bx in np.array_split(x, 10)[len(np.array_split(y, 7)):]:
        sx.update(bx)
    streamed = fid.fid_from_stats(sx, sy)
    assert streamed.fid == pytest.approx(fid.fid_from_features(x, y).fid, rel=1e-10)
    assert (streamed.n_real, streamed.n_fake) == (2048, 2048)


# ----------------------------------------------------------------------------- KID


def test_unbiased_mmd_matches_power_sum_formula_in_one_dimension():
    # d = 1: k(x, y) = (xy + 1)^3 = (xy)^3 + 3(xy)^2 + 3xy + 1, and
    # sum_{i != j} (x_i x_j)^p = (sum x^p)^2 - sum x^(2p)
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=7), rng.normal(size=5) + 0.7

    def within(v):
        n = len(v)
        s = sum(c * ((v**p).sum() ** 2 - (v ** (2 * p)).sum()) for p, c in ((3, 1), (2, 3), (1, 3)))
        return (s + n * (n - 1)) / (n * (n - 1))

    cross = sum(c * (x**p).sum() * (y**p).sum() for p, c in ((3, 1), (2, 3), (1, 3))) / (7 * 5) + 1
    expected = within(x) + within(y) - 2 * cross
    assert kid.mmd2_unbiased(x[:, None], y[:, None]) == pytest.approx(expected, rel=1e-10)


def test_kid_is_near_zero_for_identical_distributions_and_positive_for_shifted_ones():
    rng = np.random.default_rng(9)
    real = rng.normal(size=(2000, 16))
    same = kid.kid_from_features(real, rng.normal(size=(2000, 16)), num_subsets=20)
    shifted = kid.kid_from_features(real, rng.normal(size=(2000, 16)) + 0.5, num_subsets=20)
    assert abs(same["kid"]) < 3 * same["kid_std"] / np.sqrt(20) + 1e-3
    assert shifted["kid"] > 50 * abs(same["kid"])
    assert shifted["kid"] > 10 * shifted["kid_std"]


def test_kid_population_value_for_a_shifted_one_dimensional_gaussian():
    # For P = N(0,1), Q = N(a,1), d = 1: MMD^2 = (m3p-m3q)^2 + 3(m2p-m2q)^2 + 3(m1p-m1q)^2
    a = 0.5
    expected = (a**3 + 3 * a) ** 2 + 3 * (a**2) ** 2 + 3 * a**2  # = 3.578125
    rng = np.random.default_rng(10)
    result = kid.kid_from_features(rng.normal(size=(20000, 1)), rng.normal(size=(20000, 1)) + a)
    assert result["kid"] == pytest.approx(expected, rel=0.15)


def test_kid_subset_size_shrinks_to_the_smaller_set_and_counts_are_reported():
    rng = np.random.default_rng(11)
    result = kid.kid_from_features(rng.normal(size=(300, 4)), rng.normal(size=(120, 4)), num_subsets=5)
    assert result["kid_subset_size"] == 120
    assert result["kid_num_subsets"] == 5
    assert (result["n_real"], result["n_fake"]) == (300, 120)


# ----------------------------------------------------------------------------- Inception Score


def test_inception_score_of_a_uniform_classifier_is_one():
    result = inception_score.inception_score(np.zeros((100, 7)))
    assert result["is"] == pytest.approx(1.0, abs=1e-12)
    assert result["is_std"] == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_a_confident_classifier_using_all_classes_equals_the_class_count():
    k = 5
    labels = np.arange(200) % k  # every split of 20 images holds every class 4 times
    probs = np.eye(k)[labels]
    assert inception_score.inception_score(probs, from_logits=False)["is"] == pytest.approx(k, rel=1e-12)
    logits = 60.0 * np.eye(k)[labels]  # softmax saturates to one-hot
    assert inception_score.inception_score(logits)["is"] == pytest.approx(k, rel=1e-9)


def test_inception_score_hand_computed_two_image_case():
    # p1 = (1/2, 1/2), p2 = (1, 0): p(y) = (3/4, 1/4); KL1 = ln(4/3)/2, KL2 = ln(4/3)
    probs = np.array([[0.5, 0.5], [1.0, 0.0]])
    result = inception_score.inception_score(probs, splits=1, from_logits=False)
    assert result["is"] == pytest.approx((4 / 3) ** 0.75, rel=1e-12)
    assert result["n_fake"] == 2


def test_inception_score_of_a_collapsed_generator_is_one_even_when_confident():
    probs = np.eye(10)[np.zeros(100, int)]
    assert inception_score.inception_score(probs, from_logits=False)["is"] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- precision / recall


def test_knn_radii_on_a_line():
    x = np.arange(10.0)[:, None]
    np.testing.assert_allclose(precision_recall.knn_radii(x, k=3), [3, 2, 2, 2, 2, 2, 2, 2, 2, 3])
    np.testing.assert_allclose(precision_recall.knn_radii(x, k=1), np.ones(10))


def test_precision_recall_on_hand_computed_points():
    real = np.arange(5.0)[:, None]  # k=1 radii all 1
    fake = np.array([[0.5], [10.0], [4.9], [-1.5]])  # inside, outside, inside, outside
    result = precision_recall.precision_recall(real, fake, k=1)
    assert result["precision"] == 0.5
    assert result["recall"] == 1.0  # fake radii (2, 5.1, 4.4, 2) cover every real point
    assert (result["n_real"], result["n_fake"], result["pr_k"]) == (5, 4, 1)


def test_precision_with_k3_counts_ball_boundaries_as_inside():
    real = np.arange(10.0)[:, None]  # k=3 radii 3, 2, ..., 2, 3
    fake = np.array([[-2.5], [-3.5], [4.5], [12.0], [12.5], [20.0]])  # -2.5 and 12 (=9+3) inside
    assert precision_recall.precision_recall(real, fake, k=3)["precision"] == pytest.approx(2 / 6 + 1 / 6)


def test_mode_collapse_keeps_precision_high_and_halves_recall():
    rng = np.random.default_rng(12)
    mode_b_offset = 100.0
    real = np.concatenate([rng.normal(size=(200, 4)), rng.normal(size=(200, 4)) + mode_b_offset])
    collapsed = rng.normal(size=(400, 4))  # only mode A
    both = np.concatenate([rng.normal(size=(200, 4)), rng.normal(size=(200, 4)) + mode_b_offset])
    result = precision_recall.precision_recall(real, collapsed)
    healthy = precision_recall.precision_recall(real, both)
    assert result["precision"] > 0.9 and healthy["precision"] > 0.9
    assert healthy["recall"] > 0.9
    assert 0.45 < result["recall"] <= 0.5  # no real point of mode B is covered


def test_blocked_distances_give_the_same_answer_and_respect_the_memory_bound(monkeypatch):
    rng = np.random.default_rng(13)
    real, fake = rng.normal(size=(301, 8)), rng.normal(size=(257, 8)) + 0.3
    whole = precision_recall.precision_recall(real, fake, max_block_elements=10**9)
    largest = []
    original = precision_recall._distance_blocks

    def spy(a, b, max_block_elements):
        for rows, d2 in original(a, b, max_block_elements):
            largest.append(d2.size)
            yield rows, d2

    monkeypatch.setattr(precision_recall, "_distance_blocks", spy)
    blocked = precision_recall.precision_recall(real, fake, max_block_elements=1000)
    assert blocked == whole
    assert max(largest) <= 1000
    assert 0.0 < whole["precision"] < 1.0 and 0.0 < whole["recall"] < 1.0


# ----------------------------------------------------------------------------- perceptual distance


def pixel_extractor():
    """'Features' = the pixels themselves and a 2x2 average pool: hand-computable."""
    import tensorflow as tf

    def forward(pixels):
        return {"pixels": pixels, "pooled": tf.nn.avg_pool2d(pixels, 2, 2, "VALID")}

    return FeatureExtractor(forward, name="pixels", input_size=None, feature_dim=3)


def test_perceptual_distance_hand_computed_for_flat_colours():
    a = np.zeros((2, 4, 4, 3), np.uint8)
    b = np.zeros((2, 4, 4, 3), np.uint8)
    a[0], b[0] = (200, 0, 0), (0, 100, 0)  # orthogonal unit vectors: |e1 - e2|^2 = 2
    a[1], b[1] = (10, 10, 0), (255, 255, 0)  # same direction, different length: 0
    d = perceptual.vgg_perceptual_distance(a, b, extractor=pixel_extractor())
    np.testing.assert_allclose(d, [2.0, 0.0], atol=1e-6)


def test_perceptual_distance_is_zero_on_identical_images_and_symmetric():
    rng = np.random.default_rng(14)
    a = rng.uniform(-1, 1, size=(3, 8, 8, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, size=(3, 8, 8, 3)).astype(np.float32)
    ext = pixel_extractor()
    np.testing.assert_allclose(perceptual.vgg_perceptual_distance(a, a, (-1, 1), ext), 0.0, atol=1e-12)
    dab = perceptual.vgg_perceptual_distance(a, b, (-1, 1), ext)
    np.testing.assert_allclose(dab, perceptual.vgg_perceptual_distance(b, a, (-1, 1), ext), rtol=1e-12)
    assert np.all((dab > 0) & (dab <= 4))


def test_perceptual_distance_is_the_mean_over_layers_of_per_layer_distances():
    # red image vs the same with its first column green
    a = np.zeros((1, 4, 4, 3), np.uint8)
    a[...] = (255, 0, 0)
    b = a.copy()
    b[:, :, 0] = (0, 255, 0)
    d = perceptual.vgg_perceptual_distance(a, b, extractor=pixel_extractor())
    # "pixels": 4 of 16 positions at squared distance 2 -> 0.5
    # "pooled": the 2 left 2x2 cells become (1/2, 1/2, 0) -> direction (1, 1, 0)/sqrt 2, squared
    # distance to (1, 0, 0) is 2 - sqrt 2, on 2 of 4 cells -> (2 - sqrt 2) / 2
    np.testing.assert_allclose(d, [(0.5 + (2 - np.sqrt(2)) / 2) / 2], rtol=1e-6)


def test_the_differentiable_feature_distance_equals_the_numpy_one():
    rng = np.random.default_rng(3)
    a = {"l1": rng.standard_normal((2, 4, 4, 8)), "l2": np.maximum(rng.standard_normal((2, 2, 2, 5)), 0)}
    b = {"l1": rng.standard_normal((2, 4, 4, 8)), "l2": np.maximum(rng.standard_normal((2, 2, 2, 5)), 0)}
    np.testing.assert_allclose(np.asarray(perceptual.feature_distance_tensor(a, b)),
                               perceptual.normalized_feature_distance(a, b), rtol=1e-5)
    pooled_a, pooled_b = {"pool": a["l1"][:, 0, 0]}, {"pool": b["l1"][:, 0, 0]}  # a vector: a 1x1 map
    np.testing.assert_allclose(np.asarray(perceptual.feature_distance_tensor(pooled_a, pooled_b)),
                               perceptual.normalized_feature_distance({"pool": a["l1"][:, :1, :1]},
                                                                      {"pool": b["l1"][:, :1, :1]}), rtol=1e-5)
