"""FER+ (Barsoum et al., ICMI 2016; microsoft/FERPlus, MIT): ten annotators' votes on every FER2013 image, FER+'s
majority rule and vote distributions, and the join that gives the project's FER2013 images their FER+ rows.

Kaggle's copy of FER2013 names its images by random ids and stores JPEGs, so only pixels join it to FER+. The join
ships in ``ferplus/`` beside the votes, keyed by the image set's content hash; ``votes_for`` reads it. Images
converted from the challenge's ``fer2013.csv`` carry their row in their name and need no join.

    python -m fer_utils.data.ferplus --images ../shared/data/ferplus/ferplus-images.zip
"""

import argparse
import csv
import json
import re
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import torch

from ..labels import EMOTIONS
from ..paths import ROOT
from .fer2013 import FERArrays, load_arrays

FERPLUS_DIR = ROOT / "ferplus"  # the votes (fer2013new.csv), their licence and the joins, shipped
VOTES_CSV = FERPLUS_DIR / "fer2013new.csv"
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown",
                "NF")  # fer2013new.csv's vote columns, in its order (read_votes checks them): FER+'s, not a choice
SEVEN = [EMOTIONS.index(name) for name in ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear")]
NO_LABEL = -1  # no FER+ majority: the annotators split, or FER+ has no image of it
OUTSIDE = -2  # a FER+ majority outside the seven classes: contempt, unknown or not a face
FOLDER_USAGE = {"FER2013Train": "Training", "FER2013Valid": "PublicTest", "FER2013Test": "PrivateTest"}
SPLIT_USAGE = {"train": "Training", "PublicTest": "PublicTest", "PrivateTest": "PrivateTest"}
MATCH_RMS = 6.0  # grey levels: every match of Kaggle's copy lies within 2.02 (JPEG's error), every image left
# unmatched 12.5 or more from its nearest FER+ image (ferplus/join-*.json: rms_percentiles, nearest_rms_unmatched)
MIN_COVERAGE = 0.99  # share of the images with a FER+ image that a join must match


class FERPlusMissing(LookupError):
    """No FER+ votes for these images; the message says why in one line."""


class JoinError(RuntimeError):
    """The images do not match FER+'s: not FER2013, or altered; nothing was written."""


# --------------------------------------------------------------------------- votes and FER+'s rules


def read_votes(path: Path | str = VOTES_CSV) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FER+'s ``fer2013new.csv``, a row for each row of ``fer2013.csv``: its usage (Training, PublicTest,
    PrivateTest), the name of its FER+ image (empty where FER+ found no face; the names count images, not rows) and
    its ten vote counts."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if tuple(rows[0][2:]) != VOTE_COLUMNS:
        raise ValueError(f"{path} is not FER+'s fer2013new.csv: its columns are {rows[0]}")
    table = np.array(rows[1:])
    return table[:, 0], table[:, 1], table[:, 2:].astype(np.int64)


def _drop_single_votes(votes: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(votes) <= 1, 0, votes)


def majority(votes: np.ndarray) -> np.ndarray:
    """FER+'s majority labels, in the order of ``EMOTIONS``: single votes are dropped, and the top emotion needs more
    than half of the rest. ``NO_LABEL`` where none has (and where a row has no votes), ``OUTSIDE`` where the top is
    contempt, unknown or not a face."""
    kept = _drop_single_votes(np.atleast_2d(votes))
    top = kept.argmax(1)
    return np.where(kept.max(1) * 2 > kept.sum(1), np.array(SEVEN + [OUTSIDE] * 3)[top], NO_LABEL)


def distributions(votes: np.ndarray) -> np.ndarray:
    """FER+'s "probability" targets over the seven classes, rows summing to one, as FER+'s ``ferplus.py`` makes
    them: single votes dropped, then the top emotions (ties together) are taken until they hold three quarters of the
    votes, three at most; a row is discarded (zeros here) where they hold half the votes or less, where unknown or
    not a face comes first, or where contempt does (it is not among the seven)."""
    out = np.zeros((len(votes), len(EMOTIONS)), np.float32)
    for row, raw in enumerate(_drop_single_votes(votes).astype(float)):
        total, kept, count, valid = raw.sum(), np.zeros(len(raw)), 0, True
        while kept.sum() < 0.75 * total and count < 3 and valid:
            top = raw.max()
            for i in np.flatnonzero(raw == top):
                kept[i], raw[i], count = top, 0, count + 1
                if i >= 8:  # unknown or not a face: FER+ stops here, and drops it if an emotion came first
                    valid = False
                    if kept.sum() > top:
                        kept[i], count = 0, count - 1
                    break
        if kept.sum() > 0.5 * total and count <= 3 and kept.argmax() < len(SEVEN):
            out[row, SEVEN] = kept[:7] / kept[:7].sum()
    return out


# --------------------------------------------------------------------------- the join


def read_ferplus_images(archive: Path | str, votes_csv: Path | str = VOTES_CSV) -> tuple[np.ndarray, np.ndarray,
                                                                                         np.ndarray]:
    """FER+'s own image layout (``data/FER2013Train|Valid|Test/ferNNNNNNN.png``): each image's row in
    ``fer2013.csv`` (through its name in ``fer2013new.csv``), its usage and its pixels."""
    row_of = {name: row for row, name in enumerate(read_votes(votes_csv)[1]) if name}
    rows, usages, images = [], [], []
    with zipfile.ZipFile(archive) as zf:
        for member in zf.namelist():
            found = re.search(r"(FER2013\w+)/(fer\d+\.png)$", member)
            if found and found[1] in FOLDER_USAGE and found[2] in row_of:
                image = cv2.imdecode(np.frombuffer(zf.read(member), np.uint8), cv2.IMREAD_GRAYSCALE)
                rows.append(row_of[found[2]])
                usages.append(FOLDER_USAGE[found[1]])
                images.append(image)
    if not rows:
        raise JoinError(f"{archive} holds no FER+ images (data/FER2013Train|Valid|Test/ferNNNNNNN.png)")
    return np.array(rows), np.array(usages), np.stack(images)


def nearest_two(queries: np.ndarray, pool: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """For each query image, the indices of its two nearest images in ``pool`` and their RMS distances (grey
    levels), by one matrix product per chunk of queries."""
    pool_t = torch.from_numpy(pool.reshape(len(pool), -1).astype(np.float32))
    pool_sq = (pool_t ** 2).sum(1)
    index, rms = [], []
    for start in range(0, len(queries), chunk):
        q = torch.from_numpy(queries[start:start + chunk].reshape(-1, pool_t.shape[1]).astype(np.float32))
        squared = (q ** 2).sum(1, keepdim=True) + pool_sq - 2 * q @ pool_t.T
        best = squared.topk(min(2, len(pool)), largest=False)
        index.append(best.indices.numpy())
        rms.append(np.sqrt(np.maximum(best.values.numpy(), 0) / pool_t.shape[1]))
    index, rms = np.concatenate(index), np.concatenate(rms)
    if index.shape[1] == 1:  # a pool of one image: no second
        index, rms = np.hstack([index, index]), np.hstack([rms, np.full_like(rms, np.inf)])
    return index, rms


def join(arrays: FERArrays, archive: Path | str, votes_csv: Path | str = VOTES_CSV) -> tuple[dict, dict]:
    """Match every image of ``arrays`` to the nearest FER+ image of the same split. Returns the join (image name ->
    its fer2013.csv row, -1 where nothing lies within ``MATCH_RMS``; the RMS distance; whether FER+ holds exact
    copies of that image, among whose rows the copies of ours are dealt out one each, in name order) and its
    report. Raises ``JoinError`` where fewer than ``MIN_COVERAGE`` of the images match: another data set, or an
    altered copy."""
    rows, usages, images = read_ferplus_images(archive, votes_csv)
    nearest = np.full(len(arrays), NO_LABEL)  # index into FER+'s images
    distance, second = np.full(len(arrays), np.inf), np.full(len(arrays), np.inf)
    usage = np.array([SPLIT_USAGE[s] for s in arrays.splits])
    for name in np.unique(usage):
        ours, theirs = np.flatnonzero(usage == name), np.flatnonzero(usages == name)
        if len(theirs):
            index, rms = nearest_two(arrays.images[ours], images[theirs])
            nearest[ours], distance[ours], second[ours] = theirs[index[:, 0]], rms[:, 0], rms[:, 1]
    matched = distance <= MATCH_RMS
    match, ambiguous = np.full(len(arrays), NO_LABEL), np.zeros(len(arrays), bool)
    match[matched] = rows[nearest[matched]]
    copies = {}  # FER+ images with exact copies in their split: pixels -> their rows
    for i in np.flatnonzero(matched & (second <= MATCH_RMS)):
        key = (usages[nearest[i]], images[nearest[i]].tobytes())
        if key not in copies:
            same = (usages == key[0]) & (images == images[nearest[i]]).all((1, 2))
            copies[key] = {"rows": np.sort(rows[same]), "ours": []}
        copies[key]["ours"].append(i)
    for group in copies.values():
        if len(group["rows"]) > 1:
            ours = sorted(group["ours"], key=lambda i: arrays.names[i])
            match[ours] = group["rows"][np.arange(len(ours)) % len(group["rows"])]
            ambiguous[ours] = True
    has_image = np.isin(usage, usages)
    coverage = matched.sum() / max(has_image.sum(), 1)
    report = {
        "data_hash": arrays.data_hash, "images": len(arrays), "ferplus_images": len(rows),
        "matched": int(matched.sum()), "coverage": round(float(coverage), 5),
        "ferplus_rows_matched": int(len(np.unique(match[matched]))),
        "ferplus_coverage": round(len(np.unique(match[matched])) / len(rows), 5),  # of FER+'s images, matched
        "rms_percentiles": {f"p{p}": round(float(np.percentile(distance[matched], p)), 3) if matched.any() else None
                            for p in (50, 90, 99, 100)},
        "nearest_rms_unmatched": round(float(distance[~matched].min()), 3) if (~matched).any() else None,
        "ambiguous": int(ambiguous.sum()), "match_rms": MATCH_RMS,
        "unmatched": sorted(str(n) for n in arrays.names[~matched]),
    }
    if coverage < MIN_COVERAGE:
        raise JoinError(
            f"only {matched.sum():,} of {has_image.sum():,} images ({coverage:.1%}) lie within {MATCH_RMS:g} grey "
            f"levels RMS of a FER+ image of their split (a join needs {MIN_COVERAGE:.0%}; the median distance is "
            f"{np.median(distance[np.isfinite(distance)]):.1f}): these are not FER2013's images as FER+ has them "
            "(another data set, or an altered copy). Nothing was written.")
    table = {"name": arrays.names.tolist(), "row": match.tolist(), "rms": np.round(distance, 2).tolist(),
             "ambiguous": ambiguous.astype(int).tolist()}
    return table, report


def join_paths(data_hash: str, folder: Path = FERPLUS_DIR) -> tuple[Path, Path]:
    return folder / f"join-{data_hash}.csv", folder / f"join-{data_hash}.json"


def write_join(table: dict, report: dict, folder: Path = FERPLUS_DIR) -> Path:
    table_path, report_path = join_paths(report["data_hash"], folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(table_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(table)
        writer.writerows(zip(*table.values()))
    report_path.write_text(json.dumps(report, indent=1) + "\n")
    return table_path


# --------------------------------------------------------------------------- votes for a set of images


CSV_NAME = re.compile(r"(?:Training|PublicTest|PrivateTest)_(\d{5})\.png$")  # fer2013.convert_csv's names


def rows_for(arrays: FERArrays, folder: Path = FERPLUS_DIR) -> np.ndarray:
    """Each image's row in ``fer2013.csv`` (-1 where FER+ has none): by name for images converted from that CSV, else
    from the join made for this image set. Raises ``FERPlusMissing`` where there is neither."""
    by_csv = [CSV_NAME.search(str(name)) for name in arrays.names]
    if all(by_csv):
        rows, usages = np.array([int(found[1]) for found in by_csv]), read_votes(folder / VOTES_CSV.name)[0]
        if (rows < len(usages)).all() and (usages[np.minimum(rows, len(usages) - 1)] == [
                SPLIT_USAGE[split] for split in arrays.splits]).all():
            return rows
    table_path, _ = join_paths(arrays.data_hash, folder)
    if not table_path.exists():
        raise FERPlusMissing(f"no FER+ join for these images (content hash {arrays.data_hash}, not Kaggle's "
                             "FER2013): make one with `python -m fer_utils.data.ferplus --images "
                             "path/to/ferplus-images.zip`")
    with open(table_path, newline="") as handle:
        row_of = {r["name"]: int(r["row"]) for r in csv.DictReader(handle)}
    missing = [str(n) for n in arrays.names if str(n) not in row_of]
    if missing:
        raise FERPlusMissing(f"{table_path.name} lacks {len(missing)} of these images (first: {missing[0]})")
    return np.array([row_of[str(n)] for n in arrays.names])


def votes_for(arrays: FERArrays, folder: Path = FERPLUS_DIR) -> np.ndarray:
    """The ten FER+ vote counts of each image of ``arrays`` (zeros where FER+ has no row for it). Raises
    ``FERPlusMissing`` where the votes or the join are absent."""
    votes_path = folder / VOTES_CSV.name
    if not votes_path.exists():
        raise FERPlusMissing(f"no FER+ votes at {votes_path}")
    votes = read_votes(votes_path)[2]
    rows = rows_for(arrays, folder)
    return np.where((rows >= 0)[:, None], votes[np.maximum(rows, 0)], 0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, required=True, help="FER+'s image zip (ferplus-images.zip)")
    parser.add_argument("--data-dir", help="the FER2013 folder to join (default: data/fer2013)")
    parser.add_argument("--out", type=Path, default=FERPLUS_DIR, help="where the join goes (default: ferplus/)")
    args = parser.parse_args(argv)
    arrays = load_arrays(args.data_dir)
    try:
        table, report = join(arrays, args.images)
    except JoinError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    path = write_join(table, report, args.out)
    print(json.dumps({k: v for k, v in report.items() if k != "unmatched"}, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
