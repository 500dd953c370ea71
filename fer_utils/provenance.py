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


# The widest vector instructions a CPU has, by its /proc/cpuinfo flags, widest first: the same model name covers
# CPUs with and without them (an "AMD EPYC" here had AVX2 only on one machine and AVX-512 with bf16 on another)
VECTOR_UNITS = (("amx_tile", "AMX"), ("avx512_bf16", "AVX-512 with bf16"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))


def cpu_description(cpuinfo: str | None = None) -> str:
    """The processor's model name, how many cores this process may use and its widest vector instructions, e.g.
    "AMD EPYC (2 cores, AVX2)", from ``cpuinfo`` (the text of /proc/cpuinfo, read where not given)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    first = cpuinfo.split("\n\n")[0]  # the first processor's block
    fields = dict(line.split(":", 1) for line in first.splitlines() if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    name = fields.get("model name") or platform.processor() or platform.machine()
    flags = set(fields.get("flags", "").split())
    units = [unit for flag, unit in VECTOR_UNITS if flag in flags][:1]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name} ({', '.join([f'{cores} cores', *units])})"
