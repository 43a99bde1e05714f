"""One training step on two logical CPU replicas vs one device, same global batch.

Run as a subprocess (`python -m tests.common.two_device_check`): logical devices must be
configured before TensorFlow initialises. Prints one JSON line.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from tests.common.logical_cpus import cpu_mirrored_strategy, split_cpu  # noqa: E402

split_cpu(2)

import keras  # noqa: E402

from common.runtime.checkpoint import collect_variables  # noqa: E402
from tests.common.toy_gan import ToyGAN, real_batches  # noqa: E402


def build():
    model = ToyGAN(label_noise=0.0)
    model.compile(lr=1e-2, jit_compile=False)
    model.build_optimizers()
    return model


def main():
    keras.utils.set_random_seed(0)
    single = build()
    start = [np.asarray(v) for v in collect_variables(single)]
    start_g = [np.asarray(v) for v in single.networks["generator"].trainable_variables]
    strategy = cpu_mirrored_strategy()
    with strategy.scope():
        mirrored = build()
        for v, value in zip(collect_variables(mirrored), start):
            v.assign(value)
    data = real_batches(seed=3, batch_size=4, start_step=0)
    single.fit(data, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
    mirrored.fit(data, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
    a = [np.asarray(v) for v in collect_variables(single)]
    b = [np.asarray(v) for v in collect_variables(mirrored)]
    diff = max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))
    changed = max(float(np.max(np.abs(np.asarray(x) - y)))
                  for x, y in zip(single.networks["generator"].trainable_variables, start_g))
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "max_abs_diff": diff, "changed": changed}))


if __name__ == "__main__":
    main()
