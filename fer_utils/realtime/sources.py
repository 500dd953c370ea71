"""Where frames come from: a webcam index, a video file, an image or a folder of images; and frames turned to the
uint8 gray the detector and the classifier read."""

import time
from pathlib import Path

import cv2
import numpy as np

from ..data.fer2013 import IMAGE_SUFFIXES

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


class FrameError(ValueError):
    """A frame that is not an image: it must be (H,W), (H,W,1), (H,W,3) BGR or (H,W,4) BGRA, at least 1x1."""


class SourceError(RuntimeError):
    """A source that cannot be opened; the message lists the usual causes."""


def to_gray(frame) -> np.ndarray:
    """A uint8 grayscale copy of a gray, BGR or BGRA frame (uint8, uint16, bool or float in [0, 1])."""
    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (3, 4)) or min(frame.shape[:2]) < 1:
        raise FrameError(f"frame of shape {frame.shape}: expected (H,W), (H,W,1), (H,W,3) BGR or (H,W,4) BGRA")
    if frame.dtype == np.uint8:
        pass
    elif frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype == np.bool_:
        frame = frame.astype(np.uint8) * 255
    elif np.issubdtype(frame.dtype, np.floating):
        frame = (np.nan_to_num(frame, nan=0.0, posinf=1.0, neginf=0.0).clip(0, 1) * 255).round().astype(np.uint8)
    else:
        raise FrameError(f"frame of dtype {frame.dtype}: expected uint8, uint16, bool or float in [0, 1]")
    if frame.ndim == 3:
        frame = cv2.cvtColor(np.ascontiguousarray(frame),
                             cv2.COLOR_BGR2GRAY if frame.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    return np.ascontiguousarray(frame)



def to_bgr(frame) -> np.ndarray:
    """A uint8 BGR copy of a frame, for drawing."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(to_gray(frame), cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame.copy()


def camera_error(index: int) -> SourceError:
    return SourceError(
        f"Cannot open camera {index}. Usual causes:\n"
        "  - macOS: the terminal or JupyterLab has no camera permission (System Settings > Privacy & Security > "
        "Camera), then restart it;\n"
        "  - wrong index: try 0, 1 or 2 (external cameras often come after the built-in one);\n"
        "  - the camera is in use by another program (a video call, another notebook);\n"
        "  - no camera on this machine (a server, a container, CI).\n"
        "Without a camera, pass a video file instead, e.g. source='reports/demo.mp4'."
    )


def is_camera(source) -> bool:
    """A webcam index (an int, or a string of digits), as opposed to a file or a folder."""
    return isinstance(source, int) or (isinstance(source, str) and source.isdigit())


def is_still(source) -> bool:
    """An image or a folder of images, as opposed to a camera index or a video."""
    if is_camera(source):
        return False
    path = Path(source)
    return path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES


def frame_rate(source) -> float | None:
    """The frames per second that a video file declares; None for cameras, images and folders."""
    if is_still(source) or is_camera(source) or not Path(source).is_file():
        return None
    capture = cv2.VideoCapture(str(source))
    rate = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
    capture.release()
    return rate if rate and 0 < rate < 1000 else None


def frames(source, max_frames: int | None = None):
    """Yield (time in seconds, frame) from a webcam index, a video file, an image or a folder of images."""
    if is_camera(source):
        capture = cv2.VideoCapture(int(source))
        if not capture.isOpened():
            raise camera_error(int(source))
        yield from _read(capture, max_frames, live=True)
        return
    path = Path(source)
    if not path.exists():
        raise SourceError(f"{path} does not exist: give a webcam index (0), a video, an image or a folder of images.")
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise SourceError(f"{path} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
        for i, image_path in enumerate(images[:max_frames]):
            yield float(i), _read_image(image_path)
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        yield 0.0, _read_image(path)
    else:
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise SourceError(f"{path} cannot be opened as a video (unknown format or corrupt file).")
        yield from _read(capture, max_frames, live=False)


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise SourceError(f"{path} cannot be read as an image.")
    return image


def _read(capture, max_frames, live: bool):
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    start, count = time.perf_counter(), 0
    try:
        while max_frames is None or count < max_frames:
            ok, frame = capture.read()
            if not ok:
                if live and count == 0:
                    raise SourceError("The camera opened but returned no frame: it may be in use or blocked.")
                break
            yield (time.perf_counter() - start if live else count / fps), frame
            count += 1
    finally:
        capture.release()
