"""FER+'s votes: its majority rule and vote distributions on its own rows, the join of Kaggle's FER2013 to FER+ by
pixels on real images from both archives, and what the study does where the votes are absent."""

import csv
import io
import zipfile

import cv2
import numpy as np
import pytest
import torch

from fer_utils.data import ferplus
from fer_utils.data.fer2013 import FERArrays, convert_csv, load_arrays
from fer_utils.evaluation import label_noise
from fer_utils.labels import EMOTIONS
from fer_utils.paths import ROOT
from fer_utils.training import train
from fer_utils.training.config import ConfigError, TrainConfig

SHARED = ROOT.parent / "shared" / "data"
KAGGLE_ZIP, FERPLUS_ZIP = SHARED / "fer2013.zip", SHARED / "ferplus" / "ferplus-images.zip"
needs_archives = pytest.mark.skipif(not (KAGGLE_ZIP.exists() and FERPLUS_ZIP.exists()),
                                    reason=f"FER2013's and FER+'s archives are not in {SHARED}")
USAGES, NAMES, VOTES = ferplus.read_votes()
SHIPPED_JOIN = sorted(ferplus.FERPLUS_DIR.glob("join-*.csv"))[0]


def votes_of(image_name: str) -> np.ndarray:
    return VOTES[list(NAMES).index(image_name)]


@pytest.mark.parametrize("image, expected", [
    ("fer0000001.png", "neutral"),  # 6 neutral, 2 unknown and two single votes: 6 of the 8 that count
    ("fer0000002.png", "neutral"),  # 5 neutral, 3 sad, a single anger and a single unknown: 5 of 8 once they go
    ("fer0000021.png", "fear"),  # 5 fear of 10, but of 7 once the three single votes go
    ("fer0000000.png", ferplus.NO_LABEL),  # 4 neutral, 3 anger, 2 disgust: 4 is not more than half of 9
    ("fer0000003.png", ferplus.NO_LABEL),  # 4 neutral, 4 sad: a tie
    ("fer0000495.png", ferplus.OUTSIDE),  # 5 contempt of 8
])
def test_the_majority_follows_ferplus_rule_on_its_own_rows(image, expected):
    label = ferplus.majority(votes_of(image))[0]
    assert label == (EMOTIONS.index(expected) if isinstance(expected, str) else expected)


def test_not_a_face_and_a_row_without_votes_have_no_label_among_the_seven():
    not_a_face = VOTES[(NAMES == "") & (VOTES[:, 9] == 10)][:1]
    assert ferplus.majority(not_a_face)[0] == ferplus.OUTSIDE
    assert ferplus.majority(np.zeros((1, 10), int))[0] == ferplus.NO_LABEL


def test_vote_distributions_sum_to_one_and_follow_the_votes():
    soft = ferplus.distributions(VOTES)
    kept = soft.sum(1) > 0
    np.testing.assert_allclose(soft[kept].sum(1), 1, atol=1e-6)
    assert 0.95 < kept.mean() < 1  # FER+ discards a few rows: split votes, unknown, not a face
    neutral, sad = EMOTIONS.index("neutral"), EMOTIONS.index("sad")
    two = soft[list(NAMES).index("fer0000002.png")]  # 5 neutral, 3 sad once the single votes go
    np.testing.assert_allclose(two[[neutral, sad]], [5 / 8, 3 / 8], atol=1e-6)
    assert soft[list(NAMES).index("fer0000495.png")].sum() == 0  # contempt is not among the seven


def test_the_shipped_join_agrees_with_ferplus_on_most_labels():
    arrays = load_kaggle_names()
    crowd = ferplus.majority(ferplus.votes_for(arrays))
    has = crowd >= 0
    assert has.mean() > 0.85
    assert 0.6 < (crowd[has] == arrays.labels[has]).mean() < 0.75  # about two thirds, as FER+ reports


def load_kaggle_names() -> FERArrays:
    """The names and labels of the shipped join's images, with blank pixels: what a lookup by name needs."""
    with open(SHIPPED_JOIN, newline="") as handle:
        names = [row["name"] for row in csv.DictReader(handle)]
    labels = np.array([EMOTIONS.index(name.split("/")[1]) for name in names])
    splits = np.array(["train" if n.startswith("train") else n.split("/")[2].split("_")[0] for n in names])
    data_hash = SHIPPED_JOIN.stem.removeprefix("join-")
    return FERArrays(np.zeros((len(names), 48, 48), np.uint8), labels, splits, np.array(names), data_hash)


def kaggle_sample(per_split: int = 12) -> tuple[FERArrays, dict]:
    """Real images from Kaggle's zip, a few of each split, with the rows the shipped join gives them."""
    with open(SHIPPED_JOIN, newline="") as handle:
        joined = {row["name"]: int(row["row"]) for row in csv.DictReader(handle) if row["ambiguous"] == "0"}
    chosen = [name for prefix in ("train/", "test/happy/PublicTest", "test/sad/PrivateTest")
              for name in sorted(n for n in joined if n.startswith(prefix) and joined[n] >= 0)[:per_split]]
    with zipfile.ZipFile(KAGGLE_ZIP) as zf:
        images = np.stack([cv2.imdecode(np.frombuffer(zf.read(name), np.uint8), cv2.IMREAD_GRAYSCALE)
                           for name in chosen])
    splits = np.array(["train" if n.startswith("train") else n.split("/")[2].split("_")[0] for n in chosen])
    labels = np.array([EMOTIONS.index(n.split("/")[1]) for n in chosen])
    return FERArrays(images, labels, splits, np.array(chosen), "sample"), {n: joined[n] for n in chosen}


def ferplus_sample(rows: list[int], extra: int, path):
    """A FER+ image zip in FER+'s layout with the images of ``rows`` and ``extra`` others of each folder."""
    wanted = {f"{NAMES[row]}" for row in rows}
    with zipfile.ZipFile(FERPLUS_ZIP) as source, zipfile.ZipFile(path, "w") as out:
        taken = {}
        for member in source.namelist():
            folder, _, name = member.rpartition("/")
            if not name.endswith(".png"):
                continue
            if name in wanted or taken.get(folder, 0) < extra:
                taken[folder] = taken.get(folder, 0) + (name not in wanted)
                out.writestr(member, source.read(member))
    return path


@needs_archives
def test_the_join_matches_real_kaggle_jpegs_to_their_ferplus_rows(tmp_path):
    arrays, expected = kaggle_sample()
    archive = ferplus_sample(list(expected.values()), extra=40, path=tmp_path / "ferplus.zip")
    table, report = ferplus.join(arrays, archive)
    assert dict(zip(table["name"], table["row"])) == expected
    assert report["coverage"] == 1 and report["rms_percentiles"]["p100"] < 2.5  # JPEG's error, no more


@needs_archives
def test_an_altered_copy_fails_loudly_and_writes_nothing(tmp_path):
    arrays, expected = kaggle_sample()
    archive = ferplus_sample(list(expected.values()), extra=40, path=tmp_path / "ferplus.zip")
    mirrored = FERArrays(arrays.images[:, :, ::-1].copy(), arrays.labels, arrays.splits, arrays.names, "mirrored")
    with pytest.raises(ferplus.JoinError, match="not FER2013's images as FER\\+ has them"):
        ferplus.join(mirrored, archive)


@needs_archives
def test_the_join_command_refuses_another_data_set_and_writes_nothing(tiny_fer, tmp_path, capsys):
    archive = ferplus_sample([], extra=40, path=tmp_path / "ferplus.zip")
    assert ferplus.main(["--images", str(archive), "--data-dir", str(tiny_fer), "--out", str(tmp_path / "out")]) == 1
    assert "not FER2013's images as FER+ has them" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_images_from_the_challenge_csv_take_their_votes_by_row(tmp_path):
    table = tmp_path / "fer2013.csv"  # a row of each class in each split: what convert_csv names its images after
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for row in range(21):
            usage = ("Training", "PublicTest", "PrivateTest")[row // 7]
            writer.writerow([row % 7, " ".join([str(row)] * 48 * 48), usage])
    with pytest.warns(UserWarning, match="subset"):
        converted = load_arrays(convert_csv(table, tmp_path / "fer2013"), verbose=False)
    assert sorted(int(ferplus.CSV_NAME.search(name)[1]) for name in converted.names) == list(range(21))
    assert all(image.mean() == int(ferplus.CSV_NAME.search(name)[1])
               for image, name in zip(converted.images, converted.names))

    rows = np.array([0, 2, 28709, 32298])  # Training, Training, PublicTest, PrivateTest rows of the full CSV
    splits = np.array(["train", "train", "PublicTest", "PrivateTest"])
    names = np.array([f"{'train' if split == 'train' else 'test'}/angry/{USAGES[row]}_{row:05d}.png"
                      for row, split in zip(rows, splits)])
    arrays = FERArrays(np.zeros((4, 48, 48), np.uint8), np.zeros(4, int), splits, names, "no join for this hash")
    np.testing.assert_array_equal(ferplus.votes_for(arrays), VOTES[rows])


def test_where_the_votes_are_absent_the_study_says_so_in_one_line(tiny_data):
    arrays = load_arrays(tiny_data, verbose=False)
    votes, message = label_noise.crowd_votes(arrays)
    assert votes is None
    assert "FER+ votes are not available" in message and "python -m fer_utils.data.ferplus" in message
    assert "\n" not in message


def test_training_on_the_votes_takes_their_distributions_and_keeps_the_label_where_ferplus_has_none():
    arrays = load_kaggle_names().split("train")
    targets = train.training_targets(TrainConfig(labels="ferplus"), arrays, torch.device("cpu")).numpy()
    np.testing.assert_allclose(targets.sum(1), 1, atol=1e-6)
    soft = ferplus.distributions(ferplus.votes_for(arrays))
    discarded = soft.sum(1) == 0
    np.testing.assert_array_equal(targets[discarded].argmax(1), arrays.labels[discarded])
    np.testing.assert_allclose(targets[~discarded], soft[~discarded])


def test_training_on_the_votes_of_images_without_them_is_a_clear_error(tiny_data):
    with pytest.raises(ConfigError, match="labels=ferplus: no FER\\+ join for these images"):
        train.training_targets(TrainConfig(labels="ferplus"), load_arrays(tiny_data, verbose=False).split("train"),
                               torch.device("cpu"))


def test_scores_count_only_images_with_a_majority_and_the_errors_ferplus_sides_with():
    labels = np.array([0, 0, 1, 2, 3, 4])
    crowd = np.array([0, 4, 1, ferplus.NO_LABEL, 5, 4])
    predicted = np.array([0, 4, 2, 2, 3, 6])
    subsets = {"PublicTest": np.array([1, 1, 1, 0, 0, 0], bool), "PrivateTest": np.array([0, 0, 0, 1, 1, 1], bool),
               "combined": np.ones(6, bool)}
    scores = label_noise.scores(labels, crowd, predicted, subsets)
    assert scores["n_images"] == {"PublicTest": 3, "PrivateTest": 2, "combined": 5}
    assert scores["accuracy"]["PublicTest"] == pytest.approx(2 / 3)  # 0=0, 4=4, 2≠1
    assert scores["label_agreement"]["combined"] == pytest.approx(3 / 5)
    assert scores["errors_ferplus_agrees_with_model"]["PublicTest"] == pytest.approx(1 / 2)  # of 0→4 and 1→2
    verdicts = label_noise.verdicts(labels, crowd, predicted)
    assert verdicts["sides with the model"] == pytest.approx(1 / 3)  # errors: 0→4 (model), 1→2 (label), 4→6 (label)
    assert verdicts["sides with FER2013's label"] == pytest.approx(2 / 3)


def test_the_label_confusion_counts_fer2013_labels_against_the_majority():
    matrix = label_noise.label_confusion(np.array([5, 5, 2, 1]), np.array([4, 5, 4, ferplus.OUTSIDE]))
    assert matrix.sum() == 3 and matrix[5, 4] == 1 and matrix[5, 5] == 1 and matrix[2, 4] == 1


def test_vote_titles_name_the_votes_that_count():
    title = label_noise.vote_titles([EMOTIONS.index("sad")], [EMOTIONS.index("neutral")],
                                    [votes_of("fer0000002.png")])[0]
    assert title == "sad→neutral\nne5 sa3"


def test_votes_ship_with_their_licence():
    assert "MIT License" in (ferplus.FERPLUS_DIR / "LICENSE.md").read_text()
    assert io.StringIO((ferplus.FERPLUS_DIR / "fer2013new.csv").read_text()).readline().startswith("Usage,Image name")
