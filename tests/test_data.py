import csv
import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SAMPLE_DIR, write_tiny_fer, zip_folder

from fer_utils import EMOTIONS
from fer_utils.data import audit
from fer_utils.data import fer2013 as data
from fer_utils.data.fer2013 import DatasetError


def test_existing_folder_is_used_as_it_is(tiny_fer, no_sources):
    assert data.ensure_fer2013(tiny_fer) == tiny_fer
    arrays = data.load_arrays(tiny_fer, verbose=False)
    assert arrays.images.shape == (7 * 7, 48, 48) and arrays.images.dtype == np.uint8
    assert sorted(set(arrays.splits)) == ["PrivateTest", "PublicTest", "train"]
    assert np.bincount(arrays.labels).tolist() == [7] * 7


def test_folder_named_by_env(tiny_fer, no_sources, monkeypatch, tmp_path):
    monkeypatch.setenv("FER2013_DIR", str(tiny_fer))
    assert data.ensure_fer2013(tmp_path / "data" / "fer2013") == tiny_fer


@pytest.mark.parametrize("prefix", ["", "fer2013/"])
def test_zip_is_extracted_to_the_same_arrays(tiny_fer, no_sources, monkeypatch, tmp_path, prefix):
    archive = zip_folder(tiny_fer, tmp_path / "fer2013.zip", prefix)
    monkeypatch.setenv("FER2013_ZIP", str(archive))
    dest = tmp_path / "data" / "fer2013"
    assert data.ensure_fer2013(dest) == dest
    extracted, original = data.load_arrays(dest, verbose=False), data.load_arrays(tiny_fer, verbose=False)
    np.testing.assert_array_equal(extracted.images, original.images)
    np.testing.assert_array_equal(extracted.names, original.names)
    assert extracted.data_hash == original.data_hash


def test_zip_found_beside_the_data_folder(tiny_fer, no_sources, tmp_path):
    (tmp_path / "data").mkdir()
    zip_folder(tiny_fer, tmp_path / "data" / "fer2013.zip")
    assert data.is_kaggle_layout(data.ensure_fer2013(tmp_path / "data" / "fer2013"))


def test_csv_is_converted_with_its_label_order(no_sources, monkeypatch, tmp_path):
    rng = np.random.default_rng(1)
    table = tmp_path / "fer2013.csv"
    rows = [(label, usage) for label in range(7) for usage in ("Training", "Training", "PublicTest", "PrivateTest")]
    pixels = [rng.integers(0, 256, 48 * 48) for _ in rows]
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for (label, usage), values in zip(rows, pixels):
            writer.writerow([label, " ".join(map(str, values)), usage])
    monkeypatch.setenv("FER2013_CSV", str(table))
    arrays = data.load_arrays(tmp_path / "data" / "fer2013", verbose=False)
    assert len(arrays) == len(rows)
    sad = EMOTIONS.index("sad")  # id 4 in the CSV, which lists sad before surprise and neutral
    row = rows.index((4, "Training"))
    match = np.flatnonzero((arrays.images.reshape(len(arrays), -1) == pixels[row]).all(axis=1))
    assert arrays.labels[match].tolist() == [sad] and arrays.splits[match].tolist() == ["train"]
    assert (arrays.splits == "PrivateTest").sum() == 7


def test_csv_with_a_bad_row_names_the_line(no_sources, monkeypatch, tmp_path):
    table = tmp_path / "fer2013.csv"
    table.write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
    monkeypatch.setenv("FER2013_CSV", str(table))
    with pytest.raises(DatasetError, match="line 2"):
        data.ensure_fer2013(tmp_path / "data" / "fer2013")
    assert not (tmp_path / "data" / "fer2013").exists()


def test_nothing_found_names_all_four_ways(no_sources, tmp_path):
    with pytest.raises(DatasetError) as err:
        data.ensure_fer2013(tmp_path / "data" / "fer2013")
    for way in ("FER2013_DIR", "FER2013_ZIP", "FER2013_CSV", "kagglehub"):
        assert way in str(err.value)


def test_corrupt_zip_is_a_clear_error(no_sources, monkeypatch, tmp_path):
    archive = tmp_path / "fer2013.zip"
    archive.write_bytes(b"PK\x03\x04 not really a zip" * 100)
    monkeypatch.setenv("FER2013_ZIP", str(archive))
    with pytest.raises(DatasetError, match="not a readable zip"):
        data.ensure_fer2013(tmp_path / "data" / "fer2013")


def test_zip_with_a_damaged_member_names_it(tiny_fer, no_sources, monkeypatch, tmp_path):
    archive = tmp_path / "fer2013.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("train/angry/Training_1.png", b"x" * 4000)
    raw = bytearray(archive.read_bytes())
    raw[100] ^= 0xFF  # inside the stored member's data
    archive.write_bytes(bytes(raw))
    monkeypatch.setenv("FER2013_ZIP", str(archive))
    with pytest.raises(DatasetError, match="Training_1.png"):
        data.ensure_fer2013(tmp_path / "data" / "fer2013")


def test_zip_with_the_wrong_layout_is_refused(tiny_fer, no_sources, monkeypatch, tmp_path):
    archive = tmp_path / "fer2013.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("images/face1.jpg", b"...")
    monkeypatch.setenv("FER2013_ZIP", str(archive))
    with pytest.raises(DatasetError, match="Kaggle layout"):
        data.ensure_fer2013(tmp_path / "data" / "fer2013")
    assert not (tmp_path / "data" / "fer2013").exists()


def test_empty_class_folder_is_named(tiny_fer, no_sources):
    shutil.rmtree(tiny_fer / "test" / "disgust")
    (tiny_fer / "test" / "disgust").mkdir()
    with pytest.raises(DatasetError, match="empty class folder .*test/disgust"):
        data.ensure_fer2013(tiny_fer)


def test_missing_class_folder_and_stray_folder_are_named(tiny_fer, no_sources):
    (tiny_fer / "train" / "happy").rename(tiny_fer / "train" / "joy")
    with pytest.raises(DatasetError) as err:
        data.ensure_fer2013(tiny_fer)
    assert "missing class folder" in str(err.value) and "joy" in str(err.value)


def test_existing_folder_in_the_wrong_layout_is_left_alone(no_sources, tmp_path):
    folder = tmp_path / "data" / "fer2013"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not FER2013 in Kaggle layout"):
        data.ensure_fer2013(folder)
    assert (folder / "notes.txt").read_text() == "mine"


def test_unreadable_and_wrong_size_images_are_named(tiny_fer, no_sources):
    (tiny_fer / "train" / "fear" / "Training_2000.png").write_bytes(b"not an image")
    cv2.imwrite(str(tiny_fer / "test" / "sad" / "PublicTest_9999.png"), np.zeros((64, 64), np.uint8))
    with pytest.raises(DatasetError) as err:
        data.load_arrays(tiny_fer, verbose=False)
    assert "Training_2000.png: cannot be decoded" in str(err.value)
    assert "PublicTest_9999.png: is 64x64" in str(err.value)


def test_colour_image_is_converted_with_a_warning(tiny_fer, no_sources):
    cv2.imwrite(str(tiny_fer / "train" / "happy" / "Training_colour.png"), np.full((48, 48, 3), 90, np.uint8))
    with pytest.warns(UserWarning, match="Training_colour.png: has 3 channels"):
        arrays = data.load_arrays(tiny_fer, verbose=False)
    assert arrays.images[list(arrays.names).index("train/happy/Training_colour.png")].max() == 90


def test_subset_counts_warn(tiny_fer, no_sources):
    with pytest.warns(UserWarning, match="subset of FER2013: 28 train and 21 test"):
        data.load_arrays(tiny_fer)


def test_second_load_comes_from_the_cache(tiny_fer, no_sources, monkeypatch, tmp_path):
    first = data.load_arrays(tiny_fer, cache_dir=tmp_path / "cache", verbose=False)
    assert len(list((tmp_path / "cache").glob(f"fer2013-{first.data_hash}.npz"))) == 1
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"read {self} again despite the cache"))
    second = data.load_arrays(tiny_fer, cache_dir=tmp_path / "cache", verbose=False)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.splits, second.splits)
    assert second.data_hash == first.data_hash


def test_changed_content_changes_the_hash(tiny_fer, no_sources, tmp_path):
    before = data.load_arrays(tiny_fer, cache_dir=tmp_path / "cache", verbose=False)
    cv2.imwrite(str(tiny_fer / "train" / "angry" / "Training_0000.png"), np.zeros((48, 48), np.uint8))
    after = data.load_arrays(tiny_fer, cache_dir=tmp_path / "cache", verbose=False)
    assert after.data_hash != before.data_hash
    assert after.images[list(after.names).index("train/angry/Training_0000.png")].max() == 0
    (tiny_fer / "test" / "fear" / "PublicTest_2000.png").unlink()  # a file fewer: the arrays follow
    fewer = data.load_arrays(tiny_fer, cache_dir=tmp_path / "cache", verbose=False)
    assert len(fewer) == len(after) - 1 and fewer.data_hash not in (before.data_hash, after.data_hash)


def test_split_comes_from_the_file_name():
    assert data.split_of("train", "Training_1.jpg") == "train"
    assert data.split_of("test", "PublicTest_1.jpg") == "PublicTest"
    assert data.split_of("test", "PrivateTest_1.jpg") == "PrivateTest"


def test_validation_split_is_stratified_seeded_and_disjoint():
    labels = np.repeat(np.arange(7), [400, 40, 400, 700, 500, 480, 300])
    train, val = data.train_val_indices(labels, 0.1, seed=3)
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == len(labels)
    assert abs(len(val) - 0.1 * len(labels)) <= 1
    np.testing.assert_allclose(np.bincount(labels[val]) / len(val), np.bincount(labels) / len(labels), atol=0.01)
    np.testing.assert_array_equal(val, data.train_val_indices(labels, 0.1, seed=3)[1])
    assert not np.array_equal(val, data.train_val_indices(labels, 0.1, seed=4)[1])


def test_per_class_keeps_the_first_images_of_each_class_and_split(tiny_fer, no_sources):
    arrays = data.load_arrays(tiny_fer, verbose=False).per_class(1)
    assert len(arrays) == 7 * 3
    assert (arrays.split("test").splits != "train").all() and len(arrays.split("test")) == 14


def test_pixel_stats_match_numpy():
    images = np.random.default_rng(0).integers(0, 256, (10, 48, 48), dtype=np.uint8)
    mean, std = data.pixel_stats(images)
    assert mean == pytest.approx(images.mean() / 255) and std == pytest.approx(images.std() / 255)


def test_audit_finds_blanks_and_duplicates(tmp_path, no_sources):
    folder = write_tiny_fer(tmp_path / "fer")
    face = cv2.imread(str(folder / "train" / "happy" / "Training_3000.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(folder / "train" / "sad" / "Training_copy.png"), face)  # within train, conflicting label
    cv2.imwrite(str(folder / "test" / "happy" / "PublicTest_copy.png"), face)  # test copy of train
    cv2.imwrite(str(folder / "train" / "angry" / "Training_blank.png"), np.full((48, 48), 128, np.uint8))
    arrays = data.load_arrays(folder, verbose=False)
    found = audit.audit(arrays)
    assert [b["name"] for b in found["blank_images"]] == ["train/angry/Training_blank.png"]
    assert found["train_duplicate_groups"] == 1 and found["train_duplicates_conflicting_labels"] == 1
    assert found["test_copies_of_train"] == 1 and found["test_copies_of_train_conflicting_labels"] == 1
    assert found["cross_split_duplicates"][0]["test"]["name"] == "test/happy/PublicTest_copy.png"
    mask = audit.leak_free_mask(arrays)
    assert not mask[list(arrays.names).index("test/happy/PublicTest_copy.png")]
    assert mask.sum() == (arrays.splits != "train").sum() - 1


def test_committed_sample_is_real_fer2013(no_sources, tmp_path):
    with pytest.warns(UserWarning, match="subset"):
        arrays = data.load_arrays(SAMPLE_DIR, cache_dir=tmp_path, verbose=False)
    assert np.bincount(arrays.labels).tolist() == [12] * 7
    assert {s: int((arrays.splits == s).sum()) for s in ("train", "PublicTest", "PrivateTest")} == {
        "train": 56, "PublicTest": 14, "PrivateTest": 14}
