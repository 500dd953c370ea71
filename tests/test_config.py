import os
import shutil
import subprocess
import sys

import pytest

from fer_utils.paths import ROOT
from fer_utils.report import pipeline
from fer_utils.training import config
from fer_utils.training.config import ConfigError, TrainConfig, training_config


@pytest.mark.parametrize("key, value, allowed", [
    ("balance", "sampel", "none, loss, sampler"),
    ("amp", "bf61", "auto, bf16, off"),
    ("labels", "crowd", "fer2013, ferplus"),
    ("tta", "mirror", "auto, none, flip, ten-crop"),
    ("in_channels", 2, "1, 3"),
])
def test_a_wrong_value_names_the_allowed_ones(key, value, allowed):
    with pytest.raises(ConfigError, match=f"{key} must be one of {allowed}; got {value!r}"):
        training_config("cpu", {key: value})


@pytest.mark.parametrize("key, value, message", [
    ("epochs", "ten", "epochs must be of type int, got 'ten'"),
    ("epochs", 2.5, "epochs must be of type int"),
    ("lr", True, "lr must be of type float, got True"),
    ("clean", "yes", "clean must be of type bool"),
    ("val_fraction", 0.0, r"val_fraction .* must lie in \(0, 1\), got 0.0"),
    ("epochs", 0, "epochs must be positive"),
    ("flip", 1.5, r"flip is a probability and must lie in \[0, 1\], got 1.5"),
    ("flip", -0.1, r"flip is a probability"),
    ("ema", 1.0, r"ema must lie in \[0, 1\)"),
    ("minutes", -5.0, "minutes must be 0 \\(no time budget\\) or positive, got -5.0"),
    ("small_input", 48, "small_input must be 0 \\(off\\) or from 8 up to below input_size 48, got 48"),
    ("small_share", 1.0, r"small_share must lie in \[0, 1\)"),
])
def test_a_wrong_type_or_range_is_an_error(key, value, message):
    with pytest.raises(ConfigError, match=message):
        training_config("cpu", {key: value})


@pytest.mark.parametrize("profile, changed", [("cpu-ferplus", {"labels"})])
def test_a_variant_profile_is_the_cpu_recipe_with_only_its_change(profile, changed):
    recipe, variant = training_config("cpu").as_dict(), training_config(profile).as_dict()
    assert {key for key, value in variant.items() if recipe[key] != value} - {"profile"} == changed


def test_numbers_are_accepted_where_floats_are_expected():
    assert training_config("cpu", {"lr": 1}).lr == 1


def test_a_mirror_image_every_time_is_allowed():
    assert TrainConfig(flip=1.0).flip == 1.0 and TrainConfig(flip=0.0).flip == 0.0


def test_an_unknown_training_option_is_an_error():
    with pytest.raises(ConfigError, match="unknown training options balanse"):
        training_config("cpu", {"balanse": "loss"})


def test_a_profile_key_that_is_no_training_option_is_an_error(tmp_path):
    profile = tmp_path / "typo.yaml"
    profile.write_text("epochs: 3\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="typo.yaml sets learning_rate, which are not training options.*"
                                          "parameters for the notebooks alone go under notebooks:"):
        config.load_profile(str(profile))


def test_notebook_parameters_sit_in_their_own_section_which_the_pipeline_checks(tmp_path):
    assert config.load_profile("smoke")["notebooks"]["demo_seconds"] > 0  # notebook 05's, not a training option
    assert "demo_seconds" in pipeline.notebook_parameters()["05-webcam-demo"]
    assert pipeline.notebook_inputs("smoke", {}, tmp_path, tmp_path)["05-webcam-demo"]["demo_seconds"] == 4.0
    profile = tmp_path / "typo.yaml"
    profile.write_text("epochs: 3\nnotebooks:\n  demo_secs: 4.0\n")
    assert training_config(str(profile)).epochs == 3  # training reads its own keys only
    with pytest.raises(ConfigError, match="notebooks section of profile .* sets demo_secs, which neither training "
                                          "nor any notebook uses"):
        pipeline.notebook_inputs(str(profile), {}, tmp_path, tmp_path)


@pytest.mark.slow  # a process of its own
def test_training_configuration_needs_no_notebooks(tmp_path):
    """config is the lowest layer: a copy of the package and the profiles, without notebooks/, trains."""
    shutil.copytree(ROOT / "fer_utils", tmp_path / "fer_utils", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(config.CONFIG_DIR, tmp_path / "configs")
    code = (f"import fer_utils.training.config as c; assert c.__file__.startswith({str(tmp_path)!r}); "
            "print(c.training_config('smoke').epochs)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2" and not (tmp_path / "notebooks").exists()


def test_every_shipped_profile_is_a_valid_training_configuration():
    for profile in config.CONFIG_DIR.glob("*.yaml"):
        training_config(profile.stem)


def test_the_pipeline_refuses_an_unknown_or_bad_override_before_running_anything(tmp_path):
    with pytest.raises(ConfigError, match="-p sets epoch, which neither training nor any notebook uses"):
        pipeline.run("smoke", overrides={"epoch": 3}, output_dir=tmp_path)
    with pytest.raises(ConfigError, match="balance must be one of"):
        pipeline.run("smoke", overrides={"balance": "sampel"}, output_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_training_overrides_that_notebook_02_does_not_declare_reach_it_as_options(tmp_path):
    inputs = pipeline.notebook_inputs("smoke", {"epochs": 1, "max_per_class": 5}, tmp_path, tmp_path / "runs")
    assert inputs["02-training"]["options"] == {"epochs": 1}
    assert inputs["02-training"]["max_per_class"] == 5 and inputs["01-data-exploration"]["max_per_class"] == 5
    assert inputs["03-evaluation"]["checkpoint"] == str(tmp_path / "runs" / "smoke" / "best.pt")
    assert inputs["04-error-analysis"]["reports_dir"] == str(tmp_path.resolve())
    assert "epochs" not in inputs["03-evaluation"]
    assert pipeline.notebook_inputs("evaluate", {}, tmp_path, tmp_path)["03-evaluation"]["checkpoint"] == ""


@pytest.mark.slow  # a process of its own
def test_the_training_command_line_says_what_is_wrong_without_a_traceback():
    done = subprocess.run([sys.executable, "-m", "fer_utils.training.train", "--profile", "smoke", "--set", "amp=bf61"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "amp must be one of auto, bf16, off; got 'bf61'" in done.stderr and "Traceback" not in done.stderr


def test_the_pipeline_names_the_data_folder_once_for_every_notebook(tiny_fer, monkeypatch):
    """Notebooks get FER2013 as a papermill parameter, never through the environment: an absolute folder, or
    empty for the default data/fer2013 (so that the training configuration stays the profile's)."""
    assert pipeline.data_folder(str(tiny_fer)) == str(tiny_fer.resolve())
    monkeypatch.setattr(pipeline, "ensure_fer2013", lambda folder: pipeline.DEFAULT_DIR)
    assert pipeline.data_folder("") == ""
