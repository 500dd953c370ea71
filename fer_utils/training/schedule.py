"""The optimiser, and a learning-rate schedule that follows a clock: by steps, or by time under a time budget."""

import math
import time

import torch

from .config import TrainConfig


def make_optimizer(model, config: TrainConfig):
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, nesterov=True,
                           weight_decay=config.weight_decay)


def lr_share(schedule: str, progress: float) -> float:
    """The learning rate's share of its peak ``progress`` (0 to 1) of the way through training: one-cycle as
    ``OneCycleLR`` shapes it (cosine warm-up from 1/25 over the first quarter, cosine annealing to 1/250,000), cosine
    annealing to 0, or constant."""
    progress = min(max(progress, 0.0), 1.0)
    if schedule == "cosine":
        return (1 + math.cos(math.pi * progress)) / 2
    if schedule != "onecycle":
        return 1.0
    start, end, warm_up = 1 / 25, 1 / 25 / 1e4, 0.25
    if progress < warm_up:
        return start + (1 - start) * (1 - math.cos(math.pi * progress / warm_up)) / 2
    return end + (1 - end) * (1 + math.cos(math.pi * (progress - warm_up) / (1 - warm_up))) / 2


class Clock:
    """Training time, carried over a resume, and how far through its budget a run is: the larger of the share of
    the time budget spent and the share of the most steps it may take (``minutes`` 0: steps only). Under several
    processes ``agree`` makes them all use the furthest progress, so that they change learning rate and input size
    and stop at the same step. ``now`` reads the time (tests drive it)."""

    def __init__(self, config: TrainConfig, steps_per_epoch: int, agree=None, now=time.perf_counter):
        self.budget_s, self.max_steps = config.minutes * 60, config.epochs * steps_per_epoch
        self.agree, self.now = agree, now
        self.spent_before, self.started, self.steps, self.progress = 0.0, now(), 0, 0.0

    def start(self, spent_before: float, steps: int) -> None:
        self.spent_before, self.steps, self.started = spent_before, steps, self.now()
        self.update()

    def spent(self) -> float:
        return self.spent_before + self.now() - self.started

    def update(self) -> None:
        progress = max(self.spent() / self.budget_s if self.budget_s else 0.0, self.steps / self.max_steps)
        self.progress = self.agree(progress) if self.agree else progress

    def tick(self) -> None:
        """One optimisation step done."""
        self.steps += 1
        self.update()

    def done(self) -> bool:
        return self.progress >= 1.0


def make_schedule(optimizer, config: TrainConfig, clock: Clock):
    """A per-step schedule of the learning rate that follows ``clock``."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: lr_share(config.schedule, clock.progress))
