"""Headless demo: build a video of moving FER2013 faces, and run the recogniser over a video into an annotated MP4,
a GIF and a contact sheet, and a per-frame timeline (CSV)."""

import base64
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..labels import EMOTIONS
from . import EmotionRecognizer, SourceError, draw, frame_rate, frames, iou, is_still
from .footage import make_clip


def make_demo_video(faces: np.ndarray, labels: np.ndarray, path: Path | str, seconds: float = 12.0, fps: int = 15,
                    size: tuple[int, int] = (640, 480), seed: int = 0) -> pd.DataFrame:
    """Write the demo video, three FER2013 faces moving over a textured background (``footage.make_clip``), each
    turning into another face (and emotion) every two seconds, as MP4, or as Y4M when ``path`` ends in .y4m
    (Chromium's fake camera plays Y4M). Returns the ground truth per frame and face."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clip = make_clip(faces, labels, size, count=3, frames=int(seconds * fps), min_side=110, max_side=200,
                     empty=(0, 0), switch_every=2 * fps, speed=0.05, seed=seed)
    truth = pd.DataFrame([{"time": index / fps, "frame": index, "face": k, "x": face["box"][0], "y": face["box"][1],
                           "w": face["box"][2], "h": face["box"][3], "label": EMOTIONS[face["label"]]}
                          for index, placed in enumerate(clip.truth) for k, face in enumerate(placed)])
    if path.suffix == ".y4m":
        with path.open("wb") as out:
            out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
            for frame in clip.frames:
                out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
        return truth
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MP4 video to {path}")
    for frame in clip.frames:
        writer.write(frame)
    writer.release()
    return truth


STILLS_FPS = 2.0  # the default rate of a video made from images or a folder of images


def run_video(recognizer: EmotionRecognizer, source, out_dir: Path | str, name: str = "demo",
              max_frames: int | None = None, show_probs: bool = True, gif_frames: int = 36,
              fps: float | None = None) -> dict:
    """Run the recogniser over every frame of ``source``; write <name>.mp4, .gif, -contact-sheet.png, -timeline.csv.

    The MP4 plays at ``fps``: by default the source video's own rate (a camera's: 30), or ``STILLS_FPS`` for images
    and folders. Returns the paths, the timeline (one row per face and frame), the video's rate and the mean frames
    per second of recognition.
    """
    fps = fps or frame_rate(source) or (STILLS_FPS if is_still(source) else 30.0)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"video": out_dir / f"{name}.mp4", "gif": out_dir / f"{name}.gif",
             "contact_sheet": out_dir / f"{name}-contact-sheet.png", "timeline": out_dir / f"{name}-timeline.csv"}
    writer, rows, annotated_frames, seconds = None, [], [], []
    for index, (t, frame) in enumerate(frames(source, max_frames)):
        results = recognizer(frame)
        seconds.append(recognizer.last_seconds)
        annotated = draw(frame, results, recognizer.fps, show_probs)
        if writer is None:
            h, w = annotated.shape[:2]
            writer = cv2.VideoWriter(str(paths["video"]), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        writer.write(annotated)
        annotated_frames.append(cv2.resize(annotated, (320, int(320 * annotated.shape[0] / annotated.shape[1]))))
        for face in results:
            x, y, w, h = face.box
            rows.append({"time": round(t, 3), "frame": index, "track": face.track, "x": x, "y": y, "w": w, "h": h,
                         "label": face.label, "confidence": round(face.confidence, 4),
                         **{f"p_{e}": round(float(p), 4) for e, p in zip(EMOTIONS, face.probs)}})
    if writer is None:
        raise SourceError(f"{source} gave no frames: it is empty or cannot be decoded.")
    writer.release()
    timeline = pd.DataFrame(rows, columns=["time", "frame", "track", "x", "y", "w", "h", "label", "confidence",
                                           *[f"p_{e}" for e in EMOTIONS]])
    timeline.to_csv(paths["timeline"], index=False)
    _write_gif(annotated_frames, paths["gif"], gif_frames)
    _write_contact_sheet(annotated_frames, paths["contact_sheet"])
    return {**paths, "timeline_df": timeline, "frames": len(seconds), "fps": fps,
            "mean_fps": len(seconds) / sum(seconds) if seconds else 0.0}


def write_demo_gif(classifier, faces: np.ndarray, labels: np.ndarray, path: Path | str, seconds: float = 8.0,
                   gif_frames: int = 24) -> dict:
    """The README's demo GIF: notebook 05's headless run, shorter (the demo video of ``faces``, the recogniser of a
    video file over it, ``gif_frames`` frames of it). Returns the score against the video's truth too."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "input.mp4"
        truth = make_demo_video(faces, labels, source, seconds=seconds)
        result = run_video(EmotionRecognizer.for_source(classifier, str(source)), source, folder, gif_frames=gif_frames)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result["gif"], path)
    return {"gif": Path(path), "frames": result["frames"], **score_against_truth(result["timeline_df"], truth)}


def embed_gif(path: Path | str):
    """An animated GIF as HTML with the file inlined, so that it plays in JupyterLab and in the HTML report alike
    (nbconvert does not render ``image/gif`` outputs)."""
    from IPython.display import HTML

    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return HTML(f'<img src="data:image/gif;base64,{data}" alt="annotated demo video">')


def _pick(items: list, count: int) -> list:
    return [items[i] for i in np.linspace(0, len(items) - 1, min(count, len(items))).round().astype(int)]


def _write_gif(bgr_frames: list, path: Path, count: int) -> None:
    from PIL import Image

    images = [Image.fromarray(cv2.cvtColor(f, cv2.COLOR_BGR2RGB)) for f in _pick(bgr_frames, count)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=200, loop=0)


def _write_contact_sheet(bgr_frames: list, path: Path, columns: int = 4, rows: int = 2) -> None:
    tiles = _pick(bgr_frames, columns * rows)
    tiles += [np.zeros_like(tiles[0])] * (columns * rows - len(tiles))
    sheet = np.vstack([np.hstack(tiles[r * columns:(r + 1) * columns]) for r in range(rows)])
    cv2.imwrite(str(path), sheet)


def score_against_truth(timeline: pd.DataFrame, truth: pd.DataFrame, min_iou: float = 0.3) -> dict:
    """How many demo faces were found (box overlap with the true placement), and how often the label was right."""
    found = correct = 0
    by_frame = {frame: rows for frame, rows in timeline.groupby("frame")}
    for _, face in truth.iterrows():
        rows = by_frame.get(face["frame"])
        if rows is None:
            continue
        box = (face["x"], face["y"], face["w"], face["h"])
        overlaps = [iou(box, (r.x, r.y, r.w, r.h)) for r in rows.itertuples()]
        best = int(np.argmax(overlaps))
        if overlaps[best] >= min_iou:
            found += 1
            correct += rows.iloc[best]["label"] == face["label"]
    return {"faces": len(truth), "found": found, "recall": found / max(len(truth), 1),
            "label_accuracy": correct / max(found, 1)}
