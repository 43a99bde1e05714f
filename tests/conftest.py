"""Shared test set-up: quiet TensorFlow, TensorFlow backend, W&B never online; a tiny feature model."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["WANDB_MODE"] = "offline"
os.environ.setdefault("WANDB_SILENT", "true")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def feature_model(tmp_path_factory):
    """A tiny random feature network saved as a .keras file: what `--extractor FILE.keras` takes."""
    from benchmarks.random_features import save_random_feature_model

    return save_random_feature_model(tmp_path_factory.mktemp("features") / "random_features.keras")


@pytest.fixture(scope="session")
def feature_extractor(feature_model):
    """feature_model loaded as the metrics load it."""
    from common.metrics.features import keras_model_extractor

    return keras_model_extractor(feature_model)
