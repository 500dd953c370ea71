"""Find faces and their emotions in images, videos and a camera, from the command line (in JupyterLab:
fer_utils.realtime.widgets).

    python -m fer_utils.realtime.predict photo.jpg clip.mp4 [--output annotated/]
    python -m fer_utils.realtime.predict 0 --show                  # a live window on camera 0; q quits
"""

import argparse
import sys
from pathlib import Path

import cv2

from ..model.classifier import fast_classifier, load_classifier
from . import DEFAULT_DETECTOR, DETECTORS, VIDEO_SUFFIXES, EmotionRecognizer, SourceError, draw, frames
from .recognizer import SMOOTHING
from .video import run_video


def describe(results) -> str:
    if not results:
        return "no face found"
    return "; ".join(f"face at (x={f.box[0]}, y={f.box[1]}, w={f.box[2]}, h={f.box[3]}): {f.label} "
                     f"{f.confidence:.0%}" for f in results)


def show_window(recognizer: EmotionRecognizer, source) -> None:
    """Show annotated frames in an OpenCV window until q or Esc is pressed."""
    title = "fer-study (q to quit)"
    try:
        for _, frame in frames(source):
            cv2.imshow(title, draw(frame, recognizer(frame), recognizer.fps))
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                break
    except cv2.error as err:
        raise SystemExit(f"OpenCV cannot open a window here ({err.msg.strip()}). opencv-python-headless has no GUI: "
                         "install opencv-python, or use the notebook 05-webcam-demo, or leave out --show and give "
                         "--output DIR to write an annotated video.") from err
    finally:
        cv2.destroyAllWindows()


def predict(recognizer: EmotionRecognizer, source: str, output: Path | None, fps: float | None) -> None:
    """Print each frame's faces of one source, and write them annotated to ``output`` when given."""
    video = Path(source).suffix.lower() in VIDEO_SUFFIXES
    if video and output:
        result = run_video(recognizer, source, output, Path(source).stem, fps=fps)
        print(f"{source}: {result['frames']} frames, {result['timeline_df']['frame'].nunique()} with faces; "
              f"wrote {result['video']} and {result['timeline']}")
        return
    for index, (t, frame) in enumerate(frames(source)):
        results = recognizer(frame)
        name = f"{source} @ {t:.2f}s" if video else (
            Path(source).name if Path(source).is_file() else f"{Path(source).name}[{index}]")
        print(f"{name}: {describe(results)}")
        if output:
            output.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(output / f"{Path(source).stem}-{index:04d}.png"), draw(frame, results))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="images, videos, folders of images, or a camera index")
    parser.add_argument("--show", action="store_true", help="show the first input live in a window")
    parser.add_argument("--output", type=Path, help="folder for annotated images and videos")
    parser.add_argument("--checkpoint", help="checkpoint to use (default: the shipped model, else the newest run)")
    parser.add_argument("--smoothing", type=float, default=SMOOTHING, help="over a video's frames; 0 turns it off")
    parser.add_argument("--fps", type=float, help="rate of annotated videos (default: the source's own)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, choices=list(DETECTORS),
                        help=f"face detector (default {DEFAULT_DETECTOR}; haar is the original study's)")
    args = parser.parse_args(argv)
    classifier = fast_classifier(load_classifier(args.checkpoint, args.device))
    status = 0
    for source in args.inputs[:1] if args.show else args.inputs:
        recognizer = EmotionRecognizer.for_source(classifier, source, smoothing=args.smoothing,
                                                    detector=args.detector)
        try:
            show_window(recognizer, source) if args.show else predict(recognizer, source, args.output, args.fps)
        except SourceError as err:
            print(f"{source}: {err}", file=sys.stderr)
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
