"""Train ResNet18 on FER2013: a plain loop with on-device augmentation, validation-only model selection,
atomic per-epoch checkpoints and resume.

    python -m fer_utils.train --profile cpu
    python -m fer_utils.train --profile full --device cuda --set epochs=40
"""

import argparse
import json
import math
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import EMOTIONS, __version__
from .augment import augment, preprocess
from .checkpoint import load_checkpoint, save_checkpoint
from .config import load_profile, parse_pairs
from .data import FERArrays, load_arrays, pixel_stats, train_val_indices
from .device import cpu_has_bf16, describe_device, pick_device
from .models import build_model, model_config
from .paths import ROOT, RUNS_DIR

DEFAULTS = {
    "data_dir": "",            # FER2013 folder; empty means data/fer2013
    "max_per_class": 0,        # images per class and split; 0 keeps all
    "val_fraction": 0.1,       # share of train held out for model selection
    "seed": 0,
    "device": "auto",          # auto, cuda, mps or cpu
    "pipeline": "fast",        # fast (uint8 tensors on the device) or reference (ImageFolder + PIL + DataLoader)
    "stem": "fer",             # imagenet, fer or fer-nopool
    "in_channels": 1,
    "input_size": 48,
    "weights": "none",         # none or imagenet
    "on_missing_weights": "random",  # random or fail
    "epochs": 30,
    "batch_size": 128,
    "optimizer": "sgd",        # sgd (Nesterov) or adam
    "lr": 0.1,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "schedule": "onecycle",    # none, cosine or onecycle
    "label_smoothing": 0.1,
    "mixup": 0.0,              # mixup alpha; 0 turns it off
    "cutmix": 0.0,             # cutmix alpha; 0 turns it off
    "balance": "none",         # none, loss (class-weighted) or sampler (class-balanced sampling)
    "flip": 0.5,
    "rotation": 10.0,
    "translate": 0.1,
    "scale": 0.1,
    "erasing": 0.25,
    "amp": "auto",             # auto (bf16 on CUDA and bf16-capable CPUs), bf16 or off
    "channels_last": "auto",   # auto (on CUDA only: no consistent gain on the CPU here), on or off
    "compile": False,          # torch.compile the model
    "num_workers": 2,          # DataLoader workers, reference pipeline only
}


# --------------------------------------------------------------------------- set-up


def resolve_config(profile: str | None = None, overrides: dict | None = None) -> dict:
    """DEFAULTS, then the training keys of a profile, then overrides; unknown override keys are an error."""
    config = dict(DEFAULTS)
    if profile:
        config.update({k: v for k, v in load_profile(profile).items() if k in DEFAULTS})
    unknown = set(overrides or {}) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown training options {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    config.update(overrides or {})
    config["profile"] = profile or "custom"
    return config


def use_bf16(config: dict, device: torch.device) -> bool:
    if config["amp"] == "off":
        return False
    if config["amp"] == "bf16":
        return True
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16())


def use_channels_last(config: dict, device: torch.device) -> bool:
    return config["channels_last"] == "on" or (config["channels_last"] == "auto" and device.type == "cuda")


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(device: torch.device, data_hash: str, config: dict) -> dict:
    import torchvision

    return {"git_commit": git_commit(), "fer_utils": __version__, "python": platform.python_version(),
            "torch": str(torch.__version__), "torchvision": str(torchvision.__version__),
            "device": describe_device(device),
            "data_hash": data_hash, "profile": config["profile"]}


def class_weights(labels: np.ndarray) -> torch.Tensor:
    """Inverse-frequency weights with mean 1 over the training images."""
    counts = np.bincount(labels, minlength=len(EMOTIONS)).astype(np.float64)
    weights = len(labels) / (len(EMOTIONS) * np.maximum(counts, 1))
    return torch.tensor(weights, dtype=torch.float32)


# --------------------------------------------------------------------------- batches


def fast_batches(images: torch.Tensor, labels: torch.Tensor, config: dict, model_cfg: dict,
                 generator: torch.Generator, sample_weights: torch.Tensor | None):
    """Shuffled, augmented batches from uint8 tensors already on the device."""
    n = len(labels)
    if sample_weights is not None:
        order = torch.multinomial(sample_weights, n, replacement=True, generator=generator)
    else:
        order = torch.randperm(n, generator=generator, device=generator.device)
    order = order.to(images.device)
    size = config["batch_size"]
    for start in range(0, n - size + 1 if n >= size else 1, size):  # drop the last partial batch
        index = order[start:start + size]
        x = augment(images[index], model_cfg["input_size"], model_cfg["mean"], model_cfg["std"],
                    model_cfg["in_channels"], generator, config["flip"], config["rotation"], config["translate"],
                    config["scale"], config["erasing"])
        yield x, labels[index]


def reference_loader(config: dict, model_cfg: dict, train_index: np.ndarray, seed: int):
    """The original study's input pipeline: ImageFolder, PIL transforms, a DataLoader of batch 32-style batches."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import transforms

    from .data import imagefolder

    size = model_cfg["input_size"]
    pad = round(config["translate"] * size)
    tf = transforms.Compose([
        transforms.Grayscale(num_output_channels=model_cfg["in_channels"]),
        transforms.Resize(size),
        transforms.RandomHorizontalFlip(config["flip"]),
        transforms.RandomRotation(config["rotation"]),
        transforms.RandomCrop(size, padding=pad),
        transforms.ToTensor(),
        transforms.Normalize([model_cfg["mean"]] * model_cfg["in_channels"],
                             [model_cfg["std"]] * model_cfg["in_channels"]),
    ])
    dataset = Subset(imagefolder(config["data_dir"] or None, "train", tf), train_index.tolist())
    return DataLoader(dataset, batch_size=config["batch_size"], shuffle=True, drop_last=True,
                      num_workers=config["num_workers"], generator=torch.Generator().manual_seed(seed),
                      persistent_workers=config["num_workers"] > 0)


def mix(x: torch.Tensor, y: torch.Tensor, config: dict, generator: torch.Generator):
    """Mixup or cutmix (whichever is on; cutmix wins a coin toss when both are): returns x, y, y2, lam."""
    modes = [m for m in ("mixup", "cutmix") if config[m] > 0]
    if not modes:
        return x, y, y, 1.0
    pick = int(torch.randint(len(modes), (1,), generator=generator, device=generator.device))
    alpha = config[modes[pick]]
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


# --------------------------------------------------------------------------- loop


@torch.no_grad()
def evaluate(model, images: torch.Tensor, labels: torch.Tensor, model_cfg: dict, bf16: bool, channels_last: bool,
             batch_size: int = 512) -> tuple[float, float]:
    """Mean cross-entropy and accuracy on uint8 images, with the evaluation preprocessing."""
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, len(labels), batch_size):
        x = preprocess(images[start:start + batch_size], model_cfg["input_size"], model_cfg["mean"],
                       model_cfg["std"], model_cfg["in_channels"])
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x).float()
        y = labels[start:start + batch_size]
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    return total_loss / max(len(labels), 1), correct / max(len(labels), 1)


def train_step(model, optimizer, schedule, x, y, config: dict, bf16: bool, channels_last: bool,
               generator: torch.Generator, loss_weights: torch.Tensor | None = None) -> tuple[float, int]:
    """One optimisation step on a prepared batch; returns its loss and the number of correct predictions."""
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x, y_a, y_b, lam = mix(x, y, config, generator)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(x)
    logits = logits.float()
    smoothing = config["label_smoothing"]
    loss = lam * F.cross_entropy(logits, y_a, weight=loss_weights, label_smoothing=smoothing)
    if lam < 1.0:
        loss = loss + (1 - lam) * F.cross_entropy(logits, y_b, weight=loss_weights, label_smoothing=smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    schedule.step()
    return loss.item(), int((logits.argmax(1) == y_a).sum())


def make_optimizer(model, config: dict):
    if config["optimizer"] == "adam":
        return torch.optim.Adam(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    if config["optimizer"] == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"], nesterov=True,
                               weight_decay=config["weight_decay"])
    raise ValueError(f"optimizer must be sgd or adam, got {config['optimizer']!r}")


def make_schedule(optimizer, config: dict, steps_per_epoch: int):
    total = config["epochs"] * steps_per_epoch
    if config["schedule"] == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config["lr"], total_steps=total,
                                                   pct_start=0.25)
    if config["schedule"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if config["schedule"] == "none":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    raise ValueError(f"schedule must be none, cosine or onecycle, got {config['schedule']!r}")


def run_dir_for(config: dict, runs_dir: Path) -> Path:
    """runs/<profile>/; a finished or different earlier run there is moved aside, never deleted."""
    run_dir = Path(runs_dir) / config["profile"]
    last = run_dir / "last.pt"
    if last.exists():
        saved = load_checkpoint(last)
        if saved.get("config") != config:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(last.stat().st_mtime))
            archive = run_dir.with_name(f"{run_dir.name}-{stamp}")
            print(f"{run_dir} holds a run with another configuration; moved it to {archive}")
            shutil.move(str(run_dir), archive)
    return run_dir


def train(profile: str | None = None, overrides: dict | None = None, runs_dir: Path | str = RUNS_DIR,
          arrays: FERArrays | None = None, progress: bool = True) -> dict:
    """Train (or resume, or return the finished run of the same configuration). Returns the run's summary."""
    config = resolve_config(profile, overrides)
    run_dir = run_dir_for(config, Path(runs_dir))
    last_path, best_path = run_dir / "last.pt", run_dir / "best.pt"
    state = load_checkpoint(last_path) if last_path.exists() else None
    if state and state["epoch"] >= config["epochs"]:
        print(f"{run_dir}: already trained ({state['epoch']} epochs); delete it to train again")
        return summarise(state, run_dir)

    torch.manual_seed(config["seed"])
    device = pick_device(config["device"])
    bf16, channels_last = use_bf16(config, device), use_channels_last(config, device)
    print(f"profile {config['profile']}: bf16 {'on' if bf16 else 'off'}, "
          f"channels_last {'on' if channels_last else 'off'}, "
          f"{config['pipeline']} input pipeline")

    if arrays is None:
        arrays = load_arrays(config["data_dir"] or None, verbose=False)
    train_all = arrays.split("train")
    if config["max_per_class"]:
        train_all = train_all.per_class(config["max_per_class"])
    train_index, val_index = train_val_indices(train_all.labels, config["val_fraction"], config["seed"])
    mean, std = pixel_stats(train_all.images[train_index])
    model_cfg = model_config(config["stem"], config["in_channels"], config["input_size"], round(mean, 4), round(std, 4))

    model, init = build_model(config["stem"], config["in_channels"],
                              None if config["weights"] == "none" else config["weights"], config["on_missing_weights"])
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)

    images = torch.from_numpy(train_all.images).to(device)
    labels = torch.from_numpy(train_all.labels).to(device)
    train_on, val_on = torch.from_numpy(train_index).to(device), torch.from_numpy(val_index).to(device)
    train_images, train_labels = images[train_on], labels[train_on]
    val_images, val_labels = images[val_on], labels[val_on]
    weights = class_weights(train_all.labels[train_index]).to(device)
    sample_weights = weights[train_labels].float() if config["balance"] == "sampler" else None
    loss_weights = weights if config["balance"] == "loss" else None

    if config["pipeline"] == "reference":
        loader = reference_loader(config, model_cfg, train_index, config["seed"])
        steps_per_epoch = len(loader)
    else:
        steps_per_epoch = max(1, len(train_index) // config["batch_size"])
    schedule = make_schedule(optimizer, config, steps_per_epoch)
    generator = torch.Generator(device=device).manual_seed(config["seed"])

    history, best_acc, start_epoch, elapsed = [], -1.0, 0, 0.0
    if state:
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history, best_acc = state["history"], state["best_val_acc"]
        start_epoch, elapsed = state["epoch"], state["wall_s"]
        print(f"resuming {run_dir} at epoch {start_epoch + 1}")
    run_dir.mkdir(parents=True, exist_ok=True)
    step_fn = torch.compile(model) if config["compile"] else model
    info = {"init": init, "bf16": bf16, "channels_last": channels_last, "train_images": len(train_index),
            "val_images": len(val_index), "steps_per_epoch": steps_per_epoch}

    epochs = tqdm(range(start_epoch, config["epochs"]), desc="epochs", initial=start_epoch, total=config["epochs"],
                  disable=not progress)
    for epoch in epochs:
        started = time.perf_counter()
        model.train()
        if config["pipeline"] == "reference":
            loader.generator.manual_seed(config["seed"] + epoch)
            batches = ((x.to(device), y.to(device)) for x, y in loader)
        else:
            batches = fast_batches(train_images, train_labels, config, model_cfg, generator, sample_weights)
        seen, loss_sum, correct = 0, 0.0, 0
        for x, y in tqdm(batches, desc=f"epoch {epoch + 1}", total=steps_per_epoch, leave=False, disable=not progress):
            loss, hits = train_step(step_fn, optimizer, schedule, x, y, config, bf16, channels_last, generator,
                                    loss_weights)
            seen += len(y)
            loss_sum += loss * len(y)
            correct += hits
        val_loss, val_acc = evaluate(model, val_images, val_labels, model_cfg, bf16, channels_last)
        seconds = time.perf_counter() - started
        elapsed += seconds
        history.append({"epoch": epoch + 1, "train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1),
                        "val_loss": val_loss, "val_acc": val_acc, "lr": optimizer.param_groups[0]["lr"],
                        "seconds": seconds})
        epochs.set_postfix(val_acc=f"{val_acc:.3f}", train_acc=f"{history[-1]['train_acc']:.3f}")
        print(f"epoch {epoch + 1}/{config['epochs']}: train loss {history[-1]['train_loss']:.3f} "
              f"acc {history[-1]['train_acc']:.3f} | val loss {val_loss:.3f} acc {val_acc:.3f} | {seconds:.0f} s",
              flush=True)
        common = {"format": "fer-study/1", "model": model_cfg, "classes": list(EMOTIONS), "history": history,
                  "config": config, "info": info, "provenance": {**provenance(device, arrays.data_hash, config),
                                                                 "wall_s": elapsed}}
        if val_acc > best_acc:
            best_acc = val_acc
            save_checkpoint(best_path, {**common, "state_dict": model.state_dict(), "epoch": epoch + 1,
                                        "val_acc": val_acc})
        save_checkpoint(last_path, {**common, "state_dict": model.state_dict(), "epoch": epoch + 1,
                                    "optimizer": optimizer.state_dict(), "scheduler": schedule.state_dict(),
                                    "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
                                    "best_val_acc": best_acc, "wall_s": elapsed})
        (run_dir / "history.json").write_text(json.dumps(history, indent=1))
    return summarise(load_checkpoint(last_path), run_dir)


def summarise(state: dict, run_dir: Path, best_checkpoint: Path | None = None) -> dict:
    """What a run (or a shipped checkpoint) reports: best epoch and accuracy, history, wall time, provenance."""
    best = max(state["history"], key=lambda h: h["val_acc"])
    return {"run_dir": str(run_dir), "best_checkpoint": str(best_checkpoint or run_dir / "best.pt"),
            "best_epoch": best["epoch"], "best_val_acc": best["val_acc"], "epochs": len(state["history"]),
            "wall_s": state["provenance"]["wall_s"], "history": state["history"], "info": state["info"],
            "provenance": state["provenance"], "config": state["config"]}


def reference_run() -> dict:
    """The shipped reference model's training, summarised like a run (for evaluate-only reports)."""
    from .classifier import REFERENCE_CHECKPOINT

    return summarise(load_checkpoint(REFERENCE_CHECKPOINT), REFERENCE_CHECKPOINT.parent, REFERENCE_CHECKPOINT)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", help="configs/<name>.yaml (smoke, cpu, full, seed)")
    parser.add_argument("--device", help="auto, cuda, mps or cpu (overrides the profile)")
    parser.add_argument("--runs-dir", type=Path, default=RUNS_DIR)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help=f"override options: {', '.join(DEFAULTS)}")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bars (for logs)")
    args = parser.parse_args(argv)
    overrides = parse_pairs(args.set)
    if args.device:
        overrides["device"] = args.device
    result = train(args.profile, overrides, args.runs_dir, progress=not args.no_progress)
    print(json.dumps({k: v for k, v in result.items() if k not in ("history", "config")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
