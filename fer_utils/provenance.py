"""Provenance: which code, packages, device and files produced a result."""

import hashlib
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

from .paths import ROOT


def git_commit() -> str:
    """The checkout's short commit, or "unknown" outside git."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def file_sha256(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def versions() -> dict:
    """The versions of Python, fer_utils, torch and torchvision."""
    import torch
    import torchvision

    try:
        ours = importlib.metadata.version("fer-study")
    except importlib.metadata.PackageNotFoundError:  # a checkout on sys.path instead of installed
        ours = "unknown"
    return {"fer_utils": ours, "python": platform.python_version(), "torch": str(torch.__version__),
            "torchvision": str(torchvision.__version__)}


def cpu_description() -> str:
    """The processor's model name and how many cores this process may use, e.g. "Intel Xeon ... (2 cores)"."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name} ({cores} cores)"
