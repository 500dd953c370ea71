"""Where the project keeps its data, configs, reports and models."""

import os
from pathlib import Path


def project_root() -> Path:
    """The repository root: ``FER_PROJECT_ROOT``, else the checkout that holds this package."""
    if os.environ.get("FER_PROJECT_ROOT"):
        return Path(os.environ["FER_PROJECT_ROOT"]).resolve()
    return Path(__file__).resolve().parents[1]


ROOT = project_root()
DATA_DIR = ROOT / "data"
CONFIG_DIR = ROOT / "configs"
REPORTS_DIR = ROOT / "reports"
MODELS_DIR = ROOT / "models"
SHIPPED_CHECKPOINT = MODELS_DIR / "fer2013-resnet18.pt"
RUNS_DIR = Path(os.environ.get("FER_RUNS_DIR") or ROOT / "runs")
NOTEBOOKS_DIR = ROOT / "notebooks"


def reports_path(reports_dir: str | Path = "") -> Path:
    """The folder a notebook writes its figures and JSON to (made if missing): ``reports_dir``, else reports/."""
    folder = Path(reports_dir) if reports_dir else REPORTS_DIR
    (folder / "figures").mkdir(parents=True, exist_ok=True)
    return folder


def run_checkpoint(profile: str, runs_dir: str | Path = RUNS_DIR) -> Path:
    """Where training with ``profile`` leaves its best checkpoint: runs/<profile>/best.pt."""
    return Path(runs_dir) / profile / "best.pt"


def devfaces_dir() -> Path:
    """The real photos and videos of faces for detector checks: ``FER_DEVFACES``, else ../shared/devfaces beside the
    checkout (never copied into the repository)."""
    return Path(os.environ.get("FER_DEVFACES") or ROOT.parent / "shared" / "devfaces")
