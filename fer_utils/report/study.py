"""What notebooks 03-05 start from: the checkpoint as a classifier, FER2013 (loaded when first asked for), and the
folder to write to."""

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..data.fer2013 import FERArrays, load_arrays
from ..model.classifier import FERClassifier, load_classifier
from ..paths import reports_path


@dataclass
class Study:
    classifier: FERClassifier
    reports: Path
    data_dir: str = ""
    max_per_class: int = 0

    @property
    def figures(self) -> Path:
        return self.reports / "figures"

    @cached_property
    def arrays(self) -> FERArrays:
        arrays = load_arrays(self.data_dir or None)
        return arrays.per_class(self.max_per_class) if self.max_per_class else arrays

    @property
    def test(self) -> FERArrays:
        return self.arrays.split("test")


def open_study(checkpoint: str = "", device: str = "auto", data_dir: str = "", max_per_class: int = 0,
               reports_dir: str = "") -> Study:
    """Load ``checkpoint`` (empty: the shipped model, else the newest run) and say what was loaded. The network runs
    in onnxruntime on a CPU where that is installed, and each image set's logits are computed once
    (``fer_utils.model.logit_cache``)."""
    classifier = load_classifier(checkpoint or None, device, engine="auto", cache=True)
    print(classifier)
    print(f"trained with profile {classifier.provenance.get('profile')} on {classifier.provenance.get('device')}")
    return Study(classifier, reports_path(reports_dir), data_dir, max_per_class)
