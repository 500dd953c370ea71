"""Device choice: CUDA, then Apple MPS, then CPU, unless one is forced."""

import torch


def pick_device(device: str = "auto", verbose: bool = True) -> torch.device:
    """Return the requested device, or the best available one for ``"auto"``."""
    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    chosen = torch.device(device)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was requested but CUDA is not available; use device='auto' or 'cpu'.")
    if chosen.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("device='mps' was requested but MPS is not available; use device='auto' or 'cpu'.")
    if verbose:
        print(f"device: {describe_device(chosen)}")
    return chosen


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads, bf16 {'yes' if cpu_has_bf16() else 'no'})"
    return device.type


def native_bf16(device: torch.device) -> bool:
    """True where bf16 compute is native: CUDA, and CPUs with AVX512-BF16 or AMX (what ``auto`` turns bf16 autocast
    and channels-last memory on for)."""
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16())


def cpu_has_bf16() -> bool:
    """True when the CPU has native bf16 matmul (AVX512-BF16 or AMX)."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
