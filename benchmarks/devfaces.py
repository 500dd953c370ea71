"""The development set of real photos and videos with faces in context (``paths.devfaces_dir()``, its README gives
sources, licences and how the faces were counted by eye): its manifest, read where the set is present."""

import csv
from dataclasses import dataclass
from pathlib import Path

from fer_utils.paths import devfaces_dir


@dataclass
class DevFile:
    path: Path
    kind: str  # image or video
    faces: int  # counted by eye (for a video: the typical number per frame)
    exact: bool  # every face could be counted
    smallest_face_px: int
    notes: str


def devfaces(kind: str | None = None, folder: Path | str | None = None) -> list[DevFile]:
    """The set's files (of one ``kind``, if given); empty where the set is absent."""
    folder = Path(folder) if folder else devfaces_dir()
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        return []
    with manifest.open(newline="") as f:
        rows = list(csv.DictReader(f))
    files = [DevFile(folder / row["file"], row["kind"], int(row["faces_counted"]), row["count_exact"] == "yes",
                     int(row["smallest_face_px"] or 0), row["notes"]) for row in rows]
    return [f for f in files if kind is None or f.kind == kind]
