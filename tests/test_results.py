import json
import re

import numpy as np
import pytest
from conftest import SAMPLE_DIR

from fer_utils import EMOTIONS
from fer_utils.data.fer2013 import load_arrays
from fer_utils.evaluation import evaluate
from fer_utils.model.checkpoint import load_checkpoint
from fer_utils.model.classifier import load_classifier
from fer_utils.paths import ROOT
from fer_utils.provenance import cpu_description, file_sha256
from fer_utils.report import results
from fer_utils.training.config import TrainConfig, training_config


def generated(path, section: str = "results") -> str:
    start, end = results.markers(section)
    return re.search(re.escape(start) + r"\n(.*?)\n" + re.escape(end), path.read_text(), re.S).group(1)


def test_readme_results_agree_with_the_shipped_metrics():
    metrics = json.loads(results.METRICS.read_text())
    realtime = json.loads(results.REALTIME.read_text())
    assert generated(ROOT / "README.md") == results.render_results(metrics, realtime), \
        "run: python -m fer_utils.report.results render"
    assert generated(results.BENCHMARKS_PAGE) == results.benchmark_results(), \
        "run: python -m fer_utils.report.results render"
    assert generated(ROOT / "README.md", "commands") == results.command_times(), \
        "run: python -m fer_utils.report.results render"
    assert metrics["provenance"]["checkpoint_sha256"] == file_sha256(results.SHIPPED_CHECKPOINT)
    assert results.SHIPPED_CHECKPOINT.stat().st_size <= 25e6


def test_the_shipped_model_is_retrained_by_the_profile_it_names():
    """One profile file per published result: the shipped checkpoint's configuration is what its profile gives
    today (options added since it was trained keep their defaults)."""
    trained = load_checkpoint(results.SHIPPED_CHECKPOINT)["config"]
    today, defaults = training_config(trained["profile"]).as_dict(), TrainConfig().as_dict()
    assert {key: trained.get(key, defaults[key]) for key in today} == today
    assert "python -m fer_utils.training.train --profile cpu" in (results.MODELS_DIR / "README.md").read_text()


def fake_metrics() -> dict:
    per_class = {n: {"precision": 0.5, "recall": 0.6, "f1": 0.55, "support": 10} for n in EMOTIONS}
    return {"accuracy": {"PublicTest": 0.7012, "PrivateTest": 0.7123, "combined": 0.70675, "leak_free": 0.69},
            "accuracy_single_view": {"PublicTest": 0.69, "PrivateTest": 0.7, "combined": 0.695, "leak_free": 0.68},
            "n_images": {"PublicTest": 35, "PrivateTest": 35, "combined": 70, "leak_free": 65},
            "macro_f1": 0.661, "weighted_f1": 0.7, "per_class": per_class, "train_accuracy": 0.8, "val_accuracy": 0.7,
            "original": evaluate.ORIGINAL, "peer_fer_package": evaluate.PEER_FER_PACKAGE,
            "confusion_matrix": np.eye(7, dtype=int).tolist(),
            "provenance": {"checkpoint": "models/fer2013-resnet18.pt", "training_profile": "cpu", "trained_on": "cpu",
                           "training_wall_s": 3000, "tta": "flip", "git_commit": "abc", "training_git_commit": "abd",
                           "data_hash": "h", "checkpoint_sha256": "s"}}


def test_results_table_is_built_from_the_numbers():
    loop = {"fps_one_face": 120.4, "fps_all_scenes": 40.2, "recall_ge48": 0.955, "recall_30_48": 0.8123,
            "false_positives_per_frame": 0.0125, "label_accuracy_found": 0.66, "label_accuracy_dataset_crops": 0.67,
            "faces_ge48": 900, "faces_30_48": 300, "face_free_frames": 70}
    loop["camera_feed"] = {**loop, "frames_processed_per_second": 24.5, "recall_30_48": 0.3512}
    realtime = {"device": "a test CPU", "rounds": 2, "frames_per_clip": 60, "scenes": ["640x480 with 1 face(s)"],
                "detector": "libfacedetection", "classifier": "OnnxClassifier(m.pt, onnxruntime int8, one view)",
                "camera_fps": 30.0,
                "loops": {"camera": {**loop, "fps_one_face": 150.0}, "tracking": loop,
                          "original": {**loop, "fps_one_face": 9.0}, "tracking_haar": {**loop, "fps_one_face": 40.0}},
                "real_photos_found": 0.9617, "real_photos_false_per_photo": 0.019, "real_video_fps": 76.7,
                "real_video_fps_ratio_vs_original": 6.5, "real_video_fps_live_camera": 101.2}
    precision = {"device": "a test CPU", "ms_per_face": {"onnxruntime fp32": 4.0, "onnxruntime int8": 1.0,
                                                        "pytorch fp32": 16.0},
                 "test_accuracy": {"onnxruntime fp32": 0.6715, "onnxruntime int8": 0.6714, "pytorch fp32": 0.6715}}
    readme = results.render_results(fake_metrics(), realtime)
    text = readme + "\n" + results.render_benchmarks(fake_metrics(), realtime, precision)
    assert "| happy |" not in readme and "| FPS," not in readme, "the README keeps the headline; the rest is in docs/"
    assert ("The demo (`benchmarks/realtime_fps.py` on a test CPU): 77 frames per second on the real single-person "
            "videos as a video file's loop runs them, 101 as a camera's does, 6.5x the original study's loop; 96.2 % "
            "of the faces in the real photos found.") in readme
    assert "| this study, one view | 69.00 % | 70.00 % | 69.50 % | 68.00 % |  |" in text
    assert ("| this study, test-time views `flip` (the default call) | 70.12 % | 71.23 % | 70.67 % | 69.00 % | 0.661 |"
            in text)
    assert "(the original: 78 % train)" in text and "on a test CPU, 2 alternating rounds" in text
    assert "| 65.56 % | | 0.631 |" in text and "| 68.30 % | | 0.663 |" in text
    assert "| happy | 0.500 | 0.600 | 0.550 | 10 | 0.869 | -0.319 |" in text
    assert ("| | ours, libfacedetection, a camera's loop | ours, libfacedetection, a video file's loop | original "
            "loop | ours, haar |") in text
    assert "| FPS, 640x480, one moving face | 150 | 120 | 9 | 40 |" in text
    assert "| fed as a camera: frames processed a second | 24.5 | 24.5 | 24.5 | 24.5 |" in text
    assert "| fed as a camera: recall, faces 30–48 px | 35.1 % | 35.1 % | 35.1 % | 35.1 % |" in text
    assert "as a live camera of 30 frames a second feeds it" in text
    assert "(OnnxClassifier(m.pt, onnxruntime int8, one view), smoothing 0.6)" in text
    assert ("96.2 % of the exactly counted faces found in the real photos, 0.02 boxes beyond the counts per photo, 77 "
            "frames per second on the single-person videos in a video file's loop, 6.5x the original loop, and 101 in "
            "the live camera's") in text
    assert "int8 onnxruntime 1.00 ms per face against 4.00 ms in fp32 (4.0x), test accuracy 67.14 %" in text
    assert "| recall, faces 30–48 px | 81.2 % | 81.2 % | 81.2 % | 81.2 % |" in text
    assert "900 faces of 48 px and more" in text
    assert "in 50 minutes" in text


def test_ship_stores_fp16_and_only_replaces_with_a_better_model(tiny_run, tmp_path, monkeypatch):
    target = tmp_path / "models" / "fer2013-resnet18.pt"
    monkeypatch.setattr(results, "SHIPPED_CHECKPOINT", target)
    results.ship(tiny_run["best_checkpoint"])
    shipped = load_checkpoint(target)
    assert shipped["state_dict"]["conv1.weight"].dtype.is_floating_point
    assert str(shipped["state_dict"]["conv1.weight"].dtype) == "torch.float16" and "optimizer" not in shipped
    faces = np.random.default_rng(0).integers(0, 256, (16, 48, 48), dtype=np.uint8)
    full, half = load_classifier(tiny_run["best_checkpoint"], "cpu"), load_classifier(target, "cpu")
    np.testing.assert_allclose(half.predict_proba(faces), full.predict_proba(faces), atol=2e-3)
    with pytest.raises(SystemExit, match="not shipped"):
        results.ship(tiny_run["best_checkpoint"])
    results.ship(tiny_run["best_checkpoint"], force=True)


def test_metrics_of_another_checkpoint_are_not_adopted(tmp_path, monkeypatch):
    shipped = tmp_path / "shipped.pt"
    shipped.write_bytes(b"the shipped weights")
    monkeypatch.setattr(results, "SHIPPED_CHECKPOINT", shipped)
    monkeypatch.setattr(results, "METRICS", tmp_path / "metrics.json")
    report = tmp_path / "report.json"
    report.write_text(json.dumps(fake_metrics()))
    with pytest.raises(SystemExit, match="evaluated another checkpoint"):
        results.adopt_metrics(report)
    matching = fake_metrics()
    matching["provenance"]["checkpoint_sha256"] = file_sha256(shipped)
    report.write_text(json.dumps(matching))
    results.adopt_metrics(report)
    assert json.loads((tmp_path / "metrics.json").read_text())["accuracy"]["combined"] == 0.70675


def test_the_benchmark_tables_come_from_their_json():
    from fer_utils.report.benchmark_results import render_detectors, render_evaluation_time, render_video

    detectors = {"machine": "cpu", "rounds": 2, "photos": 3, "faces_counted": 8, "detectors": {
        "haar": {"found": 0.5, "boxes_beyond_count": 4, "beyond_per_photo": 1.333, "ms_per_photo": 99.6},
        "mtcnn": {"found": 0.875, "boxes_beyond_count": 0, "beyond_per_photo": 0.0, "ms_per_photo": 50.2}}}
    text = "\n".join(render_detectors(detectors))
    assert "| haar | 50.0 % | 4 (1.33) | 100 |" in text and "| mtcnn | 87.5 % | 0 (0.00) | 50 |" in text
    stage = {"decode": 2.0, "detect": 4.0}
    video = {"machine": "cpu", "frames_per_video": 10, "width": 640, "rounds": 2, "classifier": "c",
             "single_person_clips": ["a.mp4", "b.mp4"], "stages": ["decode", "detect"],
             "loops": {"ours": {"a.mp4": {"fps": 100.4, "ms_per_frame": stage},
                                "b.mp4": {"fps": 50, "ms_per_frame": {"decode": 4.0, "detect": 8.0}},
                                "crowd.mp4": {"fps": 9, "ms_per_frame": {"decode": 40.0, "detect": 80.0}}},
                       "original": {name: {"fps": 8, "ms_per_frame": {"decode": 2.0, "recognise": 100.0}}
                                    for name in ("a.mp4", "b.mp4", "crowd.mp4")}}}
    table = render_video(video)
    assert "| ours | 100 | 50 | 9 | 3.0 | 6.0 | – |" in table  # stages: the single-person clips' mean
    assert "| original | 8 | 8 | 8 | 2.0 | – | 100.0 |" in table
    timing = {"machine": "cpu", "old_commit": "abc", "old_s": [600, 660], "new_cold_s": [120], "new_warm_s": 30,
              "differences": {"metrics.json": {"numbers": 90, "changed": 0, "largest_change": 0.0},
                              "error_analysis.json": {"numbers": 10, "changed": 1, "largest_change": 2e-8}}}
    assert "10.0 minutes with the code of abc, 2.0 with today's from cold caches and 0.5" in \
        render_evaluation_time(timing)[0] and "1 of the 100 numbers" in render_evaluation_time(timing)[0]
    assert "by at most 2e-08" in render_evaluation_time(timing)[0]


def test_the_machine_of_a_timing_names_its_widest_vector_instructions():
    block = "processor : 0\nmodel name : AMD EPYC\nflags : fpu sse avx2 {}\n"
    with_avx512 = block.format("avx512f avx512_bf16") + "\n" + block.format("")
    assert cpu_description(with_avx512).startswith("AMD EPYC (") and cpu_description(with_avx512).endswith(
        " cores, AVX-512 with bf16)")
    assert cpu_description(block.format("")).endswith(" cores, AVX2)")
    assert cpu_description(block.format("amx_tile avx512f")).endswith(" cores, AMX)")


def test_the_readme_demo_gif_is_the_demo_over_a_whole_demo_video(tiny_run, tmp_path):
    from PIL import Image

    from fer_utils.realtime.video import write_demo_gif

    test = load_arrays(SAMPLE_DIR, verbose=False).split("test")  # real faces, for the detector to find
    classifier = load_classifier(tiny_run["best_checkpoint"], "cpu")
    result = write_demo_gif(classifier, test.images, test.labels, tmp_path / "demo.gif", seconds=2.0, gif_frames=6)
    assert result["frames"] == 30, "every frame of the two-second demo video at 15 frames/s"
    assert result["recall"] > 0.8 and Image.open(tmp_path / "demo.gif").n_frames == 6


def test_the_commands_table_is_built_from_the_measured_times():
    from fer_utils.report.benchmark_results import render_commands

    metrics = {"provenance": {"trained_on": "cpu (2 threads, bf16 yes)", "training_wall_s": 3000.0}}
    ran = {"machine": "Some CPU (2 cores, AMX)", "commit": "abcdef012", "smoke_s": 61.0, "evaluate_cold_s": 900.0,
           "evaluate_warm_s": 90.0, "ci_s": 700.0, "evaluate_reproduces": {"numbers": 131, "changed": 1}}
    table = "\n".join(render_commands({"cpu, native bf16": ran}, metrics))
    assert "| `make smoke` | every notebook on a few images a class | 61 s | not measured |" in table
    assert "15 minutes cold, 1.5 minutes warm | not measured |" in table and "| 12 minutes | not measured |" in table
    assert "50 minutes of training (the shipped model's)" in table and "GPU" not in table
    assert "Some CPU (2 cores, AMX) (commit abcdef0)" in table and "gave 130 of the 131 numbers" in table
    assert "| GPU |" in "\n".join(render_commands({"cpu, native bf16": ran, "gpu": ran}, metrics))
