"""The README's tables of the benchmarks whose JSON is kept in models/: the detectors on the real photos, the demo
on the real videos with where its time goes, the crops, the evaluation report's time and the levers toward 70 %.
Text from the JSON, never by hand."""


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def render_detectors(result: dict) -> list[str]:
    """benchmarks/devfaces_detectors.py: faces found on the real photos, boxes beyond the count, time."""
    lines = [f"Face detectors on the real photos (`benchmarks/devfaces_detectors.py` on {result['machine']}, one "
             f"thread, best of {result['rounds']} alternating rounds): the {result['photos']} photos of "
             f"`../shared/devfaces` whose faces were counted exactly ({result['faces_counted']} faces). A photo's "
             "found faces are its boxes capped at its count; boxes beyond the count are false faces at least.",
             "", "| detector | faces found | boxes beyond the counts (per photo) | ms per photo |", "|---|---|---|---|"]
    for name, row in result["detectors"].items():
        lines.append(f"| {name} | {_pct(row['found'])} | {row['boxes_beyond_count']} ({row['beyond_per_photo']:.2f})"
                     f" | {row['ms_per_photo']:.0f} |")
    return lines


def render_video(result: dict) -> list[str]:
    """benchmarks/devfaces_video.py: frames per second on the real videos and milliseconds per frame by stage (a loop
    timed only as a whole, like the original, has its recognition in one "recognise" column)."""
    loops, videos = result["loops"], list(next(iter(result["loops"].values())))
    single = result["single_person_clips"]
    whole = any("recognise" in by_video[name]["ms_per_frame"] for by_video in loops.values() for name in single)
    stages = [*result["stages"], *(["recognise"] if whole else [])]
    p95 = all("ms_p95" in by_video[name] for by_video in loops.values() for name in single)
    lines = [f"The demo on the real videos (`benchmarks/devfaces_video.py` on {result['machine']}, "
             f"{result['frames_per_video']} frames of each scaled to {result['width']} px wide, best of "
             f"{result['rounds']} alternating rounds; classifier: {result['classifier']}). Frames per second end to "
             "end, and where the time of a frame goes on the single-person clips (ms)"
             + (": background is the time a frame of the full-frame searches in their own process, which the loop "
                "does not wait for" if "background" in stages else "")
             + ("; the slowest 5 % of frames take the last column's time or more, from decoding to drawing (the "
                "95th percentile: a live view stalls on them)" if p95 else "") + ":", "",
             "| loop | " + " | ".join(f"FPS {name}" for name in videos) + " | " + " | ".join(stages)
             + (" | slowest 5 % of frames |" if p95 else " |"), "|---|" + "---|" * (len(videos) + len(stages) + p95)]
    for loop, by_video in loops.items():
        cells = []
        for stage in stages:
            times = [by_video[name]["ms_per_frame"].get(stage) for name in single]
            cells.append("–" if None in times else f"{sum(times) / len(times):.1f}")
        if p95:
            cells.append(f"{sum(by_video[name]['ms_p95'] for name in single) / len(single):.1f}")
        lines.append(f"| {loop} | " + " | ".join(f"{by_video[name]['fps']:.0f}" for name in videos) + " | "
                     + " | ".join(cells) + " |")
    return lines


def render_crop_margins(result: dict) -> list[str]:
    """benchmarks/crop_margins.py: the label accuracy of each detector's faces by how they are cut."""
    lines = [f"How each detector's faces are cut (`benchmarks/crop_margins.py`: {result['frames_per_scene']} frames of "
             f"each of {len(result['scenes'])} synthetic scenes, the faces changing every {result['switch_every']} "
             f"frames, every frame detected on its own; classifier: {result['classifier']}). Label accuracy of the "
             "faces found, by crop, beside the same faces' dataset crops. Margins are fractions of the box (sides, "
             f"top, bottom), chosen on the {result['chosen_on']}; every accuracy is on the {result['reported_on']}:",
             "", "| detector | faces found (distinct) | held out | dataset crops | box as it is | chosen margins | "
             "aligned by the eyes |", "|---|---|---|---|---|---|---|"]
    for name, row in result["detectors"].items():
        aligned = _pct(row["label_accuracy_aligned"]) if "label_accuracy_aligned" in row else "–"
        margins = ", ".join(f"{m:g}" for m in row["best_margins"])
        lines.append(f"| {name} | {row['faces_found']:,} ({row['distinct_faces']}) | {row['faces_held_out']:,} | "
                     f"{_pct(row['label_accuracy_dataset_crops'])} | "
                     f"{_pct(row['label_accuracy_no_margins'])} | {_pct(row['label_accuracy_best_margins'])} "
                     f"({margins}) | {aligned} |")
    return lines


def render_evaluation_time(result: dict) -> list[str]:
    """benchmarks/evaluation_time.py: the evaluate report's time with the old code and today's, cold and warm."""
    changed = sum(d["changed"] for d in result["differences"].values())
    compared = sum(d["numbers"] for d in result["differences"].values())
    largest = max(d["largest_change"] for d in result["differences"].values())
    return [f"`make report PROFILE=evaluate` (`benchmarks/evaluation_time.py` on {result['machine']}): "
            f"{min(result['old_s']) / 60:.1f} minutes with the code of {result['old_commit']}, "
            f"{min(result['new_cold_s']) / 60:.1f} with today's from cold caches and "
            f"{result['new_warm_s'] / 60:.1f} when the logits are cached; {changed} of the {compared} numbers in "
            f"metrics.json and error_analysis.json differ between the two, by at most {largest:.1g}."]


def render_levers(result: dict) -> list[str]:
    """fer_utils.training.levers: each lever toward 70 % (the recipe, distillation, a refit, both), validation and
    test."""
    def score(value) -> str:
        return "–" if value is None else _pct(value)

    lines = [f"The levers toward the original study's 70 % (`python -m fer_utils.training.levers` on "
             f"{result['machine']}). A refit trains on every training image with the views its recipe chose on "
             "validation, so it has no validation accuracy of its own.", "",
             "| run | distilled from | trained on | epochs | minutes | validation, one view | validation, its views "
             "| test, one view | test, its views |", "|---|---|---|---|---|---|---|---|---|"]
    for row in result["runs"]:
        teacher = f"{row['teacher']} ({row['distill']:g})" if row["teacher"] else "–"
        lines.append(f"| {row['run']} | {teacher} | {'train + validation' if row['refit'] else 'train'} | "
                     f"{row['epochs']} | {row['minutes']:.0f} | {score(row['val_one_view'])} | "
                     f"{score(row['val_views'])} | {_pct(row['test_one_view'])} | {_pct(row['test_views'])} "
                     f"({row['views']}) |")
    best = next(row for row in result["runs"] if row["run"] == result["best_by_validation"])
    reached = "reaches" if best["test_views"] >= 0.70 else "does not reach"
    lines += ["", f"Best by validation: {best['run']}, {_pct(best['test_views'])} on test with its views, which "
                  f"{reached} 70 %."]
    return lines


KINDS = {"cpu, native bf16": "CPU with native bf16 (AVX-512 bf16 or AMX)", "cpu, no native bf16": "CPU without (AVX2)",
         "gpu": "GPU"}  # benchmarks/command_times.py's machine kinds; the GPU's column shows once it has run there


def render_commands(times: dict, metrics: dict, evaluation: dict | None = None) -> list[str]:
    """The README's table of how long each command takes, a column for each kind of 2-core CPU: from
    benchmarks/command_times.py (models/command-times.json), the shipped model's own training record (metrics.json)
    and, for a kind that command_times has not run on, benchmarks/evaluation_time.py."""
    prov = metrics["provenance"]
    trained_bf16 = "bf16 yes" in prov["trained_on"]

    def minutes(seconds: float) -> str:
        return f"{seconds / 60:.1f} minutes" if seconds < 600 else f"{seconds / 60:.0f} minutes"

    def cells(kind: str) -> dict:
        ran = times.get(kind, {})
        out = {}
        if trained_bf16 == (kind == "cpu, native bf16"):
            out["report"] = f"{minutes(prov['training_wall_s'])} of training (the shipped model's), then the evaluation"
        elif kind == "cpu, no native bf16":
            out["report"] = "about 6 hours of training, estimated from 13 of its 28 epochs (docs/experiments.md)"
        if "evaluate_cold_s" in ran:
            out["evaluate"] = f"{minutes(ran['evaluate_cold_s'])} cold, {minutes(ran['evaluate_warm_s'])} warm"
        elif evaluation and kind == "cpu, no native bf16" and "AVX-512" not in evaluation["machine"]:
            out["evaluate"] = (f"{minutes(min(evaluation['new_cold_s']))} cold, {minutes(evaluation['new_warm_s'])} "
                               "warm")
        for key, name in (("smoke_s", "smoke"), ("test_fast_s", "test-fast"), ("ci_s", "test")):
            if key in ran:
                out[name] = f"{ran[key]:.0f} s" if ran[key] < 120 else minutes(ran[key])
        return out

    columns = {kind: cells(kind) for kind in KINDS if kind != "gpu" or kind in times}
    rows = [("`make report`", "trains the shipped model's recipe (`cpu` profile), then runs notebooks 01–05", "report"),
            ("`make report PROFILE=evaluate`", "trains nothing: evaluates, analyses and demos the shipped model "
             "(cold: no logits cached yet)", "evaluate"),
            ("`make smoke`", "every notebook on a few images a class", "smoke"),
            ("`make test-fast`", "the tests of the edit loop", "test-fast"),
            ("`make test`", "every test, as CI runs it (`.ci/run` on a clean clone, its setup included)", "test")]
    lines = ["| command | what it does | " + " | ".join(KINDS[kind] for kind in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for command, what, key in rows:
        measured = [column.get(key, "not measured") for column in columns.values()]
        lines.append(f"| {command} | {what} | " + " | ".join(measured) + " |")
    machines = [f"{times[kind]['machine']} (commit {times[kind]['commit'][:7]})" for kind in KINDS if kind in times]
    sources = [f"`benchmarks/command_times.py` on {', '.join(machines)}"] if machines else []
    if evaluation and not all("evaluate_cold_s" in times.get(kind, {}) for kind in columns):
        sources.append(f"`benchmarks/evaluation_time.py` on {evaluation['machine']}")
    lines += ["", f"Measured by {' and '.join(sources)}; the training time is the shipped model's own record "
              f"(trained on {prov['trained_on']}). Generated by `python -m fer_utils.report.results render`."]
    reproduced = [times[kind]["evaluate_reproduces"] for kind in KINDS if "evaluate_reproduces" in times.get(kind, {})]
    if reproduced:
        lines[-1] += (f" The evaluation gave {reproduced[0]['numbers'] - reproduced[0]['changed']} of the "
                      f"{reproduced[0]['numbers']} numbers in `models/fer2013-resnet18.metrics.json` again.")
    return lines


def render_score_folder(result: dict) -> list[str]:
    """benchmarks/score_folder.py: the command's speed on crops and photos, and its score on FER+'s own PNGs."""
    targets = result["targets"]
    return [f"`make score-folder` (`benchmarks/score_folder.py` on {result['cpu']}): 1,000 FER2013 test faces as "
            f"48-px crops scored in {result['crops_1000_s']:.0f} s (target {targets['crops_1000_s']} s), and 200 "
            f"photos of FER2013 test faces pasted at 90-180 px into 320x240 scenes in {result['photos_200_s']:.0f} s "
            f"(target {targets['photos_200_s']} s; a face found in {result['photos_scored']}, accuracy "
            f"{_pct(result['photos_accuracy'])}). On FER+'s lossless PrivateTest PNGs in folders by their FER+ "
            f"majority ({result['ferplus_privatetest_images']:,} images) it scores "
            f"{_pct(result['ferplus_privatetest_accuracy'])}, against "
            f"{_pct(result['metrics_ferplus_privatetest_accuracy'])} for the Kaggle JPEGs of the same faces in the "
            f"metrics: {result['ferplus_gap_points']:.2f} points apart (target under {targets['ferplus_gap_points']})."]


def render_ferplus_training(result: dict) -> list[str]:
    """fer_utils.evaluation.label_noise: the shipped model and the one trained on FER+'s votes, on both label sets."""
    lines = ["The shipped recipe trained on FER2013's labels and on FER+'s vote distributions "
             "(`python -m fer_utils.evaluation.label_noise runs/cpu-ferplus/best.pt --write`; the default call, FER+ "
             "counted on the images with a majority among the seven):", "",
             "| profile | targets | validation, FER2013 | validation, FER+ | PrivateTest, FER2013 | PrivateTest, FER+ "
             "| test, FER2013 | test, FER+ | macro F1, FER2013 / FER+ | minutes |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for m in result["models"]:
        test = m["combined test"]
        lines.append(f"| {m['profile']} | {m['labels']} | {_pct(m['validation']['fer2013'])} | "
                     f"{_pct(m['validation']['ferplus'])} | {_pct(m['PrivateTest']['fer2013'])} | "
                     f"{_pct(m['PrivateTest']['ferplus'])} | {_pct(test['fer2013'])} | {_pct(test['ferplus'])} | "
                     f"{test['macro_f1_fer2013']:.3f} / {test['macro_f1_ferplus']:.3f} | {m['training_minutes']:.0f} "
                     f"on {m['trained_on']} |")
    return lines
