"""Checkpoints: written atomically, read with ``weights_only=True``, checked to be one of ours."""

import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import torch

from ..labels import EMOTIONS

FORMAT = "fer-study/1"


class CheckpointError(RuntimeError):
    """A file that is not a usable fer-study checkpoint; the message says why and what to do."""


def save_checkpoint(path: Path | str, payload: dict) -> None:
    """Write to a temporary file in the same folder, then rename: a crash never leaves half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(handle)
    try:
        torch.save(payload, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a checkpoint is shared like any other output
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_checkpoint(path: Path | str, map_location="cpu") -> dict:
    """Load a checkpoint written by fer_utils.training.train, or raise CheckpointError saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}. Train one (notebook 02 or "
                              "python -m fer_utils.training.train).")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError) as err:
        raise CheckpointError(
            f"{path} cannot be read as a PyTorch checkpoint ({type(err).__name__}: {str(err)[:200]}). "
            "It is corrupt or not a checkpoint: train again or restore the file."
        ) from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        keys = ", ".join(list(state)[:6]) if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(
            f"{path} is not a fer-study checkpoint (format {FORMAT!r} expected; found {keys}). "
            "Load checkpoints written by fer_utils.training.train."
        )
    if state.get("model", {}).get("arch") != "resnet18" or tuple(state.get("classes", ())) != EMOTIONS:
        raise CheckpointError(
            f"{path} holds a {state.get('model', {}).get('arch')} model for classes {state.get('classes')}; "
            f"this project expects resnet18 over {list(EMOTIONS)}."
        )
    return state
