"""A small fixed random feature network, saved as a Keras feature model (a .keras file that
`--extractor FILE.keras` and `common.metrics.features.keras_model_extractor` load): offline
features for the benchmarks, and for the tests that check the metrics' plumbing. Its numbers
compare runs that use the same network only; they say nothing about image quality.
"""

from __future__ import annotations

from pathlib import Path


def save_random_feature_model(path, *, seed: int = 0, feature_dim: int = 16, num_classes: int = 10,
                              input_size: int = 32) -> Path:
    """Save a two-conv random network to `path` (.keras) and return the path.

    float32 [B, input_size, input_size, 3] pixels in [0, 255] -> (features [B, feature_dim],
    logits [B, num_classes]); the weights are a function of `seed`.
    """
    import keras

    init = lambda i: keras.initializers.GlorotUniform(seed=seed * 100 + i)  # noqa: E731
    inputs = keras.Input((input_size, input_size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", kernel_initializer=init(0))(x)
    x = keras.layers.Conv2D(32, 3, strides=2, activation="relu", kernel_initializer=init(1))(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    features = keras.layers.Dense(feature_dim, kernel_initializer=init(2))(x)
    logits = keras.layers.Dense(num_classes, kernel_initializer=init(3))(features)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keras.Model(inputs, [features, logits], name="random_features").save(path)
    return path
