"""Live webcam emotion recognition in a cv2.imshow window, from the command line (in JupyterLab:
fer_utils.realtime.widgets).

    python -m fer_utils.realtime.webcam --source 0
"""

import argparse
import sys

import cv2

from ..model.classifier import load_classifier
from ..model.onnx_twin import fast_classifier
from . import DEFAULT_DETECTOR, DETECTORS, EmotionRecognizer, SourceError, draw, frames


def show_window(recognizer: EmotionRecognizer, source=0, show_probs: bool = True) -> None:
    """Show annotated frames in an OpenCV window until q or Esc is pressed."""
    title = "fer-study (q to quit)"
    try:
        for _, frame in frames(source):
            results = recognizer(frame)
            cv2.imshow(title, draw(frame, results, recognizer.fps, show_probs))
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                break
    except cv2.error as err:
        raise SystemExit(f"OpenCV cannot open a window here ({err.msg.strip()}). opencv-python-headless has no GUI: "
                         "install opencv-python, or use the notebook 05-webcam-demo, or "
                         "`python -m fer_utils.realtime.predict VIDEO --output DIR` to write an annotated "
                         "video.") from err
    finally:
        cv2.destroyAllWindows()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="0", help="webcam index, video file, image or folder (default 0)")
    parser.add_argument("--checkpoint", help="checkpoint to use (default: the shipped model, else the newest run)")
    parser.add_argument("--smoothing", type=float, default=0.6, help="0 turns temporal smoothing off")
    parser.add_argument("--no-probs", action="store_true", help="hide the probability bars")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, choices=list(DETECTORS),
                        help=f"face detector (default {DEFAULT_DETECTOR}; haar is the original study's)")
    args = parser.parse_args(argv)
    classifier = fast_classifier(load_classifier(args.checkpoint, args.device))
    recognizer = EmotionRecognizer.for_source(classifier, args.source, smoothing=args.smoothing,
                                                detector=args.detector)
    try:
        show_window(recognizer, args.source, not args.no_probs)
    except SourceError as err:
        print(err, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
