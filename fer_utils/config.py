"""Profiles: flat ``configs/<name>.yaml`` files shared by the notebooks and the CLIs."""

import json
from pathlib import Path

from .paths import CONFIG_DIR


def _parse_flat_yaml(text: str) -> dict:
    """Read ``key: value  # comment`` lines, for machines without PyYAML."""
    params = {}
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        try:
            params[key.strip()] = json.loads(value.replace("'", '"')) if value not in ("", "null") else None
        except json.JSONDecodeError:
            params[key.strip()] = value.strip("\"'")
    return params


def profile_path(name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise FileNotFoundError(f"No profile {name!r}: expected {path}. Known profiles: {known}.")
    return path


def load_profile(name: str) -> dict:
    """The parameters of profile ``name`` (a name in ``configs/`` or a path to a YAML file)."""
    text = profile_path(name).read_text()
    try:
        import yaml
    except ImportError:
        return _parse_flat_yaml(text)
    return yaml.safe_load(text) or {}


def default_profile() -> str:
    """``full`` on a GPU (CUDA or MPS), ``cpu`` otherwise."""
    from .device import pick_device

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
