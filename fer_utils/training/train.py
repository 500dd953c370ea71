"""Train ResNet18 on FER2013: a plain loop with on-device augmentation, validation-only model selection,
atomic per-epoch checkpoints and resume.

    python -m fer_utils.training.train --profile cpu
    python -m fer_utils.training.train --profile full --device cuda --set epochs=40

``train_processes`` is the loop, read top to bottom: resume or start, then each epoch one pass over the batches,
validation and the checkpoints, and at the end the test-time views chosen on validation. Under torchrun every
process runs it (``fer_utils.training.distributed``); run folders and checkpoints are ``fer_utils.training.runs``.
"""

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from sklearn.metrics import f1_score, recall_score
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from ..data.fer2013 import FERArrays, load_arrays, pixel_stats
from ..data.ferplus import FERPlusMissing, distributions, votes_for
from ..data.splits import training_split
from ..device import native_bf16, pick_device
from ..labels import EMOTIONS
from ..model.checkpoint import load_checkpoint
from ..model.network import build_model, model_config
from ..model.views import TTA_MODES, batched_logits, best_views
from ..paths import RUNS_DIR
from ..scores import accuracy
from .augment import mix
from .config import TRAINING_OPTIONS, ConfigError, TrainConfig, parse_pairs, training_config
from .distributed import Ranks, join_processes, leave_processes
from .loaders import batches_of
from .runs import (
    epoch_record,
    provenance,
    record_finish,
    restore,
    resume_state,
    run_dir_for,
    save_checkpoints,
    summarise,
)
from .schedule import Clock, make_optimizer, make_schedule


def use_bf16(config: TrainConfig, device: torch.device) -> bool:
    return config.amp == "bf16" if config.amp != "auto" else native_bf16(device)


def use_channels_last(config: TrainConfig, device: torch.device) -> bool:
    """``auto``: on CUDA and on every CPU (in fp32 too: 1.26x the images a second on two AVX2 cores, measured by
    train_throughput.py, a benchmark removed in d6449dc), not on MPS."""
    return config.channels_last == "on" if config.channels_last != "auto" else device.type in ("cuda", "cpu")


def class_weights(labels: np.ndarray) -> torch.Tensor:
    """Inverse-frequency weights with mean 1 over the training images."""
    counts = np.bincount(labels, minlength=len(EMOTIONS)).astype(np.float64)
    weights = len(labels) / (len(EMOTIONS) * np.maximum(counts, 1))
    return torch.tensor(weights, dtype=torch.float32)


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
    targets: torch.Tensor | None = None  # soft targets (N,7) of the training faces: FER+'s votes


def ferplus_targets(train: FERArrays) -> np.ndarray:
    """FER+'s vote distributions over the training faces (``ferplus.distributions``), and FER2013's one-hot label
    where FER+ discards an image's votes; a ``ConfigError`` where these images have no FER+ votes."""
    try:
        soft = distributions(votes_for(train))
    except FERPlusMissing as err:
        raise ConfigError(f"labels=ferplus: {err}") from err
    none = soft.sum(1) == 0
    soft[none] = np.eye(len(EMOTIONS), dtype=np.float32)[train.labels[none]]
    print(f"FER+ vote distributions as targets for {(~none).sum():,} training faces; {none.sum():,} whose votes FER+ "
          "discards keep their FER2013 label", flush=True)
    return soft


def training_targets(config: TrainConfig, train: FERArrays, device: torch.device) -> torch.Tensor | None:
    """Soft targets of the training faces (FER+'s vote distributions, ``labels=ferplus``), or None for FER2013's
    labels as they are."""
    return torch.from_numpy(ferplus_targets(train)).to(device) if config.labels == "ferplus" else None


def prepare_data(config: TrainConfig, device: torch.device, arrays: FERArrays | None = None) -> TrainingData:
    """Load FER2013, split train into training and validation (``splits.training_split``), move to the device."""
    if arrays is None:
        arrays = load_arrays(config.data_dir or None, verbose=False)
    split = training_split(arrays, config.as_dict())
    mean, std = pixel_stats(split.train_all.images[split.train_index])
    model_cfg = model_config(config.stem, config.in_channels, config.input_size, round(mean, 4), round(std, 4))
    images = torch.from_numpy(split.train_all.images).to(device)
    labels = torch.from_numpy(split.train_all.labels).to(device)
    train_on, val_on = torch.from_numpy(split.train_index).to(device), torch.from_numpy(split.val_index).to(device)
    targets = training_targets(config, split.train, device)
    return TrainingData(split.train_all, split.train_index, split.val_index, images[train_on], labels[train_on],
                        images[val_on], labels[val_on], model_cfg, split.left_out, targets)


@dataclass
class Run:
    """What every step of one training run shares, passed as one object (as pytorch/examples passes ``args``)."""

    config: TrainConfig
    device: torch.device
    ranks: Ranks
    clock: Clock
    generator: torch.Generator  # this process's augmentation stream
    bf16: bool
    channels_last: bool
    loss_weights: torch.Tensor | None = None  # balance=loss
    progress: bool = True  # tqdm bars


def build(run: Run):
    """The model, its optimiser and schedule, the weight average (None without ``ema``) and how it was initialised."""
    config = run.config
    model, init = build_model(config.stem, config.in_channels, None if config.weights == "none" else config.weights)
    model = model.to(run.device)
    if run.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    schedule = make_schedule(optimizer, config, run.clock)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema), use_buffers=True) if config.ema else None
    return model, optimizer, schedule, ema, init


def train_step(model, optimizer, x, y, run: Run) -> tuple[float, int]:
    """One optimisation step on a prepared batch; returns its loss and the number of correct predictions."""
    if run.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x, y_a, y_b, lam = mix(x, y, run.config.mixup, run.generator)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=run.bf16):
        logits = model(x)
    logits = logits.float()
    smoothing, weights = run.config.label_smoothing, run.loss_weights
    loss = lam * F.cross_entropy(logits, y_a, weight=weights, label_smoothing=smoothing)
    if lam < 1.0:
        loss = loss + (1 - lam) * F.cross_entropy(logits, y_b, weight=weights, label_smoothing=smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    hard = y_a.argmax(1) if y_a.ndim == 2 else y_a  # soft targets (FER+'s votes): their top class
    return loss.item(), int((logits.argmax(1) == hard).sum())


def train_one_epoch(model, optimizer, schedule, ema, batches, steps: int, run: Run,
                    description: str) -> tuple[float, float]:
    """One pass over the batches, or less where the clock runs out; returns the mean training loss and accuracy (on
    augmented batches, over all processes)."""
    model.train()
    seen, loss_sum, correct = 0, 0.0, 0
    for x, y in tqdm(batches, desc=description, total=steps, leave=False, disable=not run.progress):
        loss, hits = train_step(model, optimizer, x, y, run)
        run.clock.tick()
        schedule.step()
        if ema is not None:
            ema.update_parameters(model)
        seen += len(y)
        loss_sum += loss * len(y)
        correct += hits
        if run.clock.done():
            break
    if run.ranks.world > 1:
        loss_sum, correct, seen = run.ranks.total([loss_sum, correct, seen])
    return loss_sum / max(seen, 1), correct / max(seen, 1)


@torch.no_grad()
def validate(model, images: torch.Tensor, labels: torch.Tensor, model_cfg: dict, run: Run, tta: str = "none") -> dict:
    """Mean cross-entropy, accuracy, macro F1 and per-class recall on uint8 images, with the evaluation
    preprocessing."""
    model.eval()
    logits = batched_logits(model, images, model_cfg, tta, bf16=run.bf16, channels_last=run.channels_last)
    truth, predicted, classes = labels.cpu().numpy(), logits.argmax(1).cpu().numpy(), range(len(EMOTIONS))
    return {"loss": F.cross_entropy(logits, labels).item(), "acc": accuracy(predicted, truth),
            "macro_f1": float(f1_score(truth, predicted, labels=classes, average="macro", zero_division=0)),
            "recall": recall_score(truth, predicted, labels=classes, average=None, zero_division=0).round(4).tolist()}


def choose_tta(model, data: TrainingData, run: Run) -> tuple[str, dict]:
    """The test-time views with the best validation accuracy (ties go to fewer views), and each mode's accuracy."""
    accuracy_of = {mode: validate(model, data.val_images, data.val_labels, data.model_cfg, run, mode)["acc"]
                   for mode in TTA_MODES}
    return best_views(accuracy_of), accuracy_of


def finish(run_dir: Path, evaluated, data: TrainingData, run: Run) -> dict:
    """Choose the test-time views with the best checkpoint on validation, record them (and the time that took) in
    best.pt and last.pt, and mark the run finished. Returns the finished last.pt."""
    evaluated.load_state_dict(load_checkpoint(run_dir / "best.pt")["state_dict"])
    tta, tta_val_acc = (run.config.tta, {}) if run.config.tta != "auto" else choose_tta(evaluated, data, run)
    print(f"test-time views: {tta}" + (f" (validation accuracy {tta_val_acc})" if tta_val_acc else ""), flush=True)
    return record_finish(run_dir, tta, tta_val_acc, run.clock.spent())  # the clock ran on while views were chosen


def train(profile: str | None = None, overrides: dict | None = None, runs_dir: Path | str = RUNS_DIR,
          arrays: FERArrays | None = None, progress: bool = True, on_epoch=None, now=time.perf_counter) -> dict:
    """Train (or resume, or return the finished run of the same configuration). Returns the run's summary.
    ``on_epoch(entry)`` is called with each epoch's history entry after its checkpoint is saved (a sweep's pruner
    stops a run by raising there); ``now`` reads the time for the time budget. Under torchrun every process calls
    this; see ``fer_utils.training.distributed``."""
    config = training_config(profile, overrides)
    ranks, device = join_processes(config, pick_device(config.device, verbose=os.environ.get("RANK", "0") == "0"))
    try:
        return train_processes(config, ranks, device, Path(runs_dir), arrays, progress, on_epoch, now)
    finally:
        leave_processes(ranks)


def train_processes(config: TrainConfig, ranks: Ranks, device: torch.device, runs_dir: Path, arrays, progress: bool,
                    on_epoch, now) -> dict:
    run_dir = run_dir_for(config, runs_dir) if ranks.main else runs_dir / config.profile
    ranks.barrier()  # rank 0 has moved an earlier, different run aside
    state = load_checkpoint(run_dir / "last.pt") if (run_dir / "last.pt").exists() else None
    if state and state.get("finished"):
        ranks.say(f"{run_dir}: already trained ({state['epoch']} epochs); delete it to train again")
        return summarise(state, run_dir)

    # data, model and the run's shared state
    torch.manual_seed(config.seed)
    bf16, channels_last = use_bf16(config, device), use_channels_last(config, device)
    ranks.say(f"profile {config.profile}: bf16 {'on' if bf16 else 'off'}, channels_last "
              f"{'on' if channels_last else 'off'}"
              + (f", {ranks.world} processes" if ranks.world > 1 else ""))
    if not ranks.main:
        ranks.barrier()  # rank 0 obtains and decodes the data first; the others then read its cache
    data = prepare_data(config, device, arrays)
    if ranks.main:
        ranks.barrier()
    steps_per_epoch = max(1, len(data.train_index) // config.batch_size)
    clock = Clock(config, steps_per_epoch, ranks.furthest if ranks.world > 1 else None, now)
    weights = class_weights(data.train_all.labels[data.train_index]).to(device)
    run = Run(config, device, ranks, clock, torch.Generator(device=device).manual_seed(config.seed + ranks.rank),
              bf16, channels_last, weights if config.balance == "loss" else None, progress and ranks.main)
    sample_weights = weights[data.labels].float() if config.balance == "sampler" else None
    model, optimizer, schedule, ema, init = build(run)
    evaluated = ema.module if ema is not None else model

    # resume where a killed run stopped
    history, best_acc, start_epoch, elapsed = [], -1.0, 0, 0.0
    if state:
        history, best_acc, start_epoch, elapsed = restore(state, model, optimizer, schedule, ema, run.generator,
                                                          ranks)
        ranks.say(f"resuming {run_dir} at epoch {start_epoch + 1}")
    if ranks.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config.as_dict(), sort_keys=False))
    step_model = DistributedDataParallel(model) if ranks.world > 1 else model
    info = {"init": init, "bf16": bf16, "channels_last": channels_last, "train_images": len(data.train_index),
            "val_images": len(data.val_index), "left_out": data.left_out, "steps_per_epoch": steps_per_epoch,
            "world_size": ranks.world, "global_batch": config.batch_size,
            "batch_per_process": config.batch_size // ranks.world, "lr": config.lr}

    # the epochs
    budget = f" of {config.minutes:g}" if config.minutes else ""
    epochs = tqdm(range(start_epoch, config.epochs), desc="epochs", initial=start_epoch, total=config.epochs,
                  disable=not run.progress)
    clock.start(elapsed, schedule.last_epoch)
    for epoch in epochs:
        if clock.done():
            break
        started = clock.now()
        targets = data.targets if data.targets is not None else data.labels
        batches = batches_of(data.images, targets, config, data.model_cfg, run.generator, sample_weights, clock, ranks)
        train_loss, train_acc = train_one_epoch(step_model, optimizer, schedule, ema, batches, steps_per_epoch, run,
                                                f"epoch {epoch + 1}")
        generators = ranks.gather(run.generator.get_state()) if ranks.world > 1 else [run.generator.get_state()]
        if not ranks.main:
            continue
        scores = validate(evaluated, data.val_images, data.val_labels, data.model_cfg, run)
        val_loss, val_acc = scores["loss"], scores["acc"]
        without_ema = {} if ema is None else {"val_acc_without_ema": validate(
            model, data.val_images, data.val_labels, data.model_cfg, run)["acc"]}  # the average's gain
        seconds, elapsed = clock.now() - started, clock.spent()
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
                        "val_acc": val_acc, "val_macro_f1": scores["macro_f1"], "val_recall": scores["recall"],
                        **without_ema, "lr": optimizer.param_groups[0]["lr"], "seconds": seconds})
        epochs.set_postfix(val_acc=f"{val_acc:.3f}", train_acc=f"{train_acc:.3f}", minutes=f"{elapsed / 60:.1f}")
        print(f"epoch {epoch + 1}/{config.epochs}: train loss {train_loss:.3f} acc {train_acc:.3f} | "
              f"val loss {val_loss:.3f} acc {val_acc:.3f} | {seconds:.0f} s, {elapsed / 60:.1f}{budget} min in all",
              flush=True)
        improved = val_acc > best_acc
        best_acc = max(best_acc, val_acc)
        common = epoch_record(data.model_cfg, config, info, history,
                              provenance(device, data.train_all.data_hash, config, elapsed))
        save_checkpoints(run_dir, common, evaluated.state_dict(),
                         resume_state(model, optimizer, schedule, ema, generators, ranks, best_acc, elapsed),
                         improved)
        if on_epoch is not None:
            on_epoch(history[-1])

    # the test-time views, chosen on validation
    if ranks.main:
        finished = finish(run_dir, evaluated, data, run)
    ranks.barrier()  # the others wait for rank 0's finished checkpoint
    return summarise(finished if ranks.main else load_checkpoint(run_dir / "last.pt"), run_dir)


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
