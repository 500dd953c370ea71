"""FER2013: obtain it, verify it, and load it once as fast uint8 arrays."""

import csv
import hashlib
import os
import shutil
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..labels import EMOTIONS
from ..paths import DATA_DIR

IMAGE_SIZE = 48
FULL_COUNTS = {"train": 28709, "test": 7178}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")  # what the dataset and the demo read
CSV_EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # fer2013.csv label ids
CSV_USAGE_SPLIT = {"Training": "train", "PublicTest": "test", "PrivateTest": "test"}
KAGGLE_DATASET = "msambare/fer2013"
DEFAULT_DIR = DATA_DIR / "fer2013"


class DatasetError(RuntimeError):
    """FER2013 is missing or not in the expected form; the message says how to fix it."""


# --------------------------------------------------------------------------- obtaining


def how_to_get_it(dest: Path) -> str:
    return (
        "Get FER2013 in one of four ways:\n"
        f"  1. a folder in Kaggle layout (train/<class>/*.jpg, test/<class>/*.jpg) at {dest}, "
        "or named by FER2013_DIR;\n"
        f"  2. Kaggle's zip archive, named by FER2013_ZIP (e.g. make data FER2013_ZIP=~/Downloads/fer2013.zip) "
        f"or placed at {dest.parent / 'fer2013.zip'};\n"
        f"  3. the original challenge CSV (emotion,pixels,Usage), named by FER2013_CSV or placed at "
        f"{dest.parent / 'fer2013.csv'};\n"
        f"  4. a download of {KAGGLE_DATASET} with kagglehub, once Kaggle credentials are set "
        "(KAGGLE_USERNAME and KAGGLE_KEY, or ~/.kaggle/kaggle.json)."
    )


def is_kaggle_layout(folder: Path) -> bool:
    return (Path(folder) / "train").is_dir() and (Path(folder) / "test").is_dir()


def check_layout(folder: Path) -> None:
    """Raise DatasetError unless ``folder`` has train/ and test/ with the seven non-empty class folders."""
    folder = Path(folder)
    problems = []
    for split in ("train", "test"):
        if not (folder / split).is_dir():
            problems.append(f"missing folder {folder / split}")
            continue
        present = sorted(p.name for p in (folder / split).iterdir() if p.is_dir())
        for name in EMOTIONS:
            class_dir = folder / split / name
            if not class_dir.is_dir():
                problems.append(f"missing class folder {class_dir}")
            elif not any(p.suffix.lower() in IMAGE_SUFFIXES for p in class_dir.iterdir()):
                problems.append(f"empty class folder {class_dir} (no {'/'.join(IMAGE_SUFFIXES)} images)")
        extra = sorted(set(present) - set(EMOTIONS))
        if extra:
            problems.append(f"unexpected folders in {folder / split}: {', '.join(extra)}")
    if problems:
        raise DatasetError(
            f"{folder} is not FER2013 in Kaggle layout:\n  - " + "\n  - ".join(problems)
            + f"\nExpected train/ and test/, each with the folders {', '.join(EMOTIONS)}."
        )


def _staging_dir(dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))


def _publish(staging: Path, dest: Path) -> Path:
    """Check the staged copy, then move it into place in one rename."""
    try:
        check_layout(staging)
    except DatasetError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    staging.rename(dest)
    return dest


def extract_zip(archive: Path, dest: Path) -> Path:
    """Unpack Kaggle's FER2013 zip (train/ and test/ at the top, or under one folder) into ``dest``."""
    archive = Path(archive)
    if not archive.is_file():
        raise DatasetError(f"FER2013 archive not found: {archive}.\n" + how_to_get_it(dest))
    try:
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise DatasetError(f"{archive} is corrupt: member {bad} fails its CRC check. Download it again.")
            members = [m for m in zf.namelist() if Path(m).suffix.lower() in IMAGE_SUFFIXES]
            prefix = _layout_prefix(members)
            if prefix is None:
                sample = ", ".join(zf.namelist()[:5]) or "nothing"
                raise DatasetError(
                    f"{archive} does not hold FER2013 in Kaggle layout (train/<class>/*.jpg, test/<class>/*.jpg); "
                    f"it starts with: {sample}. Use Kaggle's {KAGGLE_DATASET} archive."
                )
            staging = _staging_dir(dest)
            for member in members:
                if not member.startswith(prefix):
                    continue
                target = staging / member[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(member))
    except zipfile.BadZipFile as err:
        raise DatasetError(f"{archive} is not a readable zip archive ({err}). Download it again.") from err
    print(f"extracted {len(members):,} images from {archive} to {dest}")
    return _publish(staging, dest)


def _layout_prefix(members: list[str]) -> str | None:
    """The folder above train/ and test/ in an archive ('' at the top), or None if they are absent."""
    for member in members:
        parts = member.split("/")
        if len(parts) >= 3 and parts[-3] in ("train", "test") and parts[-2] in EMOTIONS:
            return "/".join(parts[:-3]) + ("/" if len(parts) > 3 else "")
    return None


def convert_csv(csv_path: Path, dest: Path) -> Path:
    """Write the challenge's ``fer2013.csv`` (emotion,pixels,Usage) as PNG files in Kaggle layout."""
    csv_path = Path(csv_path)
    staging = _staging_dir(dest)
    try:
        with open(csv_path, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or [])
            if missing:
                raise DatasetError(f"{csv_path} lacks the columns {sorted(missing)}; expected emotion,pixels,Usage.")
            for row_number, row in enumerate(reader, start=2):
                try:
                    label = CSV_EMOTIONS[int(row["emotion"])]
                    pixels = np.array(row["pixels"].split(), dtype=np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE)
                    split = CSV_USAGE_SPLIT[row["Usage"]]
                except (ValueError, IndexError, KeyError) as err:
                    raise DatasetError(f"{csv_path}, line {row_number}: not a valid FER2013 row ({err}).") from err
                target = staging / split / label / f"{row['Usage']}_{row_number - 2:05d}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(target), pixels)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(f"converted {csv_path} to {dest}")
    return _publish(staging, dest)


def has_kaggle_credentials() -> bool:
    env = os.environ
    return bool(env.get("KAGGLE_USERNAME") and env.get("KAGGLE_KEY")) or (
        Path.home() / ".kaggle" / "kaggle.json"
    ).is_file()


def download_kaggle(dest: Path) -> Path:
    """Download Kaggle's msambare/fer2013 with kagglehub and copy it into ``dest``."""
    import kagglehub

    downloaded = Path(kagglehub.dataset_download(KAGGLE_DATASET))
    root = next((p for p in [downloaded, *downloaded.rglob("*")] if p.is_dir() and is_kaggle_layout(p)), None)
    if root is None:
        raise DatasetError(f"kagglehub downloaded {downloaded}, but it holds no train/ and test/ folders.")
    staging = _staging_dir(dest)
    staging.rmdir()
    shutil.copytree(root, staging)
    return _publish(staging, dest)


def ensure_fer2013(dest: Path | str | None = None) -> Path:
    """Return a verified FER2013 folder in Kaggle layout, obtaining it from the first source that exists.

    Sources, in order: a folder (``dest`` or ``FER2013_DIR``), a zip (``FER2013_ZIP`` or ``data/fer2013.zip``),
    the challenge CSV (``FER2013_CSV`` or ``data/fer2013.csv``), and a kagglehub download.
    """
    dest = Path(dest) if dest else DEFAULT_DIR
    if dest.exists() and any(dest.iterdir()):
        check_layout(dest)
        return dest
    if os.environ.get("FER2013_DIR"):
        folder = Path(os.environ["FER2013_DIR"]).expanduser()
        check_layout(folder)
        return folder
    archive = Path(os.environ.get("FER2013_ZIP") or dest.parent / "fer2013.zip").expanduser()
    if archive.exists() or os.environ.get("FER2013_ZIP"):
        return extract_zip(archive, dest)
    table = Path(os.environ.get("FER2013_CSV") or dest.parent / "fer2013.csv").expanduser()
    if table.exists():
        return convert_csv(table, dest)
    if has_kaggle_credentials():
        return download_kaggle(dest)
    raise DatasetError(f"FER2013 was not found.\n{how_to_get_it(dest)}")


# --------------------------------------------------------------------------- arrays


@dataclass
class FERArrays:
    """FER2013 decoded once: images (N,48,48) uint8, labels (N,), split and file name of each, content hash."""

    images: np.ndarray
    labels: np.ndarray
    splits: np.ndarray
    names: np.ndarray
    data_hash: str

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index) -> "FERArrays":
        return FERArrays(self.images[index], self.labels[index], self.splits[index], self.names[index], self.data_hash)

    def split(self, *names: str) -> "FERArrays":
        """The images of the given splits: "train", "PublicTest", "PrivateTest" (or "test" for both)."""
        wanted = {"PublicTest", "PrivateTest"} if names == ("test",) else set(names)
        return self.subset(np.isin(self.splits, list(wanted)))

    def per_class(self, limit: int) -> "FERArrays":
        """At most ``limit`` images of each class in each split, in file order (for smoke runs)."""
        keep = np.zeros(len(self), bool)
        for split in np.unique(self.splits):
            for label in range(len(EMOTIONS)):
                keep[np.flatnonzero((self.splits == split) & (self.labels == label))[:limit]] = True
        return self.subset(keep)


def split_of(folder_split: str, file_name: str) -> str:
    """train, PublicTest or PrivateTest, from the file name (test files without a prefix count as PublicTest)."""
    if folder_split == "train":
        return "train"
    return "PrivateTest" if file_name.startswith("PrivateTest") else "PublicTest"


def list_images(folder: Path) -> list[tuple[str, int, str]]:
    """(relative path, label, split) for every image, in a fixed order."""
    entries = []
    for folder_split in ("train", "test"):
        for label, name in enumerate(EMOTIONS):
            for path in sorted((folder / folder_split / name).iterdir()):
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    entries.append((f"{folder_split}/{name}/{path.name}", label, split_of(folder_split, path.name)))
    return entries


def _decode(rel: str, data: bytes, problems: list[str]) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        problems.append(f"{rel}: cannot be decoded as an image")
        return np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    if image.ndim == 3:
        warnings.warn(f"{rel}: has {image.shape[2]} channels, not grayscale; converted to gray", stacklevel=3)
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    if image.shape != (IMAGE_SIZE, IMAGE_SIZE):
        problems.append(f"{rel}: is {image.shape[1]}x{image.shape[0]}, not {IMAGE_SIZE}x{IMAGE_SIZE}")
        return np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    return image.astype(np.uint8, copy=False)


def load_arrays(folder: Path | str | None = None, cache_dir: Path | str | None = None,
                verbose: bool = True) -> FERArrays:
    """Decode the folder to arrays once; later calls load them from a cache keyed by the files' content hash.

    The content hash is remembered under a key made of the files' names, sizes and modification times, so a later
    call reads the cache without reading the 35,887 files again; a changed, added or removed file changes the key,
    and the files are read and hashed anew."""
    folder = ensure_fer2013(folder)
    check_layout(folder)
    entries = list_images(folder)
    cache = Path(cache_dir) if cache_dir else folder.parent / "cache"
    listing = cache / f"fer2013-files-{files_key(folder, entries)}.txt"
    data_hash = listing.read_text().strip() if listing.exists() else ""
    cache_file = cache / f"fer2013-{data_hash}.npz"
    if not (data_hash and cache_file.exists()):
        contents = [(folder / rel).read_bytes() for rel, _, _ in entries]
        data_hash = content_hash(entries, contents)
        cache_file = cache / f"fer2013-{data_hash}.npz"
    cache.mkdir(parents=True, exist_ok=True)
    if cache_file.exists():
        with np.load(cache_file) as saved:
            arrays = FERArrays(saved["images"], saved["labels"], saved["splits"], saved["names"], data_hash)
    else:
        arrays = decode(folder, entries, contents, data_hash)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp.npz")  # processes that decode at once never share it
        np.savez(tmp, images=arrays.images, labels=arrays.labels, splits=arrays.splits, names=arrays.names)
        tmp.replace(cache_file)
    if not listing.exists():
        tmp = listing.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(data_hash)
        tmp.replace(listing)
    _check_counts(arrays, folder, verbose)
    return arrays


def files_key(folder: Path, entries: list[tuple[str, int, str]]) -> str:
    """A hash of the files' relative paths, sizes and modification times: cheap, and changed by any edit."""
    hasher = hashlib.blake2b(digest_size=16)
    for rel, _, _ in entries:
        stat = (folder / rel).stat()
        hasher.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return hasher.hexdigest()


def content_hash(entries: list[tuple[str, int, str]], contents: list[bytes]) -> str:
    """The data hash that checkpoints and reports record: the files' relative paths and bytes."""
    hasher = hashlib.blake2b(digest_size=16)
    for (rel, _, _), data in zip(entries, contents):
        hasher.update(rel.encode() + b"\0" + data)
    return hasher.hexdigest()


def decode(folder: Path, entries: list[tuple[str, int, str]], contents: list[bytes], data_hash: str) -> FERArrays:
    """Decode every file, or raise DatasetError naming the unusable ones."""
    problems: list[str] = []
    images = np.stack([_decode(rel, data, problems) for (rel, _, _), data in zip(entries, contents)])
    if problems:
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        shown = "\n  - ".join(problems[:10]) + more
        raise DatasetError(
            f"{len(problems)} image(s) in {folder} are unusable:\n  - {shown}\n"
            f"Every FER2013 image is a {IMAGE_SIZE}x{IMAGE_SIZE} grayscale JPEG: replace or remove these files."
        )
    return FERArrays(
        images,
        np.array([label for _, label, _ in entries], np.int64),
        np.array([split for _, _, split in entries]),
        np.array([rel for rel, _, _ in entries]),
        data_hash,
    )


def _check_counts(arrays: FERArrays, folder: Path, verbose: bool) -> None:
    counts = {"train": int((arrays.splits == "train").sum()), "test": int((arrays.splits != "train").sum())}
    if counts != FULL_COUNTS:
        warnings.warn(
            f"{folder} holds a subset of FER2013: {counts['train']:,} train and {counts['test']:,} test images "
            f"(the full set has {FULL_COUNTS['train']:,} and {FULL_COUNTS['test']:,}).",
            stacklevel=3,
        )
    elif verbose:
        print(f"FER2013 at {folder}: {counts['train']:,} train, {counts['test']:,} test images, "
              f"hash {arrays.data_hash}")


def train_val_indices(labels: np.ndarray, val_fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded, stratified split of training indices into (train, validation); the test set plays no part."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels))
    counts = np.bincount(labels)
    can_stratify = counts[counts > 0].min() >= 2 and round(val_fraction * len(labels)) >= (counts > 0).sum()
    stratify = labels if can_stratify else None
    train, val = train_test_split(index, test_size=val_fraction, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(val)


def pixel_stats(images: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the pixels scaled to [0, 1]: the normalisation that training uses."""
    return float(images.mean(dtype=np.float64) / 255.0), float(images.std(dtype=np.float64) / 255.0)
