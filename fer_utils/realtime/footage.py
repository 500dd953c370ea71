"""Synthetic footage with ground truth, for the realtime benchmark and tests: FER2013 test faces over textured
backgrounds, moving, growing and shrinking from frame to frame, with stretches of frames that hold no face; and
``camera_feed``, which hands such frames to a loop as a live camera does."""

import time
from dataclasses import dataclass, field

import cv2
import numpy as np


def textured_background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A BGR backdrop with structure at several scales: a lit wall, soft blotches, furniture-like boxes and lines,
    and fine grain, so that a detector has edges and texture to be fooled by."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    gray = 80 + 70 * xs / width + 40 * ys / height
    for cells in (4, 16, 64):  # blotches from coarse to fine
        noise = rng.normal(0, 30 / np.sqrt(cells / 4), (cells * height // width + 1, cells)).astype(np.float32)
        gray += cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    canvas = np.clip(gray, 0, 255).astype(np.uint8)
    canvas = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1, y1 = x0 + int(rng.integers(20, width // 3)), y0 + int(rng.integers(20, height // 3))
        colour = tuple(int(c) for c in rng.integers(30, 230, 3))
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, -1 if rng.random() < 0.5 else int(rng.integers(2, 8)))
    for _ in range(10):
        p0 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(canvas, p0, p1, tuple(int(c) for c in rng.integers(0, 255, 3)), int(rng.integers(1, 5)))
    canvas = cv2.GaussianBlur(canvas, (3, 3), 0)
    grain = rng.normal(0, 6, canvas.shape[:2]).astype(np.float32)[:, :, None]
    return np.clip(canvas + grain, 0, 255).astype(np.uint8)


@dataclass
class Clip:
    """Frames (BGR) and, for each frame, the faces in it: dicts with box (x, y, w, h), label and the test index."""

    size: tuple[int, int]
    frames: list = field(default_factory=list)
    truth: list = field(default_factory=list)


def make_clip(faces: np.ndarray, labels: np.ndarray, size: tuple[int, int] = (640, 480), count: int = 1,
              frames: int = 60, min_side: int = 30, max_side: int = 300, empty: tuple[int, int] = (20, 30),
              switch_every: int = 15, speed: float = 0.15, seed: int = 0) -> Clip:
    """``count`` faces, each in its own cell of a grid, moving and bouncing inside it and changing size smoothly
    between ``min_side`` and ``max_side`` pixels (sizes drawn log-uniformly, so small faces are common). A face moves
    up to ``speed`` of its own size a frame, as a person at that distance would. Every
    ``switch_every`` frames each face becomes another test face (another person and emotion) in the same place.
    Frames in ``empty`` (start, stop) hold no face."""
    rng = np.random.default_rng(seed)
    width, height = size
    columns = int(np.ceil(np.sqrt(count * width / height)))
    rows = int(np.ceil(count / columns))
    cell_w, cell_h = width // columns, height // rows
    backdrop = textured_background(width, height, rng)
    largest = min(max_side, int(0.9 * min(cell_w, cell_h)))
    movers = []
    for k in range(count):
        side = float(np.exp(rng.uniform(np.log(min_side), np.log(max(largest, min_side)))))
        movers.append({
            "index": int(rng.integers(len(faces))), "cell": (k % columns * cell_w, k // columns * cell_h),
            "side": side, "grow": rng.uniform(0, 0.25), "period": rng.uniform(20, 60),
            "pos": rng.uniform(0, 1, 2), "vel": rng.uniform(-speed, speed, 2) * side,  # pixels a frame
        })
    clip = Clip(size)
    for t in range(frames):
        frame = np.clip(backdrop + rng.normal(0, 2, backdrop.shape[:2])[:, :, None], 0, 255).astype(np.uint8)
        placed = []
        for mover in movers:
            if t and t % switch_every == 0:
                mover["index"] = int(rng.integers(len(faces)))
            mover["pos"] += mover["vel"] / np.maximum([cell_w - mover["side"], cell_h - mover["side"]], 1)
            for axis in (0, 1):  # bounce off the cell's walls
                if not 0 <= mover["pos"][axis] <= 1:
                    mover["vel"][axis] *= -1
                    mover["pos"][axis] = np.clip(mover["pos"][axis], 0, 1)
            if empty[0] <= t < empty[1]:
                continue
            side = mover["side"] * (1 + mover["grow"] * np.sin(2 * np.pi * t / mover["period"]))
            side = int(np.clip(side, min_side, largest))
            x = int(mover["cell"][0] + (cell_w - side) * mover["pos"][0])
            y = int(mover["cell"][1] + (cell_h - side) * mover["pos"][1])
            face = cv2.resize(faces[mover["index"]], (side, side), interpolation=cv2.INTER_AREA if side < 48 else
                              cv2.INTER_CUBIC)
            frame[y:y + side, x:x + side] = face[:, :, None]
            placed.append({"box": (x, y, side, side), "label": int(labels[mover["index"]]), "index": mover["index"]})
        clip.frames.append(frame)
        clip.truth.append(placed)
    return clip


def camera_feed(frames: list, process, fps: float = 30.0, clock=time.perf_counter,
                sleep=time.sleep) -> tuple[list, list]:
    """Hands ``frames`` to ``process`` as a live camera of ``fps`` frames a second does: frame k is the camera's
    picture from k / fps seconds on, each call gets the newest picture, and the pictures that came and went while a
    call ran are never processed. Gives, for each frame, what was on screen over it: the result of the last call that
    had finished by the time the next picture came (None before the first), as a page that draws a loop's answers over
    the live video shows it; and the indices of the frames processed."""
    started, finished, processed = clock(), [], []
    while (index := int((clock() - started) * fps)) < len(frames):
        if processed and index == processed[-1]:  # this picture is done: wait for the next
            sleep(max(started + (index + 1) / fps - clock(), 0))
            continue
        result = process(frames[index])
        finished.append((clock() - started, result))
        processed.append(index)
    shown, last, on_screen = [], 0, None
    for index in range(len(frames)):
        while last < len(finished) and finished[last][0] <= (index + 1) / fps:
            on_screen, last = finished[last][1], last + 1
        shown.append(on_screen)
    return shown, processed
