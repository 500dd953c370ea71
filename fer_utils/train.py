"""Train ResNet18 on FER2013: a plain loop with on-device augmentation, validation-only model selection,
atomic per-epoch checkpoints and resume.

    python -m fer_utils.train --profile cpu
    python -m fer_utils.train --profile full --device cuda --set epochs=40
"""

import argparse
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
import yaml
from sklearn.metrics import f1_score, recall_score
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from . import EMOTIONS
from .audit import noisy_training_images
from .augment import TTA_MODES, augment, batched_logits, best_views
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TRAINING_OPTIONS, ConfigError, TrainConfig, parse_pairs, training_config
from .data import FERArrays, load_arrays, pixel_stats, train_val_indices
from .device import cpu_has_bf16, describe_device, pick_device
from .models import build_model, model_config
from .paths import RUNS_DIR, SHIPPED_CHECKPOINT
from .provenance import git_commit, versions


def use_bf16(config: TrainConfig, device: torch.device) -> bool:
    if config.amp != "auto":
        return config.amp == "bf16"
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16())


def use_channels_last(config: TrainConfig, device: torch.device) -> bool:
    if config.channels_last != "auto":
        return config.channels_last == "on"
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16())


def class_weights(labels: np.ndarray) -> torch.Tensor:
    """Inverse-frequency weights with mean 1 over the training images."""
    counts = np.bincount(labels, minlength=len(EMOTIONS)).astype(np.float64)
    weights = len(labels) / (len(EMOTIONS) * np.maximum(counts, 1))
    return torch.tensor(weights, dtype=torch.float32)


# --------------------------------------------------------------------------- data


@dataclass
class TrainingData:
    """The training and validation faces on the device, and what the model needs to know about them."""

    train_all: FERArrays  # the training split the indices refer to (after max_per_class)
    train_index: np.ndarray
    val_index: np.ndarray
    images: torch.Tensor  # uint8 training faces on the device
    labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    model_cfg: dict
    left_out: int  # training images left out by ``clean``


def prepare_data(config: TrainConfig, device: torch.device, arrays: FERArrays | None = None) -> TrainingData:
    """Load FER2013, split train into training and validation, leave out noisy images if asked, move to the device."""
    if arrays is None:
        arrays = load_arrays(config.data_dir or None, verbose=False)
    train_all = arrays.split("train")
    if config.max_per_class:
        train_all = train_all.per_class(config.max_per_class)
    train_index, val_index = train_val_indices(train_all.labels, config.val_fraction, config.seed)
    left_out = 0
    if config.clean:
        noisy = noisy_training_images(train_all.subset(train_index))
        train_index, left_out = train_index[~noisy], int(noisy.sum())
    mean, std = pixel_stats(train_all.images[train_index])
    model_cfg = model_config(config.stem, config.in_channels, config.input_size, round(mean, 4), round(std, 4),
                             config.crop)
    images = torch.from_numpy(train_all.images).to(device)
    labels = torch.from_numpy(train_all.labels).to(device)
    train_on, val_on = torch.from_numpy(train_index).to(device), torch.from_numpy(val_index).to(device)
    return TrainingData(train_all, train_index, val_index, images[train_on], labels[train_on], images[val_on],
                        labels[val_on], model_cfg, left_out)


def fast_batches(images: torch.Tensor, labels: torch.Tensor, config: TrainConfig, model_cfg: dict,
                 generator: torch.Generator, sample_weights: torch.Tensor | None, clock: "Clock | None" = None,
                 ranks: "Ranks | None" = None):
    """Shuffled, augmented batches from uint8 tensors already on the device; the last partial batch is dropped.
    Each batch has the side that ``input_side`` gives at the clock's progress. Under several processes every
    process draws the same order (``ranks.order``) and takes its own share of each global batch, which it augments
    with its own ``generator``."""
    n = len(labels)
    shuffle = ranks.order if ranks and ranks.world > 1 else generator
    if sample_weights is not None:
        order = torch.multinomial(sample_weights, n, replacement=True, generator=shuffle)
    else:
        order = torch.randperm(n, generator=shuffle, device=shuffle.device)
    order = order.to(images.device)
    size = config.batch_size
    for start in range(0, n - size + 1 if n >= size else 1, size):
        index = order[start:start + size]
        if ranks and ranks.world > 1:
            index = index[ranks.rank::ranks.world]
        x = augment(images[index], model_cfg, generator, config.flip, config.rotation, config.translate,
                    config.scale, config.erasing, input_side(config, clock.progress if clock else 1.0))
        yield x, labels[index]


def input_side(config: TrainConfig, progress: float) -> int:
    """The side of the training input at ``progress`` (0 to 1): ``small_input`` for the first ``small_share`` of
    training when it is set (progressive resizing), else ``input_size``."""
    return config.small_input if config.small_input and progress < config.small_share else config.input_size


def torchvision_loader(config: TrainConfig, model_cfg: dict, train_names: np.ndarray, seed: int):
    """The original study's input pipeline: ImageFolder, PIL transforms and a DataLoader, over the training images
    named by ``train_names`` (paths relative to the dataset folder, as ``FERArrays.names`` holds them)."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import transforms

    from .data import imagefolder

    size = model_cfg["input_size"]
    channels = model_cfg["in_channels"]
    resize = [transforms.RandomCrop(size)] if config.crop else [transforms.Resize(size)]
    tf = transforms.Compose([
        transforms.Grayscale(num_output_channels=channels),
        *resize,
        transforms.RandomHorizontalFlip(config.flip),
        transforms.RandomRotation(config.rotation),
        transforms.RandomCrop(size, padding=round(config.translate * size)),
        transforms.ToTensor(),
        transforms.Normalize([model_cfg["mean"]] * channels, [model_cfg["std"]] * channels),
    ])
    folder = imagefolder(config.data_dir or None, "train", tf)
    position = {Path(path).relative_to(Path(folder.root).parent).as_posix(): i
                for i, (path, _) in enumerate(folder.samples)}
    dataset = Subset(folder, [position[name] for name in train_names])
    return DataLoader(dataset, batch_size=config.batch_size, shuffle=True, drop_last=True,
                      num_workers=config.num_workers, generator=torch.Generator().manual_seed(seed),
                      persistent_workers=config.num_workers > 0)


def mix(x: torch.Tensor, y: torch.Tensor, config: TrainConfig, generator: torch.Generator):
    """Mixup or cutmix (whichever is on; cutmix wins a coin toss when both are): returns x, y, y2, lam."""
    modes = [m for m in ("mixup", "cutmix") if getattr(config, m) > 0]
    if not modes:
        return x, y, y, 1.0
    pick = int(torch.randint(len(modes), (1,), generator=generator, device=generator.device))
    alpha = getattr(config, modes[pick])
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(len(y), generator=generator, device=generator.device).to(x.device)
    if modes[pick] == "mixup":
        return lam * x + (1 - lam) * x[perm], y, y[perm], lam
    h, w = x.shape[-2:]
    cut_h, cut_w = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
    top = int(torch.randint(h - cut_h + 1, (1,), generator=generator, device=generator.device))
    left = int(torch.randint(w - cut_w + 1, (1,), generator=generator, device=generator.device))
    x = x.clone()
    x[..., top:top + cut_h, left:left + cut_w] = x[perm][..., top:top + cut_h, left:left + cut_w]
    return x, y, y[perm], 1 - cut_h * cut_w / (h * w)


# --------------------------------------------------------------------------- model and optimiser


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
    and stop at the same step."""

    def __init__(self, config: TrainConfig, steps_per_epoch: int, agree=None):
        self.budget_s, self.max_steps, self.agree = config.minutes * 60, config.epochs * steps_per_epoch, agree
        self.spent_before, self.started, self.steps, self.progress = 0.0, time.perf_counter(), 0, 0.0

    def start(self, spent_before: float, steps: int) -> None:
        self.spent_before, self.steps, self.started = spent_before, steps, time.perf_counter()
        self.update()

    def spent(self) -> float:
        return self.spent_before + time.perf_counter() - self.started

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
    """A per-step schedule of the learning rate that follows ``clock``: by steps, or by time under a time budget."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: lr_share(config.schedule, clock.progress))


def build(config: TrainConfig, device: torch.device, channels_last: bool, clock: Clock):
    """The model, its optimiser and schedule, the weight average (None without ``ema``) and how it was initialised."""
    model, init = build_model(config.stem, config.in_channels, None if config.weights == "none" else config.weights,
                              config.on_missing_weights)
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    schedule = make_schedule(optimizer, config, clock)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema), use_buffers=True) if config.ema else None
    return model, optimizer, schedule, ema, init


# --------------------------------------------------------------------------- one epoch, validation


def train_step(model, optimizer, x, y, config: TrainConfig, bf16: bool, channels_last: bool,
               generator: torch.Generator, loss_weights: torch.Tensor | None = None) -> tuple[float, int]:
    """One optimisation step on a prepared batch; returns its loss and the number of correct predictions."""
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x, y_a, y_b, lam = mix(x, y, config, generator)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(x)
    logits = logits.float()
    smoothing = config.label_smoothing
    loss = lam * F.cross_entropy(logits, y_a, weight=loss_weights, label_smoothing=smoothing)
    if lam < 1.0:
        loss = loss + (1 - lam) * F.cross_entropy(logits, y_b, weight=loss_weights, label_smoothing=smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item(), int((logits.argmax(1) == y_a).sum())


def train_one_epoch(model, optimizer, schedule, ema, batches, clock: Clock, steps: int, config: TrainConfig,
                    bf16: bool, channels_last: bool, generator: torch.Generator, loss_weights, ranks: "Ranks",
                    description: str, progress: bool) -> tuple[float, float]:
    """One pass over the batches, or less where the clock runs out; returns the mean training loss and accuracy (on
    augmented batches, over all processes)."""
    model.train()
    seen, loss_sum, correct = 0, 0.0, 0
    for x, y in tqdm(batches, desc=description, total=steps, leave=False, disable=not progress):
        loss, hits = train_step(model, optimizer, x, y, config, bf16, channels_last, generator, loss_weights)
        clock.tick()
        schedule.step()
        if ema is not None:
            ema.update_parameters(model)
        seen += len(y)
        loss_sum += loss * len(y)
        correct += hits
        if clock.done():
            break
    if ranks.world > 1:
        loss_sum, correct, seen = ranks.total([loss_sum, correct, seen])
    return loss_sum / max(seen, 1), correct / max(seen, 1)


@torch.no_grad()
def validate(model, images: torch.Tensor, labels: torch.Tensor, model_cfg: dict, bf16: bool, channels_last: bool,
             tta: str = "none") -> dict:
    """Mean cross-entropy, accuracy, macro F1 and per-class recall on uint8 images, with the evaluation
    preprocessing."""
    model.eval()
    logits = batched_logits(model, images, model_cfg, tta, bf16=bf16, channels_last=channels_last)
    if not len(labels):
        return {"loss": 0.0, "acc": 0.0, "macro_f1": 0.0, "recall": [0.0] * len(EMOTIONS)}
    truth, predicted, classes = labels.cpu().numpy(), logits.argmax(1).cpu().numpy(), range(len(EMOTIONS))
    return {"loss": F.cross_entropy(logits, labels).item(), "acc": float((predicted == truth).mean()),
            "macro_f1": float(f1_score(truth, predicted, labels=classes, average="macro", zero_division=0)),
            "recall": recall_score(truth, predicted, labels=classes, average=None, zero_division=0).round(4).tolist()}


def choose_tta(model, data: TrainingData, bf16: bool, channels_last: bool) -> tuple[str, dict]:
    """The test-time views with the best validation accuracy (ties go to fewer views), and each mode's accuracy."""
    val = (data.val_images, data.val_labels, data.model_cfg, bf16, channels_last)
    accuracy = {mode: validate(model, *val, mode)["acc"] for mode in TTA_MODES}
    return best_views(accuracy), accuracy


# --------------------------------------------------------------------------- checkpoints and runs


def run_dir_for(config: TrainConfig, runs_dir: Path) -> Path:
    """runs/<profile>/; a finished or different earlier run there is moved aside, never deleted."""
    run_dir = Path(runs_dir) / config.profile
    last = run_dir / "last.pt"
    if last.exists():
        saved = load_checkpoint(last)
        if saved.get("config") != config.as_dict():
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(last.stat().st_mtime))
            archive = run_dir.with_name(f"{run_dir.name}-{stamp}")
            print(f"{run_dir} holds a run with another configuration; moved it to {archive}")
            shutil.move(str(run_dir), archive)
    return run_dir


def checkpoint_for(profile: str, runs_dir: Path | str = RUNS_DIR) -> Path:
    """Where training with ``profile`` leaves its best checkpoint."""
    return Path(runs_dir) / profile / "best.pt"


def save_checkpoints(run_dir: Path, common: dict, weights: dict, resume: dict, improved: bool) -> None:
    """last.pt (everything needed to resume) every epoch, best.pt when validation accuracy improved."""
    if improved:
        save_checkpoint(run_dir / "best.pt", {**common, "state_dict": weights})
    save_checkpoint(run_dir / "last.pt", {**common, "state_dict": weights, **resume})
    (run_dir / "history.json").write_text(json.dumps(common["history"], indent=1))


def restore(state: dict, model, optimizer, schedule, ema, generator: torch.Generator,
            ranks: "Ranks") -> tuple[list, float, int, float]:
    """Load a run's last.pt into the training objects; returns its history, best accuracy, epoch and wall time."""
    trained_by = state["info"].get("world_size", 1)
    if trained_by != ranks.world:
        raise ConfigError(f"this run was trained by {trained_by} processes and resumes only with as many "
                          f"(torchrun --nproc_per_node {trained_by}); or move its folder away to start again")
    model.load_state_dict(state["train_state_dict"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["scheduler"])
    if ema is not None:
        ema.load_state_dict(state["ema"])
    generator.set_state(state["generators"][ranks.rank])
    if ranks.order is not None:
        ranks.order.set_state(state["order_generator"])
    torch.set_rng_state(state["torch_rng"])
    return state["history"], state["best_val_acc"], state["epoch"], state["wall_s"]


def finish(run_dir: Path, config: TrainConfig, evaluated, data: TrainingData, bf16: bool, channels_last: bool,
           elapsed: float) -> dict:
    """Choose the test-time views with the best checkpoint on validation, record them (and the time that took) in
    best.pt and last.pt, and mark the run finished. Returns the finished last.pt."""
    best = load_checkpoint(run_dir / "best.pt")
    started = time.perf_counter()
    evaluated.load_state_dict(best["state_dict"])
    tta, tta_val_acc = (config.tta, {}) if config.tta != "auto" else choose_tta(evaluated, data, bf16, channels_last)
    elapsed += time.perf_counter() - started
    print(f"test-time views: {tta}" + (f" (validation accuracy {tta_val_acc})" if tta_val_acc else ""), flush=True)
    finished = {"tta": tta, "tta_val_acc": tta_val_acc, "provenance": {**best["provenance"], "wall_s": elapsed}}
    save_checkpoint(run_dir / "best.pt", {**best, **finished})
    last = {**load_checkpoint(run_dir / "last.pt"), **finished, "finished": True}
    save_checkpoint(run_dir / "last.pt", last)
    return last


@dataclass
class Ranks:
    """The processes that train together (torchrun sets RANK, LOCAL_RANK and WORLD_SIZE); one process is rank 0 of
    1. Rank 0 alone validates, writes and prints."""

    rank: int = 0
    local_rank: int = 0
    world: int = 1
    device: torch.device | None = None  # where collective operations put their tensors
    order: torch.Generator | None = None  # the shuffling stream that all processes share

    @property
    def main(self) -> bool:
        return self.rank == 0

    def furthest(self, value: float) -> float:
        """The largest ``value`` over all processes."""
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return float(tensor)

    def total(self, values: list[float]) -> list[float]:
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, value) -> list:
        out = [None] * self.world
        dist.all_gather_object(out, value)
        return out


def join_processes(config: TrainConfig, device: torch.device) -> tuple[Ranks, torch.device]:
    """Join the torchrun process group when there is one (gloo on the CPU, NCCL on CUDA); each process trains on
    its own device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Ranks(), device
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"several processes train on CUDA or the CPU, not on {device.type}")
    if config.pipeline != "fast":
        raise ConfigError("several processes need pipeline=fast (each process augments its own share on its device)")
    if config.batch_size % world:
        raise ConfigError(f"batch_size {config.batch_size} is the global batch and must divide among {world} "
                          f"processes")
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    order = torch.Generator(device=device).manual_seed(config.seed)
    return Ranks(rank, local_rank, world, device, order), device


def train(profile: str | None = None, overrides: dict | None = None, runs_dir: Path | str = RUNS_DIR,
          arrays: FERArrays | None = None, progress: bool = True, on_epoch=None) -> dict:
    """Train (or resume, or return the finished run of the same configuration). Returns the run's summary.
    ``on_epoch(entry)`` is called with each epoch's history entry after its checkpoint is saved (a sweep's pruner
    stops a run by raising there). Under torchrun every process calls this; see ``Ranks``."""
    config = training_config(profile, overrides)
    ranks, device = join_processes(config, pick_device(config.device, verbose=os.environ.get("RANK", "0") == "0"))
    try:
        return train_processes(config, ranks, device, Path(runs_dir), arrays, progress, on_epoch)
    finally:
        if ranks.world > 1:
            dist.destroy_process_group()


def train_processes(config: TrainConfig, ranks: Ranks, device: torch.device, runs_dir: Path, arrays, progress: bool,
                    on_epoch) -> dict:
    say = print if ranks.main else (lambda *args, **kwargs: None)
    run_dir = run_dir_for(config, runs_dir) if ranks.main else runs_dir / config.profile
    if ranks.world > 1:
        dist.barrier()  # rank 0 has moved an earlier, different run aside
    state = load_checkpoint(run_dir / "last.pt") if (run_dir / "last.pt").exists() else None
    if state and state.get("finished"):
        say(f"{run_dir}: already trained ({state['epoch']} epochs); delete it to train again")
        return summarise(state, run_dir)

    torch.manual_seed(config.seed)
    bf16, channels_last = use_bf16(config, device), use_channels_last(config, device)
    say(f"profile {config.profile}: bf16 {'on' if bf16 else 'off'}, channels_last {'on' if channels_last else 'off'}"
        f", {config.pipeline} input pipeline" + (f", {ranks.world} processes" if ranks.world > 1 else ""))
    if ranks.world > 1 and not ranks.main:
        dist.barrier()  # rank 0 obtains and decodes the data first; the others then read its cache
    data = prepare_data(config, device, arrays)
    if ranks.world > 1 and ranks.main:
        dist.barrier()
    if config.pipeline == "torchvision":
        loader = torchvision_loader(config, data.model_cfg, data.train_all.names[data.train_index], config.seed)
        steps_per_epoch = len(loader)
    else:
        steps_per_epoch = max(1, len(data.train_index) // config.batch_size)
    clock = Clock(config, steps_per_epoch, ranks.furthest if ranks.world > 1 else None)
    model, optimizer, schedule, ema, init = build(config, device, channels_last, clock)
    evaluated = ema.module if ema is not None else model
    generator = torch.Generator(device=device).manual_seed(config.seed + ranks.rank)
    weights = class_weights(data.train_all.labels[data.train_index]).to(device)
    sample_weights = weights[data.labels].float() if config.balance == "sampler" else None
    loss_weights = weights if config.balance == "loss" else None

    history, best_acc, start_epoch, elapsed = [], -1.0, 0, 0.0
    if state:
        history, best_acc, start_epoch, elapsed = restore(state, model, optimizer, schedule, ema, generator, ranks)
        say(f"resuming {run_dir} at epoch {start_epoch + 1}")
    if ranks.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config.as_dict(), sort_keys=False))
    step_model = DistributedDataParallel(model) if ranks.world > 1 else model
    step_model = torch.compile(step_model) if config.compile else step_model
    info = {"init": init, "bf16": bf16, "channels_last": channels_last, "train_images": len(data.train_index),
            "val_images": len(data.val_index), "left_out": data.left_out, "steps_per_epoch": steps_per_epoch,
            "world_size": ranks.world, "global_batch": config.batch_size,
            "batch_per_process": config.batch_size // ranks.world, "lr": config.lr}

    budget = f" of {config.minutes:g}" if config.minutes else ""
    epochs = tqdm(range(start_epoch, config.epochs), desc="epochs", initial=start_epoch, total=config.epochs,
                  disable=not (progress and ranks.main))
    clock.start(elapsed, schedule.last_epoch)
    for epoch in epochs:
        if clock.done():
            break
        started = time.perf_counter()
        if config.pipeline == "torchvision":
            loader.generator.manual_seed(config.seed + epoch)
            batches = ((x.to(device), y.to(device)) for x, y in loader)
        else:
            batches = fast_batches(data.images, data.labels, config, data.model_cfg, generator, sample_weights, clock,
                                   ranks)
        train_loss, train_acc = train_one_epoch(step_model, optimizer, schedule, ema, batches, clock, steps_per_epoch,
                                                config, bf16, channels_last, generator, loss_weights, ranks,
                                                f"epoch {epoch + 1}", progress and ranks.main)
        generators = ranks.gather(generator.get_state()) if ranks.world > 1 else [generator.get_state()]
        if not ranks.main:
            continue
        scores = validate(evaluated, data.val_images, data.val_labels, data.model_cfg, bf16, channels_last)
        val_loss, val_acc = scores["loss"], scores["acc"]
        without_ema = {} if ema is None else {"val_acc_without_ema": validate(
            model, data.val_images, data.val_labels, data.model_cfg, bf16, channels_last)["acc"]}  # the average's gain
        seconds, elapsed = time.perf_counter() - started, clock.spent()
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
                        "val_acc": val_acc, "val_macro_f1": scores["macro_f1"], "val_recall": scores["recall"],
                        **without_ema, "lr": optimizer.param_groups[0]["lr"], "seconds": seconds})
        epochs.set_postfix(val_acc=f"{val_acc:.3f}", train_acc=f"{train_acc:.3f}", minutes=f"{elapsed / 60:.1f}")
        say(f"epoch {epoch + 1}/{config.epochs}: train loss {train_loss:.3f} acc {train_acc:.3f} | "
            f"val loss {val_loss:.3f} acc {val_acc:.3f} | {seconds:.0f} s, {elapsed / 60:.1f}{budget} min in all",
            flush=True)
        improved = val_acc > best_acc
        best_acc = max(best_acc, val_acc)
        common = {"format": "fer-study/1", "model": data.model_cfg, "classes": list(EMOTIONS), "history": history,
                  "config": config.as_dict(), "info": info, "epoch": epoch + 1,
                  "provenance": {**provenance(device, data.train_all.data_hash, config), "wall_s": elapsed}}
        resume = {"train_state_dict": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "scheduler": schedule.state_dict(), "generators": generators,
                  **({"order_generator": ranks.order.get_state()} if ranks.order is not None else {}),
                  "torch_rng": torch.get_rng_state(), "best_val_acc": best_acc, "wall_s": elapsed,
                  **({"ema": ema.state_dict()} if ema is not None else {})}
        save_checkpoints(run_dir, common, evaluated.state_dict(), resume, improved)
        if on_epoch is not None:
            on_epoch(history[-1])
    if ranks.main:
        finished = finish(run_dir, config, evaluated, data, bf16, channels_last, clock.spent())
    if ranks.world > 1:
        dist.barrier()  # the others wait for rank 0's finished checkpoint
    return summarise(finished if ranks.main else load_checkpoint(run_dir / "last.pt"), run_dir)


def provenance(device: torch.device, data_hash: str, config: TrainConfig) -> dict:
    return {"git_commit": git_commit(), **versions(), "device": describe_device(device), "data_hash": data_hash,
            "profile": config.profile}


def summarise(state: dict, run_dir: Path, best_checkpoint: Path | None = None) -> dict:
    """What a run (or a shipped checkpoint) reports: best epoch and accuracy, history, wall time, provenance."""
    best = max(state["history"], key=lambda h: h["val_acc"])
    return {"run_dir": str(run_dir), "best_checkpoint": str(best_checkpoint or run_dir / "best.pt"),
            "best_epoch": best["epoch"], "best_val_acc": best["val_acc"], "epochs": len(state["history"]),
            "wall_s": state["provenance"]["wall_s"], "history": state["history"], "info": state["info"],
            "provenance": state["provenance"], "config": state["config"], "tta": state.get("tta", "none"),
            "tta_val_acc": state.get("tta_val_acc", {})}


def shipped_run() -> dict:
    """The shipped model's training, summarised like a run (for evaluate-only reports)."""
    return summarise(load_checkpoint(SHIPPED_CHECKPOINT), SHIPPED_CHECKPOINT.parent, SHIPPED_CHECKPOINT)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", help="configs/<name>.yaml (smoke, cpu, full, original)")
    parser.add_argument("--device", help="auto, cuda, mps or cpu (overrides the profile)")
    parser.add_argument("--runs-dir", type=Path, default=RUNS_DIR)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help=f"override options: {', '.join(TRAINING_OPTIONS)}")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bars (for logs)")
    args = parser.parse_args(argv)
    overrides = parse_pairs(args.set)
    if args.device:
        overrides["device"] = args.device
    try:
        result = train(args.profile, overrides, args.runs_dir, progress=not args.no_progress)
    except (ConfigError, FileNotFoundError) as err:  # say what is wrong, without a traceback
        parser.error(str(err))
    print(json.dumps({k: v for k, v in result.items() if k not in ("history", "config")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
