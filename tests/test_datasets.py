"""The shipped datasets: manifest, rebuild, README, lookup from a clone and a wheel, generator."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pytest

from raykit import _datasets
from raykit._datasets import (
    DATASETS_ENV,
    dataset_path,
    generate_rows,
    load_dataset,
    read_dataset,
    write_generated,
)
from raykit.exceptions import ConfigError, DatasetNotFound, RaykitError

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "datasets"
MANIFEST = json.loads((DATASETS / "MANIFEST.json").read_text(encoding="utf-8"))
SHIPPED_FILES = sorted(MANIFEST["files"])


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def from_clone(monkeypatch):
    """Look the data up as a clone does, whether raykit is installed editable or not."""
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    monkeypatch.setattr(_datasets, "_PACKAGE_DIR", ROOT / "raykit")


# --- the shipped files ----------------------------------------------------------------------------


@pytest.mark.parametrize("relative_path", SHIPPED_FILES)
def test_shipped_file_matches_manifest(relative_path):
    entry = MANIFEST["files"][relative_path]
    path = DATASETS / relative_path
    assert path.stat().st_size == entry["bytes"], relative_path
    assert sha256_of(path) == entry["sha256"], f"{relative_path}: rebuild or restore it"


def test_every_data_file_is_in_the_manifest():
    on_disk = sorted(
        path.relative_to(DATASETS).as_posix()
        for path in DATASETS.rglob("*")
        if path.suffix in (".parquet", ".csv")
    )
    assert on_disk == SHIPPED_FILES


def test_datasets_folder_stays_small():
    total = sum(path.stat().st_size for path in DATASETS.rglob("*") if path.is_file())
    assert total < 5_000_000, f"datasets/ holds {total:,} bytes"


def test_readme_describes_every_set_and_file():
    readme = (DATASETS / "README.md").read_text(encoding="utf-8")
    sets = sorted({path.split("/")[0] for path in SHIPPED_FILES})
    assert sets == ["digits", "wine"]
    for set_name in sets:
        section = readme.split(f"## `{set_name}`", 1)
        assert len(section) == 2, f"README has no section for {set_name}"
        body = section[1].split("\n## ", 1)[0]
        for fact in ("**Source**", "**Licence**", "CC BY 4.0", "**Columns**"):
            assert fact in body, f"README section {set_name} lacks {fact}"
    for relative_path in SHIPPED_FILES:
        folder = relative_path.rsplit("/", 1)[0]
        assert f"`{folder}/" in readme, f"README does not name {folder}/"


# --- rebuild --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def build_script():
    pytest.importorskip("sklearn", reason="rebuilding needs the datasets extra (scikit-learn)")
    spec = importlib.util.spec_from_file_location("datasets_build", DATASETS / "build.py")
    module = importlib.util.module_from_spec(spec)
    writes_bytecode, sys.dont_write_bytecode = (
        sys.dont_write_bytecode,
        True,
    )  # no datasets/__pycache__
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes_bytecode
    return module


def test_build_twice_gives_identical_bytes(build_script):
    first, second = build_script.build_all(), build_script.build_all()
    assert sorted(first) == SHIPPED_FILES
    assert first == second


def test_rebuild_matches_shipped_files(build_script):
    assert build_script.check(DATASETS) == []


# --- finding the data -----------------------------------------------------------------------------


def test_found_from_a_clone(from_clone):
    assert dataset_path("digits/train") == DATASETS / "digits" / "train"
    assert dataset_path("wine/part-000.csv").is_file()


def test_found_through_the_environment_variable(monkeypatch, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(DATASETS, copy)
    monkeypatch.setenv(DATASETS_ENV, str(copy))
    assert dataset_path("wine") == copy / "wine"


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory):
    """A wheel built from a copy of the packaging inputs, so the work tree gets no build/."""
    source = tmp_path_factory.mktemp("source")
    shutil.copy(ROOT / "pyproject.toml", source)
    readme = ROOT / "README.md"
    if readme.is_file():
        shutil.copy(readme, source)
    else:
        (source / "README.md").write_text("raykit\n")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "raykit", source / "raykit", ignore=ignore)
    shutil.copytree(DATASETS, source / "datasets", ignore=ignore)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "-q", "-w", str(out), str(source)], check=True, timeout=300)
    (wheel,) = out.glob("raykit-*.whl")
    return wheel


@pytest.fixture(scope="module")
def unpacked_wheel(built_wheel, tmp_path_factory):
    """The wheel's contents as site-packages would hold them."""
    site = tmp_path_factory.mktemp("site-packages")
    with zipfile.ZipFile(built_wheel) as archive:
        archive.extractall(site)
    return site


def test_wheel_carries_every_data_file(built_wheel):
    names = set(zipfile.ZipFile(built_wheel).namelist())
    expected = {f"raykit/_data/{path}" for path in SHIPPED_FILES}
    expected |= {"raykit/_data/MANIFEST.json", "raykit/_data/README.md", "raykit/_datasets.py"}
    assert expected <= names, sorted(expected - names)
    assert not any(name.startswith("datasets/") for name in names), "no top-level datasets/"


def test_found_in_an_installed_wheel(unpacked_wheel, monkeypatch):
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    monkeypatch.setattr(_datasets, "_PACKAGE_DIR", unpacked_wheel / "raykit")
    assert dataset_path("digits") == unpacked_wheel / "raykit" / "_data" / "digits"
    for relative_path, entry in MANIFEST["files"].items():
        assert sha256_of(dataset_path(relative_path)) == entry["sha256"]
    assert len(load_dataset("digits/test")) == 297


def test_installed_wheel_resolves_in_a_fresh_interpreter(unpacked_wheel):
    """The unpacked wheel first on sys.path, as a non-editable install would be."""
    environment = {k: v for k, v in os.environ.items() if k != DATASETS_ENV}
    environment["PYTHONPATH"] = str(unpacked_wheel)
    code = "from raykit._datasets import dataset_path; print(dataset_path('wine'))"
    done = subprocess.run(
        [sys.executable, "-P", "-c", code],  # -P: the work tree's raykit/ is not on sys.path
        env=environment,
        cwd=unpacked_wheel,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == str(unpacked_wheel / "raykit" / "_data" / "wine")


def test_every_subpackage_is_listed_for_the_wheel():
    """pyproject lists packages by hand (to map datasets/ in): none left out, none stale."""
    setuptools_config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools_config["packages"])
    on_disk = {
        ".".join(folder.relative_to(ROOT).parts)
        for folder in [ROOT / "raykit", *(ROOT / "raykit").rglob("*")]
        if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py"))
    }
    assert on_disk <= listed, f"add {sorted(on_disk - listed)} to [tool.setuptools] packages"
    mapped = setuptools_config["package-dir"]
    for package in listed:
        folder = ROOT / mapped.get(package, package.replace(".", "/"))
        assert folder.is_dir(), f"[tool.setuptools] packages lists {package}, but {folder} is gone"


# --- errors ---------------------------------------------------------------------------------------


def test_missing_file_error_names_the_file_and_the_fix(from_clone):
    with pytest.raises(DatasetNotFound) as caught:
        dataset_path("digits/validation")
    message = str(caught.value)
    assert str(DATASETS / "digits" / "validation") in message
    assert "git checkout -- datasets" in message
    assert "pip install --force-reinstall raykit" in message
    assert isinstance(caught.value, FileNotFoundError)
    assert isinstance(caught.value, RaykitError)


def test_missing_folder_error_names_every_place_looked(monkeypatch, tmp_path):
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    monkeypatch.setattr(_datasets, "_PACKAGE_DIR", tmp_path / "site-packages" / "raykit")
    with pytest.raises(DatasetNotFound) as caught:
        dataset_path("wine")
    message = str(caught.value)
    assert str(tmp_path / "site-packages" / "raykit" / "_data") in message
    assert str(tmp_path / "site-packages" / "datasets") in message
    assert "MANIFEST.json" in message and DATASETS_ENV in message


def test_environment_variable_pointing_nowhere_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(DatasetNotFound, match=re.escape(f"${DATASETS_ENV}")):
        dataset_path("wine")


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../pyproject.toml", "wine/../../raykit"])
def test_names_outside_the_datasets_folder_are_refused(name):
    with pytest.raises(ConfigError, match="relative path inside the datasets folder"):
        dataset_path(name)


def test_unknown_set_lists_the_known_ones():
    with pytest.raises(ConfigError, match="'digits/train', 'digits/test', 'wine'"):
        load_dataset("mnist")


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: dataset_path(3), "name=3"),
        (lambda: dataset_path(None), "name=None"),
        (lambda: load_dataset("mnist"), "name='mnist'"),
        (lambda: load_dataset(["wine"]), "name=['wine']"),
        (lambda: read_dataset("mnist"), "name='mnist'"),
        (lambda: generate_rows(None, 10), "name=None"),
        (lambda: write_generated("wine", 42, n_rows=10), "directory=42"),
    ],
)
def test_a_name_of_the_wrong_kind_is_named(call, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        call()


def test_a_path_object_names_a_set_too():
    assert dataset_path(PurePosixPath("wine")) == dataset_path("wine")


# --- loading --------------------------------------------------------------------------------------


def test_digits_splits_are_disjoint_and_complete():
    train, test = load_dataset("digits/train"), load_dataset("digits/test")
    assert (len(train), len(test)) == (1500, 297)
    assert set(train.image_id).isdisjoint(test.image_id)
    assert sorted([*train.image_id, *test.image_id]) == list(range(1797))
    pixels = np.stack(train.pixels)
    assert pixels.shape == (1500, 64) and pixels.dtype == np.uint8
    assert pixels.min() == 0 and pixels.max() == 16
    assert sorted(train.label.unique()) == list(range(10))


def test_wine_has_a_group_by_key_and_typed_measurements():
    wine = load_dataset("wine")
    assert len(wine) == 178 and sorted(wine.wine_id) == list(range(178))
    assert wine.cultivar.value_counts().to_dict() == {"class_1": 71, "class_0": 59, "class_2": 48}
    assert wine.proline.dtype == np.int64 and wine.alcohol.dtype == np.float64
    assert wine.groupby("cultivar").alcohol.mean().between(12, 14).all()


def test_read_dataset_hands_one_table_per_file_to_ray(monkeypatch):
    """No cluster: what read_dataset passes to ray.data.from_arrow."""
    import ray.data

    captured = {}
    monkeypatch.setattr(ray.data, "from_arrow", lambda tables: captured.setdefault("t", tables))
    tables = read_dataset("wine")
    assert [t.num_rows for t in tables] == [
        MANIFEST["files"][f"wine/part-00{i}.csv"]["rows"] for i in range(4)
    ]


@pytest.mark.ray_cluster
def test_read_dataset_feeds_torch_batches_on_a_local_cluster():
    import ray

    ray.init(address="local", num_cpus=1, include_dashboard=False)
    try:
        digits = read_dataset("digits/train")
        assert digits.count() == 1500
        batch = next(iter(digits.iter_torch_batches(batch_size=32)))
        assert tuple(batch["pixels"].shape) == (32, 64)
        assert str(batch["label"].dtype) == "torch.int64"
    finally:
        ray.shutdown()


# --- generator ------------------------------------------------------------------------------------


def test_generated_rows_are_the_same_for_a_seed_and_differ_across_seeds():
    first, again = generate_rows("wine", 500, seed=3), generate_rows("wine", 500, seed=3)
    pd.testing.assert_frame_equal(first, again)
    other = generate_rows("wine", 500, seed=4)
    assert not first.drop(columns="wine_id").equals(other.drop(columns="wine_id"))


def test_more_rows_extend_fewer_rows_of_the_same_seed():
    block = _datasets._BLOCK_ROWS
    short, long = generate_rows("digits", 10, seed=0), generate_rows("digits", block + 10, seed=0)
    np.testing.assert_array_equal(np.stack(short.pixels), np.stack(long.pixels[:10]))
    assert list(long.image_id) == list(range(block + 10))


def test_generated_digits_keep_labels_and_come_from_train_only():
    train = load_dataset("digits/train").set_index("image_id")
    rows = generate_rows("digits", 2000, seed=1)
    assert set(rows.source_id) <= set(train.index)
    assert (rows.label.to_numpy() == train.label.loc[rows.source_id].to_numpy()).all()
    pixels = np.stack(rows.pixels)
    assert pixels.dtype == np.uint8 and pixels.max() <= 16
    source_pixels = np.stack(train.pixels.loc[rows.source_id])
    changed = (pixels != source_pixels).mean()
    assert 0.05 < changed < 0.6, f"{changed:.0%} of pixels changed: noise should be small"


def test_generated_wine_stays_close_to_its_source_row():
    wine = load_dataset("wine").set_index("wine_id")
    rows = generate_rows("wine", 1000, seed=2)
    source = wine.loc[rows.source_id]
    assert (rows.cultivar.to_numpy() == source.cultivar.to_numpy()).all()
    ratio = rows.alcohol.to_numpy() / source.alcohol.to_numpy()
    assert 0.85 < ratio.min() and ratio.max() < 1.15
    assert rows.proline.dtype == np.int64


def test_written_files_are_identical_for_a_seed(tmp_path):
    first = write_generated("digits", tmp_path / "a", n_rows=1000, n_files=3, seed=5)
    again = write_generated("digits", tmp_path / "b", n_rows=1000, n_files=3, seed=5)
    other = write_generated("digits", tmp_path / "c", n_rows=1000, n_files=3, seed=6)
    assert [p.name for p in first] == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert [sha256_of(p) for p in first] == [sha256_of(p) for p in again]
    assert [sha256_of(p) for p in first] != [sha256_of(p) for p in other]


def test_written_files_hold_exactly_the_generated_rows(tmp_path):
    import pyarrow.csv

    paths = write_generated("wine", tmp_path, n_rows=301, n_files=4, seed=7, file_format="csv")
    together = pd.concat([_datasets._read_file(p).to_pandas() for p in paths], ignore_index=True)
    pd.testing.assert_frame_equal(together, generate_rows("wine", 301, seed=7))
    assert pyarrow.csv.read_csv(paths[0]).num_rows in (75, 76)


def test_rewriting_a_folder_replaces_its_parts_only(tmp_path):
    write_generated("wine", tmp_path, n_rows=100, n_files=4)
    write_generated("wine", tmp_path, n_rows=100, n_files=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="notes.txt"):
        write_generated("wine", tmp_path, n_rows=100)
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda d: write_generated("digits", d, n_rows=10, file_format="csv"), "64-pixel"),
        (lambda d: write_generated("wine", d, n_rows=10, n_files=0), "n_files=0"),
        (lambda d: generate_rows("iris", 10), "'digits', 'wine'"),
        (lambda d: generate_rows("wine", -1), "n_rows=-1"),
        (lambda d: generate_rows("wine", 10, seed=-2), "seed=-2"),
    ],
)
def test_bad_generator_arguments_are_named(call, fragment, tmp_path):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        call(tmp_path)
