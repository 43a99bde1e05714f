"""The shared feature extractor: value ranges, antialiased resizing, the weights policy
(never a silent random network), streaming, the 2015-graph loader and the folder cache."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.random_features import save_random_feature_model
from common.metrics import features as F


# ----------------------------------------------------------------------------- pixels


def test_value_ranges_map_to_0_255():
    u8 = np.array([[[[0, 128, 255]]]], np.uint8)
    np.testing.assert_allclose(F.to_pixels(u8), [[[[0, 128, 255]]]])
    np.testing.assert_allclose(F.to_pixels(np.array([[[[-1.0, 0.0, 1.0]]]]), (-1, 1)), [[[[0, 127.5, 255]]]])
    np.testing.assert_allclose(F.to_pixels(np.array([[[[0.0, 0.5, 1.0]]]]), (0, 1)), [[[[0, 127.5, 255]]]])
    np.testing.assert_allclose(F.to_pixels(np.array([[[[-1.5, 2.0, 0.0]]]]), (-1, 1)), [[[[0, 255, 127.5]]]])
    # common.data's range names
    np.testing.assert_allclose(F.to_pixels(np.array([[[[-1.0, 0.0, 1.0]]]]), "tanh"), [[[[0, 127.5, 255]]]])
    np.testing.assert_allclose(F.to_pixels(np.array([[[[0.0, 0.5, 1.0]]]]), "sigmoid"), [[[[0, 127.5, 255]]]])


def test_float_images_without_a_value_range_are_refused():
    with pytest.raises(ValueError, match="value_range"):
        F.to_pixels(np.zeros((1, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="tanh"):
        F.to_pixels(np.zeros((1, 4, 4, 3), np.float32), "relu")
    with pytest.raises(ValueError, match=r"\[B, H, W, 3\]"):
        F.to_pixels(np.zeros((4, 4, 3), np.uint8))


def test_resizing_is_antialiased():
    # a 1-pixel checkerboard is pure aliasing bait: antialiased 4x downscaling gives flat grey
    board = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.float32)
    image = np.repeat(board[None, :, :, None], 3, axis=-1)
    small = F.resize_images(image, 16).numpy()
    assert small.shape == (1, 16, 16, 3)
    np.testing.assert_allclose(small, 127.5, atol=2.0)
    assert F.resize_images(image, 64) is not None and F.resize_images(image, 64).shape == (1, 64, 64, 3)


# ----------------------------------------------------------------------------- extractors


def test_a_saved_keras_feature_model_is_an_extractor_named_by_its_file(tmp_path, feature_model):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 40, 50, 3)).astype(np.uint8)
    a = F.keras_model_extractor(save_random_feature_model(tmp_path / "a.keras", seed=3, feature_dim=12,
                                                          num_classes=7))
    out = a(images)  # resized to the model's 32 x 32 input
    assert out["pool"].shape == (5, 12) and out["logits"].shape == (5, 7) and out["pool"].dtype == np.float32
    assert (a.input_size, a.feature_dim, a.num_classes) == (32, 12, 7)
    again = F.keras_model_extractor(tmp_path / "a.keras")
    np.testing.assert_allclose(again(images)["pool"], out["pool"], rtol=1e-5)
    assert again.name == a.name and a.name.startswith("keras-model-")
    assert F.keras_model_extractor(feature_model).name != a.name  # other weights, another cache key


def test_a_feature_model_with_one_output_gives_features_only(tmp_path):
    import keras

    inputs = keras.Input((8, 8, 3))
    keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs)).save(tmp_path / "mean.keras")
    ext = F.keras_model_extractor(tmp_path / "mean.keras")
    images = np.full((2, 16, 16, 3), 51, np.uint8)
    assert set(ext(images)) == {"pool"} and ext.num_classes == 0
    np.testing.assert_allclose(ext(images)["pool"], 51.0, rtol=1e-5)  # pixels reach the model in [0, 255]


def test_a_missing_or_wrong_feature_model_is_one_line_saying_what_is_wrong(tmp_path):
    import keras

    with pytest.raises(F.WeightsUnavailableError, match="no such file"):
        F.keras_model_extractor(tmp_path / "missing.keras")
    (tmp_path / "junk.keras").write_text("not a model")
    with pytest.raises(F.WeightsUnavailableError, match="not a Keras model file"):
        F.keras_model_extractor(tmp_path / "junk.keras")
    inputs = keras.Input((8, 8, 3))
    keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs)).save(tmp_path / "maps.keras")
    with pytest.raises(F.WeightsUnavailableError, match=r"must take images \[B, S, S, 3\] and return features"):
        F.keras_model_extractor(tmp_path / "maps.keras")


def test_extractor_gives_the_same_features_for_every_value_range(feature_extractor):
    rng = np.random.default_rng(1)
    u8 = rng.integers(0, 256, size=(3, 32, 32, 3)).astype(np.uint8)
    ext = feature_extractor
    ref = ext(u8)["pool"]
    np.testing.assert_allclose(ext(u8 / 127.5 - 1.0, (-1, 1))["pool"], ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ext(u8 / 255.0, (0, 1))["pool"], ref, rtol=1e-4, atol=1e-5)


def test_streaming_features_equal_one_shot_features(feature_extractor):
    images = np.random.default_rng(2).integers(0, 256, size=(10, 32, 32, 3)).astype(np.uint8)
    ext = feature_extractor
    one_shot = ext(images)
    batches = tf.data.Dataset.from_tensor_slices(images).batch(3)  # 3 + 3 + 3 + 1
    streamed = F.collect_features(batches, ext)
    for key in ("pool", "logits"):
        np.testing.assert_allclose(streamed[key], one_shot[key], rtol=1e-5, atol=1e-6)
    assert sum(len(f["pool"]) for f in F.iter_features(np.array_split(images, 4), ext)) == 10


def test_missing_imagenet_weights_raise_an_error_that_says_how_to_provide_them(monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.delenv(F.INCEPTION_WEIGHTS_ENV, raising=False)
    with pytest.raises(F.WeightsUnavailableError) as err:
        F.inception_extractor()
    message = str(err.value)
    for needed in ("inception_v3_weights_tf_dim_ordering_tf_kernels.h5", "--inception-weights", F.INCEPTION_WEIGHTS_ENV,
                   "never fall back to random"):
        assert needed in message
    monkeypatch.delenv(F.VGG16_WEIGHTS_ENV, raising=False)
    with pytest.raises(F.WeightsUnavailableError, match=F.VGG16_WEIGHTS_ENV):
        F.vgg16_extractor()


def test_the_real_offline_download_failure_is_reported_the_same_way(monkeypatch, tmp_path):
    # no mock: on this offline machine Keras's download fails quickly (DNS); with internet
    # and a cached file it would succeed, which is fine too
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # empty cache
    monkeypatch.delenv(F.INCEPTION_WEIGHTS_ENV, raising=False)
    spec = F._INCEPTION_FILE
    try:
        F._resolve_weights("imagenet", spec)
    except F.WeightsUnavailableError as err:
        assert F.INCEPTION_WEIGHTS_ENV in str(err)


def test_weights_path_from_argument_or_environment_must_exist(monkeypatch, tmp_path):
    missing = tmp_path / "nope.h5"
    with pytest.raises(F.WeightsUnavailableError, match="nope.h5.*does not exist"):
        F.inception_extractor(missing)
    monkeypatch.setenv(F.INCEPTION_WEIGHTS_ENV, str(missing))
    with pytest.raises(F.WeightsUnavailableError, match=F.INCEPTION_WEIGHTS_ENV):
        F.inception_extractor()


def test_wrong_weights_file_is_a_clear_error(tmp_path):
    bogus = tmp_path / "bogus.h5"
    bogus.write_bytes(b"not an hdf5 file")
    with pytest.raises(F.WeightsUnavailableError, match="Could not load"):
        F.inception_extractor(bogus)


def test_inception_extractor_loads_a_local_weights_file(tmp_path, monkeypatch):
    import keras

    source = keras.applications.InceptionV3(weights=None, classifier_activation=None)
    path = tmp_path / "inception.weights.h5"
    source.save_weights(path)
    monkeypatch.setenv(F.INCEPTION_WEIGHTS_ENV, str(path))  # the environment route
    ext = F.inception_extractor()
    assert (ext.input_size, ext.feature_dim, ext.num_classes) == (299, 2048, 1000)
    assert ext.name.startswith("inception_v3-keras-")
    images = np.random.default_rng(3).integers(0, 256, size=(2, 299, 299, 3)).astype(np.uint8)
    out = ext(images)
    expected = source(images.astype(np.float32) / 127.5 - 1.0, training=False)
    np.testing.assert_allclose(out["logits"], expected, rtol=1e-3, atol=1e-4)
    assert out["pool"].shape == (2, 2048)


# ----------------------------------------------------------------------------- 2015 graph


def write_fake_2015_graph(path, feature_dim=6, num_classes=5, seed=0):
    """A tiny graph with the tensor names of inception-2015-12-05's classify_image_graph_def.pb:
    DecodeJpeg/contents -> ... -> ExpandDims -> ResizeBilinear(299) -> Sub(128) -> Mul(1/128)
    -> (here: a 1x1 conv) -> pool_3 [1, 1, 1, D] -> pool_3/_reshape [1, D] -> softmax/logits."""
    rng = np.random.default_rng(seed)
    kernel = rng.normal(size=(1, 1, 3, feature_dim)).astype(np.float32)
    weights = rng.normal(size=(feature_dim, num_classes)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        contents = tf.compat.v1.placeholder(tf.string, name="DecodeJpeg/contents")
        decoded = tf.io.decode_jpeg(contents, channels=3, name="DecodeJpeg")
        x = tf.expand_dims(tf.cast(decoded, tf.float32, name="Cast"), 0, name="ExpandDims")
        x = tf.compat.v1.image.resize_bilinear(x, [299, 299], name="ResizeBilinear")
        x = tf.multiply(tf.subtract(x, 128.0, name="Sub"), 1.0 / 128.0, name="Mul")
        x = tf.nn.conv2d(x, tf.constant(kernel), 1, "VALID")
        pool = tf.reduce_mean(x, axis=[1, 2], keepdims=True, name="pool_3")
        flat = tf.reshape(pool, [1, feature_dim], name="pool_3/_reshape")
        w = tf.constant(weights, name="softmax/weights")
        b = tf.constant(np.zeros(num_classes, np.float32), name="softmax/biases")
        tf.nn.softmax(tf.matmul(flat, w, name="softmax/logits/MatMul") + b, name="softmax")
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return kernel, weights


def test_inception_2015_graph_is_fed_at_expanddims_and_works_for_batches(tmp_path):
    path = tmp_path / "classify_image_graph_def.pb"
    kernel, weights = write_fake_2015_graph(path)
    ext = F.inception_2015_extractor(path)
    assert (ext.input_size, ext.feature_dim, ext.num_classes) == (299, 6, 5)
    assert ext.name.startswith("inception-2015-graph-")
    images = np.random.default_rng(4).integers(0, 256, size=(3, 299, 299, 3)).astype(np.uint8)
    out = ext(images)
    normalised = (images.astype(np.float64) - 128.0) / 128.0
    pool = normalised.mean(axis=(1, 2)) @ kernel[0, 0]
    np.testing.assert_allclose(out["pool"], pool, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["logits"], pool @ weights, rtol=1e-4, atol=1e-4)


def test_inception_2015_graph_file_must_exist(tmp_path):
    with pytest.raises(F.WeightsUnavailableError, match="inception-2015-12-05.tgz"):
        F.inception_2015_extractor(tmp_path / "missing.pb")


def test_vgg16_extractor_returns_the_five_lpips_layers_from_a_local_weights_file(tmp_path, monkeypatch):
    import keras

    from common.metrics import perceptual

    source = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    path = tmp_path / "vgg16.weights.h5"
    source.save_weights(path)
    monkeypatch.setenv(F.VGG16_WEIGHTS_ENV, str(path))
    ext = F.vgg16_extractor()
    assert ext.input_size is None and ext.name.startswith("vgg16-keras-")
    rng = np.random.default_rng(5)
    a = rng.uniform(-1, 1, size=(2, 32, 32, 3)).astype(np.float32)
    maps = ext(a, (-1, 1))
    assert [maps[k].shape for k in F.VGG16_LAYERS] == [
        (2, 32, 32, 64), (2, 16, 16, 128), (2, 8, 8, 256), (2, 4, 4, 512), (2, 2, 2, 512)]
    # caffe preprocessing: BGR minus ImageNet means, as Keras's own preprocess_input
    pixels = (a + 1.0) * 127.5
    conv5_3 = keras.Model(source.input, source.get_layer("block5_conv3").output)
    expected = conv5_3(keras.applications.vgg16.preprocess_input(pixels.copy()), training=False)
    np.testing.assert_allclose(maps["block5_conv3"], expected, rtol=1e-3, atol=1e-4)
    b = rng.uniform(-1, 1, size=(2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(perceptual.vgg_perceptual_distance(a, a, (-1, 1), ext), 0.0, atol=1e-9)
    assert np.all(perceptual.vgg_perceptual_distance(a, b, (-1, 1), ext) > 0)
