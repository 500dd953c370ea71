"""Run folders and their checkpoints (as timm's CheckpointSaver keeps them): runs/<profile>/ holds last.pt (all that
a resume needs) and best.pt (the weights with the best validation accuracy), both written atomically every epoch
with the history, the configuration and provenance; a summary of a finished run for the notebooks and the CLIs."""

import json
import shutil
import time
from pathlib import Path

import torch

from ..device import describe_device
from ..labels import EMOTIONS
from ..model.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from ..provenance import git_commit, versions
from .config import ConfigError, TrainConfig
from .distributed import Ranks


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


def provenance(device: torch.device, data_hash: str, config: TrainConfig, wall_s: float) -> dict:
    return {"git_commit": git_commit(), **versions(), "device": describe_device(device), "data_hash": data_hash,
            "profile": config.profile, "wall_s": wall_s}


def epoch_record(model_cfg: dict, config: TrainConfig, info: dict, history: list, origin: dict) -> dict:
    """What both checkpoints of an epoch hold besides weights."""
    return {"format": FORMAT, "model": model_cfg, "classes": list(EMOTIONS), "history": history,
            "config": config.as_dict(), "info": info, "epoch": history[-1]["epoch"], "provenance": origin}


def save_checkpoints(run_dir: Path, common: dict, weights: dict, resume: dict, improved: bool) -> None:
    """last.pt (everything needed to resume) every epoch, best.pt when validation accuracy improved."""
    if improved:
        save_checkpoint(run_dir / "best.pt", {**common, "state_dict": weights})
    save_checkpoint(run_dir / "last.pt", {**common, "state_dict": weights, **resume})
    (run_dir / "history.json").write_text(json.dumps(common["history"], indent=1))


def resume_state(model, optimizer, schedule, ema, generators: list, ranks: Ranks, best_acc: float,
                 wall_s: float) -> dict:
    """What last.pt adds to resume exactly: the raw weights, optimiser, schedule, every random stream."""
    return {"train_state_dict": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": schedule.state_dict(), "generators": generators,
            **({"order_generator": ranks.order.get_state()} if ranks.order is not None else {}),
            "torch_rng": torch.get_rng_state(), "best_val_acc": best_acc, "wall_s": wall_s,
            **({"ema": ema.state_dict()} if ema is not None else {})}


def restore(state: dict, model, optimizer, schedule, ema, generator: torch.Generator,
            ranks: Ranks) -> tuple[list, float, int, float]:
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


def record_finish(run_dir: Path, tta: str, tta_val_acc: dict, wall_s: float) -> dict:
    """Record the chosen test-time views (and the training time, now final) in best.pt and last.pt, and mark the run
    finished. Returns the finished last.pt."""
    best = load_checkpoint(run_dir / "best.pt")
    finished = {"tta": tta, "tta_val_acc": tta_val_acc, "provenance": {**best["provenance"], "wall_s": wall_s}}
    save_checkpoint(run_dir / "best.pt", {**best, **finished})
    last = {**load_checkpoint(run_dir / "last.pt"), **finished, "finished": True}
    save_checkpoint(run_dir / "last.pt", last)
    return last


def summarise(state: dict, run_dir: Path, best_checkpoint: Path | None = None) -> dict:
    """What a run (or a shipped checkpoint) reports: best epoch and accuracy, history, wall time, provenance."""
    best = max(state["history"], key=lambda h: h["val_acc"])
    return {"run_dir": str(run_dir), "best_checkpoint": str(best_checkpoint or run_dir / "best.pt"),
            "best_epoch": best["epoch"], "best_val_acc": best["val_acc"], "epochs": len(state["history"]),
            "wall_s": state["provenance"]["wall_s"], "history": state["history"], "info": state["info"],
            "provenance": state["provenance"], "config": state["config"], "tta": state.get("tta", "none"),
            "tta_val_acc": state.get("tta_val_acc", {})}
