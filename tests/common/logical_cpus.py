"""Two-replica training without GPUs, for test processes only.

`--strategy mirrored` needs two GPUs. A test process splits its CPU into logical devices
(`split_cpu`, before TensorFlow initialises) and calls `mirror_on_cpus()`, after which
"mirrored" means a MirroredStrategy over those CPU devices - in that process, nowhere else.
"""

import tensorflow as tf


def split_cpu(devices: int = 2) -> None:
    """Make the CPU appear as `devices` logical devices (before TensorFlow runs anything)."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)


def cpu_mirrored_strategy() -> tf.distribute.MirroredStrategy:
    """The process's MirroredStrategy over every logical CPU device."""
    from common.runtime import distribute

    return distribute._mirrored(tuple(d.name for d in tf.config.list_logical_devices("CPU")))


def mirror_on_cpus() -> None:
    """From now on, in this process, make_strategy("mirrored") (the trainer's too) returns
    cpu_mirrored_strategy(); every other strategy name is passed through."""
    from common.runtime import distribute, trainer

    make_strategy = distribute.make_strategy

    def on_cpus(name: str = "auto"):
        return cpu_mirrored_strategy() if name == "mirrored" else make_strategy(name)

    distribute.make_strategy = trainer.make_strategy = on_cpus
