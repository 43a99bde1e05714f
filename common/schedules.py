"""Learning-rate schedules the GAN recipes need that Keras does not have (serialisable).

Legacy Keras `Adam(decay=rate)` (the multi-scale notebook's "weight decay 6e-8") is
Keras's own `keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=1, decay_rate=rate)`.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ganworks")
class LinearDecayTail(keras.optimizers.schedules.LearningRateSchedule):
    """Keep `base` for the first total-decay steps, then scale it linearly to 0 at `total_steps`.

    The CycleGAN paper's recipe (constant for 100 epochs, linear decay over 100 more).
    base: a float or another schedule.
    """

    def __init__(self, base, total_steps, decay_steps):
        self.base = base
        self.total_steps = int(total_steps)
        self.decay_steps = max(1, int(decay_steps))

    def __call__(self, step):
        step = ops.cast(step, "float32")
        base = self.base(step) if callable(self.base) else self.base
        remaining = ops.cast(self.total_steps, "float32") - step
        factor = ops.clip(remaining / float(self.decay_steps), 0.0, 1.0)
        return base * factor

    def get_config(self):
        base = keras.saving.serialize_keras_object(self.base) if callable(self.base) else self.base
        return {"base": base, "total_steps": self.total_steps, "decay_steps": self.decay_steps}

    @classmethod
    def from_config(cls, config):
        base = config["base"]
        if isinstance(base, dict):
            base = keras.saving.deserialize_keras_object(base)
        return cls(base, config["total_steps"], config["decay_steps"])
