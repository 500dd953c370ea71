"""Training's input: shuffled, augmented batches from uint8 faces already on the device (2.06x the images a second
of the original study's ImageFolder, PIL transforms and DataLoader on a 2-core CPU; docs/experiments.md)."""

import torch

from .augment import augment
from .config import TrainConfig


def input_side(config: TrainConfig, progress: float) -> int:
    """The side of the training input at ``progress`` (0 to 1): ``small_input`` for the first ``small_share`` of
    training when it is set (progressive resizing), else ``input_size``."""
    return config.small_input if config.small_input and progress < config.small_share else config.input_size


def batches_of(images: torch.Tensor, labels: torch.Tensor, config: TrainConfig, model_cfg: dict,
                 generator: torch.Generator, sample_weights: torch.Tensor | None = None, clock=None, ranks=None):
    """Shuffled (or, with ``sample_weights``, drawn with replacement), augmented batches; the last partial batch is
    dropped. Each batch has the side that ``input_side`` gives at the clock's progress. Under several processes
    every process draws the same order (``ranks.order``) and takes its own share of each global batch, which it
    augments with its own ``generator``."""
    n = len(labels)
    several = ranks is not None and ranks.world > 1
    shuffle = ranks.order if several else generator
    if sample_weights is not None:
        order = torch.multinomial(sample_weights, n, replacement=True, generator=shuffle)
    else:
        order = torch.randperm(n, generator=shuffle, device=shuffle.device)
    order = order.to(images.device)
    size = config.batch_size
    for start in range(0, n - size + 1 if n >= size else 1, size):
        index = order[start:start + size]
        if several:
            index = index[ranks.rank::ranks.world]
        x = augment(images[index], model_cfg, generator, config.flip, config.rotation, config.translate,
                    config.scale, config.erasing, input_side(config, clock.progress if clock else 1.0))
        yield x, labels[index]
