"""Tiny versions of the toolkit's five models (six presets), as training flags: what the tests that run
every model (two replicas vs one, export vs checkpoint) build. Importing this sets up nothing."""

COMMON = ["--data", "demo", "--wandb", "disabled", "--seed", "3", "--jit-compile", "off"]
# tiny versions of the five models (six presets); each global batch splits into two replicas' shares
MODELS = {
    "night2day-resnet": ("night2day", ["--model", "resnet", "--image-size", "32", "--filters", "4", "--res-blocks",
                                       "1", "--batch-size", "2", "--history-pool", "0"], 2),
    # two_replica_models compares it in float64 (its FLOAT64)
    "night2day-multiscale": ("night2day", ["--model", "multiscale", "--image-size", "32", "--filters", "2",
                                           "--batch-size", "2"], 2),
    "inpainting-improved": ("inpainting", ["--model", "improved", "--image-size", "32", "--filters", "4",
                                           "--bottleneck", "8", "--batch-size", "4", "--mask", "random-block"], 2),
    "inpainting-context-encoder": ("inpainting", ["--model", "context-encoder", "--image-size", "32", "--filters",
                                                  "4", "--bottleneck", "8", "--batch-size", "4"], 2),
    # label smoothing, 10% flips, instance noise and an EMA generator: every per-image draw and the EMA
    "watches-dcgan": ("watches", ["--model", "dcgan", "--image-size", "16", "--filters", "4", "--batch-size", "4",
                                  "--instance-noise", "0.1", "--g-ema-kimg", "0.01"], 3),
    # step 0 runs all four phases (path length, R1); step 1 the main phases only, then an ADA adjustment
    # (interval 2: NVIDIA's, after 2 steps taken); ADA starts at p 0.5 so the augmentations act;
    # minibatch-std groups of 2 within each replica's 2
    "watches-stylegan2": ("watches", ["--model", "stylegan2", "--image-size", "16", "--batch-size", "4",
                                      "--channel-base", "64", "--channel-max", "8", "--w-dim", "8", "--latent-dim",
                                      "8", "--mbstd-group", "2", "--augment-p", "0.5", "--ada-interval", "2"], 2),
}


def task_and_parser(name):
    """(a TrainingTask of task `name`, its train module's parse_config)."""
    if name == "night2day":
        from night2day.task import Night2DayTask
        from night2day.train import parse_config
        return Night2DayTask(), parse_config
    if name == "inpainting":
        from inpainting.task import InpaintingTask
        from inpainting.train import parse_config
        return InpaintingTask(), parse_config
    from watches.task import WatchesTask
    from watches.train import parse_config
    return WatchesTask(), parse_config
