"""The shipped model: store a checkpoint compactly in models/, and fill the README's results section,
docs/benchmarks.md and the model card from the JSON in models/ (never by hand).

    python -m fer_utils.report.results ship runs/cpu/best.pt        # store it (only if better on validation)
    python -m fer_utils.report.results render                       # README, docs/benchmarks.md, models/README.md
    python -m fer_utils.report.results demo                         # the README's demo GIF (needs FER2013)
"""

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from ..data.fer2013 import load_arrays
from ..data.splits import training_split
from ..labels import EMOTIONS
from ..model.checkpoint import load_checkpoint, save_checkpoint
from ..model.classifier import load_classifier
from ..model.onnx_twin import fast_classifier
from ..model.views import TTA_MODES, best_views
from ..paths import MODELS_DIR, ROOT, SHIPPED_CHECKPOINT
from ..provenance import file_sha256
from ..realtime.video import write_demo_gif
from ..scores import accuracy
from ..training.runs import summarise
from .benchmark_results import (
    render_commands,
    render_crop_margins,
    render_detectors,
    render_evaluation_time,
    render_ferplus_training,
    render_levers,
    render_score_folder,
    render_video,
)
from .plots import confusion_matrices

METRICS = MODELS_DIR / "fer2013-resnet18.metrics.json"
REALTIME = MODELS_DIR / "realtime-benchmark.json"
PRECISION = MODELS_DIR / "classifier-precision.json"
# models/<file>: its README paragraph
BENCHMARKS = {"crop-margins.json": render_crop_margins, "devfaces-detectors.json": render_detectors,
              "devfaces-video.json": render_video, "evaluation-time.json": render_evaluation_time,
              "levers.json": render_levers, "score-folder.json": render_score_folder,
              "ferplus-training.json": render_ferplus_training}
CONFUSION_FIGURE = MODELS_DIR / "fer2013-resnet18-confusion.png"
DEMO_GIF = MODELS_DIR / "fer2013-resnet18-demo.gif"


def markers(section: str) -> tuple[str, str]:
    """The comments around a generated section of the README or docs/benchmarks.md."""
    return f"<!-- {section}:start -->", f"<!-- {section}:end -->"


START, END = markers("results")
COMMAND_TIMES = MODELS_DIR / "command-times.json"
BENCHMARKS_PAGE = ROOT / "docs" / "benchmarks.md"


def ship(checkpoint: Path | str, force: bool = False) -> Path:
    """Store ``checkpoint`` as the shipped model with fp16 weights and no optimiser state, unless the shipped one is
    at least as good on the validation split."""
    state = load_checkpoint(checkpoint)
    new_val = max(h["val_acc"] for h in state["history"])
    if SHIPPED_CHECKPOINT.exists() and not force:
        old_val = max(h["val_acc"] for h in load_checkpoint(SHIPPED_CHECKPOINT)["history"])
        if new_val <= old_val:
            raise SystemExit(f"not shipped: validation accuracy {new_val:.4f} is not above the shipped model's "
                             f"{old_val:.4f} (use --force to replace it anyway)")
    keep = ("format", "model", "classes", "history", "config", "info", "provenance", "epoch", "tta", "tta_val_acc")
    compact = {key: state[key] for key in keep if key in state}
    compact["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in state["state_dict"].items()}
    compact["shipped_from"] = str(Path(checkpoint))
    save_checkpoint(SHIPPED_CHECKPOINT, compact)
    return SHIPPED_CHECKPOINT


def shipped_run() -> dict:
    """The shipped model's training, summarised like a run (for evaluate-only reports)."""
    return summarise(load_checkpoint(SHIPPED_CHECKPOINT), SHIPPED_CHECKPOINT.parent, SHIPPED_CHECKPOINT)


def record_views(path: Path | str = SHIPPED_CHECKPOINT) -> dict:
    """Choose a checkpoint's test-time views on its own validation split and record them in it, for checkpoints
    written before training did so itself. Returns the validation accuracy of each choice."""
    classifier = load_classifier(path, "cpu")
    arrays = load_arrays(classifier.config.get("data_dir") or None, verbose=False)
    val = training_split(arrays, classifier.config).val
    scores = {mode: accuracy(classifier.predict_proba(val.images, tta=mode), val.labels) for mode in TTA_MODES}
    save_checkpoint(path, {**load_checkpoint(path), "tta": best_views(scores), "tta_val_acc": scores})
    return scores


def _pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def _accuracy_row(label: str, acc: dict, macro_f1: str, ferplus: str = "") -> str:
    return (f"| {label} | {_pct(acc['PublicTest'])} | {_pct(acc['PrivateTest'])} | {_pct(acc['combined'])} | "
            f"{_pct(acc['leak_free'])} | {macro_f1} | {ferplus} |")


def _ferplus_sentence(crowd: dict) -> str:
    acc, agree, sides = crowd["accuracy"], crowd["label_agreement"], crowd["errors_ferplus_agrees_with_model"]
    return (f"FER+ majority: the {crowd['n_images']['combined']:,} test images whose FER+ majority (ten annotators a "
            f"face; `ferplus/`) is one of the seven classes; there the default call scores {_pct(acc['PublicTest'])} "
            f"on PublicTest and {_pct(acc['PrivateTest'])} on PrivateTest, macro F1 {crowd['macro_f1']:.3f}. "
            f"FER2013's own labels agree with FER+ on {_pct(agree['combined'])} of these images, and on "
            f"{_pct(sides['combined'])} of the model's FER2013 errors among them FER+ gives the model's answer "
            "(notebook 04 shows them).")


def render_results(metrics: dict, realtime: dict | None = None) -> str:
    """The README's results: the shipped model against the original and the ``fer`` package, its confusion matrix,
    and one line on the demo's speed (the realtime benchmark's JSON)."""
    acc, prov, original = metrics["accuracy"], metrics["provenance"], metrics["original"]
    peer = metrics["peer_fer_package"]
    minutes = (prov.get("training_wall_s") or 0) / 60
    crowd = metrics.get("ferplus")
    rows = [_accuracy_row(f"this study, test-time views `{prov['tta']}` (the default call)", acc,
                          f"{metrics['macro_f1']:.3f}", _pct(crowd["accuracy"]["combined"]) if crowd else "")]
    if metrics.get("accuracy_single_view") and prov["tta"] != "none":
        rows.insert(0, _accuracy_row("this study, one view", metrics["accuracy_single_view"], ""))
    lines = [
        f"The shipped model, `{prov['checkpoint']}`: ResNet18 trained with the `{prov['training_profile']}` profile "
        f"on {prov['trained_on']} in {minutes:.0f} minutes; `load_classifier().predict_proba(faces)` averages the "
        f"test-time views `{prov['tta']}`, chosen on the validation split. Generated by "
        f"`python -m fer_utils.report.results render` from `{METRICS.relative_to(ROOT)}`.",
        "",
        "| model | PublicTest | PrivateTest | combined | leak-free | macro F1 | combined, FER+ majority |",
        "|---|---|---|---|---|---|---|",
        *rows,
        f"| original study (ResNet18, Adam, 10 epochs) | | | {_pct(original['accuracy'])} | | "
        f"{original['macro_f1']:.3f} | |",
        f"| `fer` package (bundled model, TFLite on raw crops; selected on the test set) | | | "
        f"{_pct(peer['accuracy'])} | | {peer['macro_f1']:.3f} | |",
        "",
        *([_ferplus_sentence(crowd), ""] if crowd else []),
        f"Train accuracy of the same checkpoint {_pct(metrics['train_accuracy'])}, validation "
        f"{_pct(metrics['val_accuracy'])}, both with one view (the original: "
        f"{100 * original['train_accuracy']:.0f} % train). Leak-free: the {metrics['n_images']['leak_free']:,} "
        "test images that are not pixel copies of training images. Per class and per benchmark: docs/benchmarks.md.",
        "",
        f"![confusion matrix]({CONFUSION_FIGURE.relative_to(ROOT)})",
    ]
    if DEMO_GIF.exists():
        lines += ["", f"![The demo: the shipped model over the demo video of FER2013 test faces]"
                      f"({DEMO_GIF.relative_to(ROOT)})", "",
                  "The demo over the demo video (FER2013 test faces moving over a busy backdrop, each turning into "
                  "another face every two seconds), as notebook 05 runs it; written by "
                  "`python -m fer_utils.report.results demo`."]
    if realtime and "real_video_fps" in realtime:
        lines += ["", f"The demo (`benchmarks/realtime_fps.py` on {realtime['device']}): "
                  f"{realtime['real_video_fps']:.0f} frames per second on the real single-person videos as a video "
                  f"file's loop runs them, {realtime['real_video_fps_live_camera']:.0f} as a camera's does, "
                  f"{realtime['real_video_fps_ratio_vs_original']:.1f}x the original study's loop; "
                  f"{100 * realtime['real_photos_found']:.1f} % of the faces in the real photos found."]
    return "\n".join(lines)


def render_benchmarks(metrics: dict, realtime: dict | None = None, precision: dict | None = None) -> str:
    """docs/benchmarks.md: the shipped model per class, the realtime benchmark and the realtime classifier."""
    original = metrics["original"]
    lines = ["Per class, with the default call:", "",
             "| class | precision | recall | F1 | support | F1 (original) | Δ F1 |",
             "|---|---|---|---|---|---|---|"]
    for name in EMOTIONS:
        ours, theirs = metrics["per_class"][name], original["per_class"][name]
        lines.append(f"| {name} | {ours['precision']:.3f} | {ours['recall']:.3f} | {ours['f1']:.3f} | "
                     f"{ours['support']:,} | {theirs['f1']:.3f} | {ours['f1'] - theirs['f1']:+.3f} |")
    if realtime:
        lines += ["", *render_realtime(realtime)]
    if precision:
        ms, accuracy = precision["ms_per_face"], precision["test_accuracy"]
        fp32, int8 = "onnxruntime fp32", "onnxruntime int8"
        lines += ["", f"The realtime classifier (`benchmarks/classifier_precision.py` on {precision['device']}, "
                  f"batch 1): int8 onnxruntime {ms[int8]:.2f} ms per face against {ms[fp32]:.2f} ms in fp32 "
                  f"({ms[fp32] / ms[int8]:.1f}x), test accuracy {_pct(accuracy[int8])} against "
                  f"{_pct(accuracy[fp32])}; "
                  + ", ".join(f"{name} {ms[name]:.1f} ms" for name in ms if name.startswith("pytorch")) + "."]
    return "\n".join(lines)


def render_realtime(realtime: dict) -> list[str]:
    """The realtime benchmark's table: our loop with tracking on and off beside the original study's loop."""
    loops = realtime["loops"]
    default = realtime["detector"]
    own = {"camera": f"ours, {default}, a camera's loop", "tracking": f"ours, {default}, a video file's loop",
           "original": "original loop"}
    names = {**{n: f"ours, {n.removeprefix('tracking_')}" for n in loops if n.startswith("tracking_")}, **own}

    def share(value):
        return f"{100 * value:.1f} %"

    rows = [("FPS, 640x480, one moving face", "fps_one_face", "{:.0f}".format),
            ("FPS, all scenes", "fps_all_scenes", "{:.0f}".format),
            ("recall, faces ≥ 48 px", "recall_ge48", share),
            ("recall, faces 30–48 px", "recall_30_48", share),
            ("false faces per face-free frame", "false_positives_per_frame", "{:.3f}".format),
            ("label accuracy of the faces found", "label_accuracy_found", share),
            ("the classifier on the same faces' dataset crops", "label_accuracy_dataset_crops", share)]
    camera = [("frames processed a second", "frames_processed_per_second", "{:.1f}".format), *rows[2:]]
    first = loops["tracking"]
    fed = realtime.get("camera_fps")
    lines = [
        f"Realtime (`benchmarks/realtime_fps.py` on {realtime['device']}, {realtime['rounds']} alternating rounds): "
        f"{len(realtime['scenes'])} clips of {realtime['frames_per_clip']} frames ({', '.join(realtime['scenes'])}) "
        f"built from FER2013 test faces 30 to 300 px high, moving over textured backgrounds, ten face-free frames "
        f"in each ({first['faces_ge48']:,} faces of 48 px and more, {first['faces_30_48']:,} of 30 to 48 px, "
        f"{first['face_free_frames']} face-free frames). Ours is the demo's loop ("
        f"{realtime['classifier']}, smoothing 0.6) as a video file runs it (whole-frame searches enlarged for small "
        "faces), which the JSON's headline figures are, and as a camera runs it. The original loop runs the default "
        "frontal cascade on the full frame and one PyTorch call per face.",
        "",
        "| | " + " | ".join(names[n] for n in loops) + " |",
        "|---|" + "---|" * len(loops),
    ]
    for title, key, fmt in rows:
        lines.append(f"| {title} | " + " | ".join(fmt(loops[n][key]) for n in loops) + " |")
    if fed:
        for title, key, fmt in camera:
            lines.append(f"| fed as a camera: {title} | "
                         + " | ".join(fmt(loops[n]["camera_feed"][key]) for n in loops) + " |")
        lines += ["", f"Fed as a camera: each loop fed the same clips as a live camera of {fed:.0f} frames a second "
                  "feeds it (the newest frame each time; the frames that come while the loop is busy are never "
                  "seen), each frame scored by the boxes on screen over it, as the notebook's browser camera draws a "
                  "loop's answers over the live video; pooled over the rounds."]
    if "real_video_fps" in realtime:
        lines += ["", f"The default detector, {default}, on real footage (the tables below): "
                  f"{share(realtime['real_photos_found'])} of the exactly counted faces found in the real photos, "
                  f"{realtime['real_photos_false_per_photo']:.2f} boxes beyond the counts per photo, "
                  f"{realtime['real_video_fps']:.0f} frames per second on the single-person videos in a video "
                  f"file's loop, {realtime['real_video_fps_ratio_vs_original']:.1f}x the original loop, and "
                  f"{realtime['real_video_fps_live_camera']:.0f} in the live camera's."]
    return lines


def render_card(metrics: dict, checkpoint: dict) -> str:
    """models/README.md, the model card."""
    prov, model, acc = metrics["provenance"], checkpoint["model"], metrics["accuracy"]
    config = checkpoint.get("config", {})
    return "\n".join([
        "# Model card: fer2013-resnet18",
        "",
        "Generated by `python -m fer_utils.report.results render` from the checkpoint and "
        f"`{METRICS.name}`; do not edit by hand.",
        "",
        "## Model",
        f"- Architecture: torchvision ResNet18, stem `{model['stem']}` (`fer`: 3x3 stride-1 convolution and max-pool; "
        "`imagenet`: 7x7 stride 2 and max-pool), 7-way head; initialisation: "
        f"{checkpoint.get('info', {}).get('init', 'random')}.",
        f"- Input: {model['input_size']}x{model['input_size']} grayscale ({model['in_channels']} channel)"
        + (" crops of the 48x48 face (random while training; the centre crop, or the ten crops of the test-time "
           "views, at test)" if model.get("crop") else "")
        + f", pixels scaled to [0, 1] and normalised with mean {model['mean']} and std {model['std']}.",
        f"- Output: probabilities over {', '.join(EMOTIONS)}.",
        "- Stored with fp16 weights (loaded as fp32); `fer_utils.load_classifier()` loads it by default.",
        "",
        "## Training",
        f"- Profile `{prov['training_profile']}`: {len(checkpoint.get('history', []))} epochs"
        + (f" (a {config['minutes']:g}-minute time budget)" if config.get("minutes") else "")
        + f", {config.get('optimizer')} (lr {config.get('lr')}, weight decay {config.get('weight_decay')}), "
        f"{config.get('schedule')} schedule, batch {config.get('batch_size')}, label smoothing "
        f"{config.get('label_smoothing')}"
        + (f", the first {config['small_share']:.0%} of the schedule on {config['small_input']}x"
           f"{config['small_input']} inputs (progressive resizing)" if config.get("small_input") else "")
        + (f", weight average (EMA {config['ema']})" if config.get("ema") else "") + ".",
        f"- Device {prov['trained_on']}, {(prov.get('training_wall_s') or 0) / 60:.1f} minutes of training.",
        f"- Retrain it: `python -m fer_utils.training.train --profile {prov['training_profile']}` (`configs/"
        f"{prov['training_profile']}.yaml`; `make report` on a CPU runs the same), then "
        f"`python -m fer_utils.report.results ship runs/{prov['training_profile']}/best.pt`. A test checks that the "
        "profile still gives the checkpoint's configuration.",
        f"- Data FER2013 (Kaggle msambare/fer2013), content hash `{prov['data_hash']}`; model selected on a seeded "
        "10 % validation split of train. The test set was not used for any choice.",
        f"- Code: git commit `{prov.get('training_git_commit')}` (training), `{prov['git_commit']}` (evaluation).",
        "",
        "## Metrics",
        f"- Validation accuracy {_pct(metrics['val_accuracy'])}; train {_pct(metrics['train_accuracy'])}.",
        f"- Test accuracy with one view: combined {_pct(metrics.get('accuracy_single_view', acc)['combined'])}.",
        f"- Test accuracy (test-time views `{prov['tta']}`, the default): PublicTest {_pct(acc['PublicTest'])}, "
        f"PrivateTest {_pct(acc['PrivateTest'])}, combined {_pct(acc['combined'])}, leak-free {_pct(acc['leak_free'])} "
        f"({metrics['n_images']['leak_free']:,} images); macro F1 {metrics['macro_f1']:.3f}, weighted F1 "
        f"{metrics['weighted_f1']:.3f}.",
        *([f"- Against FER+'s majority labels (ten annotators a face): PublicTest "
           f"{_pct(metrics['ferplus']['accuracy']['PublicTest'])}, PrivateTest "
           f"{_pct(metrics['ferplus']['accuracy']['PrivateTest'])}, combined "
           f"{_pct(metrics['ferplus']['accuracy']['combined'])}; macro F1 {metrics['ferplus']['macro_f1']:.3f}."]
          if metrics.get("ferplus") else []),
        f"- Checkpoint sha256 `{prov['checkpoint_sha256']}`.",
        "",
        "## Known limits",
        "- FER2013 was gathered by image search and labelled quickly: labels are noisy ("
        + (f"FER+'s majority agrees with {_pct(metrics['ferplus']['label_agreement']['combined'])} of its test labels; "
           if metrics.get("ferplus") else "") + "notebook 04 measures it), some images are blank or not faces, and "
        "several hundred test images copy training images.",
        "- Its faces are reported to skew towards young, light-skinned adults and posed, exaggerated expressions; "
        "accuracy on "
        "spontaneous expressions, children, older people and under-represented groups is unmeasured and likely lower.",
        "- Seven discrete labels do not capture mixed or subtle emotions, and an expression is not an inner state.",
        "- 48x48 grayscale input: no colour, low detail; sensitive to crop, pose and lighting (see notebook 04).",
        "- Not for high-stakes use: hiring, policing, health, education or any decision about a person.",
        "",
    ])


def update_readme(text: str, readme: Path = ROOT / "README.md", section: str = "results") -> None:
    """Replace the text between the markers of ``section`` (``START`` and ``END`` for "results") in ``readme`` (the
    README, or docs/benchmarks.md)."""
    start, end = markers(section)
    content = readme.read_text()
    if start not in content or end not in content:
        raise SystemExit(f"{readme} has no {start} ... {end} markers")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    readme.write_text(pattern.sub(lambda _: f"{start}\n{text}\n{end}", content))


def command_times() -> str:
    """The README's table of how long each command takes (benchmarks/command_times.py and the shipped model)."""
    times = json.loads(COMMAND_TIMES.read_text()) if COMMAND_TIMES.exists() else {}
    evaluation = MODELS_DIR / "evaluation-time.json"
    return "\n".join(render_commands(times, json.loads(METRICS.read_text()),
                                     json.loads(evaluation.read_text()) if evaluation.exists() else None))


def adopt_metrics(report: Path) -> None:
    """Copy an evaluation's metrics.json to models/, after checking that it evaluated the shipped file."""
    metrics = json.loads(Path(report).read_text())
    shipped = file_sha256(SHIPPED_CHECKPOINT)
    if metrics["provenance"]["checkpoint_sha256"] != shipped:
        raise SystemExit(f"{report} evaluated another checkpoint ({metrics['provenance']['checkpoint']}); run "
                         "`make report PROFILE=evaluate` to evaluate the shipped one")
    METRICS.write_text(json.dumps(metrics, indent=2) + "\n")


def benchmark_results() -> str:
    """docs/benchmarks.md's generated section, from the JSON files in models/."""
    metrics = json.loads(METRICS.read_text())
    realtime = json.loads(REALTIME.read_text()) if REALTIME.exists() else None
    precision = json.loads(PRECISION.read_text()) if PRECISION.exists() else None
    sections = [render_benchmarks(metrics, realtime, precision)]
    for name, render_one in BENCHMARKS.items():
        if (MODELS_DIR / name).exists():
            sections.append("\n".join(render_one(json.loads((MODELS_DIR / name).read_text()))))
    return "\n\n".join(sections)


def render() -> None:
    realtime = json.loads(REALTIME.read_text()) if REALTIME.exists() else None
    update_readme(render_results(json.loads(METRICS.read_text()), realtime))
    update_readme(command_times(), section="commands")
    update_readme(benchmark_results(), BENCHMARKS_PAGE)
    metrics = json.loads(METRICS.read_text())
    (MODELS_DIR / "README.md").write_text(render_card(metrics, load_checkpoint(SHIPPED_CHECKPOINT)))
    confusion_matrices(np.array(metrics["confusion_matrix"]), path=CONFUSION_FIGURE)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ship_cmd = sub.add_parser("ship", help="store a checkpoint as models/fer2013-resnet18.pt")
    ship_cmd.add_argument("checkpoint", type=Path)
    ship_cmd.add_argument("--force", action="store_true")
    render_cmd = sub.add_parser("render", help="README results, docs/benchmarks.md and the model card from models/")
    render_cmd.add_argument("--metrics", type=Path, help="first adopt this metrics.json (of the shipped checkpoint)")
    demo_cmd = sub.add_parser("demo", help="write the README's demo GIF: the shipped model over the demo video")
    demo_cmd.add_argument("--data-dir", default="", help="FER2013 folder (default: data/fer2013)")
    views_cmd = sub.add_parser("views", help="choose a checkpoint's test-time views on validation and record them")
    views_cmd.add_argument("checkpoint", type=Path, nargs="?", default=SHIPPED_CHECKPOINT)
    args = parser.parse_args(argv)
    if args.command == "ship":
        path = ship(args.checkpoint, args.force)
        print(f"shipped {args.checkpoint} as {path} ({path.stat().st_size / 1e6:.1f} MB); now evaluate it with "
              "`make report PROFILE=evaluate`, then "
              "`python -m fer_utils.report.results render --metrics reports/metrics.json`")
    elif args.command == "views":
        accuracy = record_views(args.checkpoint)
        print(f"{args.checkpoint}: validation accuracy {accuracy}; recorded {load_checkpoint(args.checkpoint)['tta']}; "
              "now evaluate it with `make report PROFILE=evaluate`")
    elif args.command == "demo":
        test = load_arrays(args.data_dir or None, verbose=False).split("test")
        classifier = fast_classifier(load_classifier(SHIPPED_CHECKPOINT, "cpu"))
        result = write_demo_gif(classifier, test.images, test.labels, DEMO_GIF)
        print(f"wrote {DEMO_GIF} ({DEMO_GIF.stat().st_size / 1e6:.1f} MB) from {result['frames']} frames: "
              f"{result['recall']:.1%} of the demo faces found, labels right on {result['label_accuracy']:.1%}; "
              "`python -m fer_utils.report.results render` shows it in the README")
    else:
        if args.metrics:
            adopt_metrics(args.metrics)
        render()
        print(f"README.md results, {BENCHMARKS_PAGE}, {MODELS_DIR / 'README.md'} and {CONFUSION_FIGURE} updated "
              f"from {METRICS} and the benchmarks' JSON")
    return 0


if __name__ == "__main__":
    sys.exit(main())
