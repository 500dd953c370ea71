"""Logits computed once per checkpoint, image set and view, kept on disk: the evaluation notebooks ask for the same
predictions again (the test set in 03 and 04, the training images for the train accuracy and the label-noise scan),
and a rerun of the report asks for all of them.

A file's key is the checkpoint's hash and the engine that computed it (its folder), and the hash of the image set's
pixels and the view (its name), so a changed checkpoint, face or view never reads stale logits."""

import hashlib
import os
from pathlib import Path

import numpy as np


def faces_hash(faces: np.ndarray) -> str:
    """A short hash of a uint8 image set: its shape and pixels."""
    digest = hashlib.sha256(str(faces.shape).encode())
    digest.update(np.ascontiguousarray(faces).data)
    return digest.hexdigest()[:16]


class LogitCache:
    """Per-view logits of image sets for one checkpoint and engine, as .npy files under ``folder``."""

    def __init__(self, folder: Path | str, checkpoint_hash: str, engine: str):
        self.folder = Path(folder) / f"{checkpoint_hash[:16]}-{engine}"

    def path(self, key: str, view: str) -> Path:
        return self.folder / key / f"{view.replace(' ', '-')}.npy"

    def load(self, faces: np.ndarray, views) -> dict[str, np.ndarray]:
        """{view: logits} for the views of ``faces`` already on disk."""
        key = faces_hash(faces)
        found = {}
        for view in views:
            path = self.path(key, view)
            if path.is_file():
                logits = np.load(path)
                if logits.shape[0] == len(faces):
                    found[view] = logits
        return found

    def save(self, faces: np.ndarray, per_view: dict[str, np.ndarray]) -> None:
        key = faces_hash(faces)
        for view, logits in per_view.items():
            path = self.path(key, view)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
            np.save(tmp, np.asarray(logits, np.float32))
            tmp.replace(path)  # a reader never sees half a file
