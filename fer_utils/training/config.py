"""Configuration: the typed, checked training options, the profiles in ``configs/`` that the notebooks and the CLIs
share, and command-line ``key=value`` pairs. A wrong value or an unknown key is an error, never a silent change of
what trains.

A profile holds training options at its top level and, under ``notebooks:``, parameters that only notebooks use
(``fer_utils.report.pipeline`` checks those against the notebooks' parameters cells); training never reads the
notebooks.
"""

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal, get_args, get_origin

import yaml

from ..paths import CONFIG_DIR


class ConfigError(ValueError):
    """An option, profile key or override that is unknown or has a wrong value; the message names the allowed ones."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what ``fer_utils.training.train`` trains. Each field's type is checked on construction; a
    ``Literal`` lists the allowed values."""

    profile: str = "custom"  # the profile these options came from; names the run folder runs/<profile>/
    data_dir: str = ""  # FER2013 folder; empty means data/fer2013
    max_per_class: int = 0  # images per class and split; 0 keeps all
    val_fraction: float = 0.1  # share of train held out to choose the checkpoint and its test-time views
    clean: bool = False  # leave out blank training images and duplicate groups whose copies disagree on the label
    seed: int = 0  # seed of the split, the initialisation and the augmentation
    device: Literal["auto", "cuda", "mps", "cpu"] = "auto"
    stem: Literal["imagenet", "fer", "fer-nopool"] = "fer"
    in_channels: Literal[1, 3] = 1
    input_size: int = 48  # side of the model's input
    small_input: int = 0  # side of the input early in training (progressive resizing: cheaper steps); 0 turns it off
    small_share: float = 0.5  # share of training, by the schedule's progress, at small_input
    weights: Literal["none", "imagenet"] = "none"  # imagenet: torchvision's where at hand, else random and a warning
    epochs: int = 30  # with a time budget (minutes), the most epochs it may take
    minutes: float = 0.0  # time budget of training; the schedule follows the time spent and training stops when it is
    # spent (what a CPU buys in a fixed time, whatever its speed that day); 0 means a fixed number of epochs
    batch_size: int = 128
    optimizer: Literal["sgd", "adam"] = "sgd"  # sgd is Nesterov SGD
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: Literal["none", "cosine", "onecycle"] = "onecycle"
    label_smoothing: float = 0.1
    mixup: float = 0.0  # mixup alpha; 0 turns it off
    balance: Literal["none", "loss", "sampler"] = "none"  # class-weighted loss or class-balanced sampling
    labels: Literal["fer2013", "ferplus"] = "fer2013"  # the training targets: FER2013's labels, or FER+'s ten votes as
    # distributions (FER+'s "probability" mode; an image whose votes FER+ discards keeps its FER2013 label)
    flip: float = 0.5  # probability of a mirror image
    rotation: float = 10.0  # degrees, either way
    translate: float = 0.1  # fraction of the side, either way
    scale: float = 0.1  # zoom, +- fraction
    erasing: float = 0.25  # probability of one erased rectangle
    ema: float = 0.0  # decay of an exponential moving average of the weights, which is then evaluated; 0 turns it off
    tta: Literal["auto", "none", "flip", "ten-crop"] = "auto"  # the checkpoint's test-time views; auto: best on val
    amp: Literal["auto", "bf16", "off"] = "auto"  # auto: bf16 on CUDA and on CPUs with native bf16
    channels_last: Literal["auto", "on", "off"] = "auto"  # auto: on CUDA and on CPUs

    def __post_init__(self):
        for field in fields(self):
            check_value(field.name, getattr(self, field.name), field.type)
        positive = ("epochs", "batch_size", "input_size", "lr")
        if self.minutes < 0:
            raise ConfigError(f"minutes must be 0 (no time budget) or positive, got {self.minutes!r}")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"val_fraction is the share of train held out to choose the checkpoint and its views, "
                              f"and must lie in (0, 1), got {self.val_fraction!r}")
        for name in ("erasing", "label_smoothing", "ema", "small_share"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} must lie in [0, 1), got {getattr(self, name)!r}")
        if not 0 <= self.flip <= 1:
            raise ConfigError(f"flip is a probability and must lie in [0, 1], got {self.flip!r}")
        if self.small_input and not 8 <= self.small_input < self.input_size:
            raise ConfigError(f"small_input must be 0 (off) or from 8 up to below input_size {self.input_size}, "
                              f"got {self.small_input}")

    def as_dict(self) -> dict:
        return asdict(self)


def check_value(name: str, value, annotation) -> None:
    """Raise ConfigError unless ``value`` fits ``annotation`` (a Literal, bool, int, float or str)."""
    if get_origin(annotation) is Literal:
        allowed = get_args(annotation)
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            raise ConfigError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")
        return
    accepted = (int, float) if annotation is float else annotation
    if isinstance(value, bool) and annotation is not bool or not isinstance(value, accepted):
        raise ConfigError(f"{name} must be of type {annotation.__name__}, got {value!r} ({type(value).__name__})")


TRAINING_OPTIONS = tuple(field.name for field in fields(TrainConfig))


def profile_path(name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise FileNotFoundError(f"No profile {name!r}: expected {path}. Known profiles: {known}.")
    return path


NOTEBOOK_SECTION = "notebooks"  # a profile's parameters for the notebooks alone


def load_profile(name: str) -> dict:
    """The profile ``name`` (a name in ``configs/`` or a path to a YAML file): its training options, checked, and
    its ``notebooks`` section as it stands (the pipeline checks that against the notebooks)."""
    path = profile_path(name)
    params = yaml.safe_load(path.read_text()) or {}
    notebook_params = params.get(NOTEBOOK_SECTION, {})
    if not isinstance(notebook_params, dict):
        raise ConfigError(f"{path}: {NOTEBOOK_SECTION} must be a mapping of notebook parameters, got "
                          f"{notebook_params!r}")
    unknown = sorted(set(params) - set(TRAINING_OPTIONS) - {NOTEBOOK_SECTION})
    if unknown:
        raise ConfigError(f"{path} sets {', '.join(unknown)}, which are not training options. Training options: "
                          f"{', '.join(TRAINING_OPTIONS)}; parameters for the notebooks alone go under "
                          f"{NOTEBOOK_SECTION}:.")
    return params


def training_config(profile: str | None = None, overrides: dict | None = None) -> TrainConfig:
    """TrainConfig defaults, then the training keys of a profile, then overrides (training options only)."""
    values = {k: v for k, v in (load_profile(profile) if profile else {}).items() if k != NOTEBOOK_SECTION}
    unknown = sorted(set(overrides or {}) - set(TRAINING_OPTIONS))
    if unknown:
        raise ConfigError(f"unknown training options {', '.join(unknown)}; known: {', '.join(TRAINING_OPTIONS)}")
    return TrainConfig(**{**values, **(overrides or {}), "profile": profile or "custom"})


def default_profile() -> str:
    """``full`` on a GPU (CUDA or MPS), ``cpu`` otherwise."""
    from ..device import pick_device

    return "cpu" if pick_device("auto", verbose=False).type == "cpu" else "full"


def parse_pairs(pairs: list[str], flag: str = "--set") -> dict:
    """Command-line ``key=value`` pairs; values parsed as JSON where possible (numbers, booleans), else strings."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"{flag} expects key=value, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out
