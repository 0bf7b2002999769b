"""Rebuild the shipped datasets byte-for-byte from the copies that scikit-learn bundles offline."""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
MANIFEST_NAME = "MANIFEST.json"

# The split and the file order come from sha256 of "<SPLIT_SEED>:<set>:<row>", not from a NumPy
# generator, so they do not depend on the NumPy version.
SPLIT_SEED = 0
DIGITS_TEST_ROWS = 297  # 1,797 images: 1,500 to train on, 297 held out
DIGITS_TRAIN_FILES = 4
WINE_FILES = 4

# Every option that changes the bytes is pinned. Parquet files still record the writer
# ("created_by: parquet-cpp-arrow version X"), so byte-for-byte holds for the pyarrow version
# written in the manifest; with another version only the content is checked (see --check).
PARQUET_WRITE_OPTIONS = {
    "version": "2.6",
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": False,
    "data_page_version": "1.0",
    "store_schema": True,
    "write_page_index": False,
    "write_page_checksum": False,
}

WINE_COLUMN_NAMES = {"od280/od315_of_diluted_wines": "od280_od315_of_diluted_wines"}
SOURCE_PACKAGES = ("scikit-learn", "pyarrow")  # the two whose versions can change the bytes


def shuffled_rows(set_name: str, n_rows: int) -> list[int]:
    """Row numbers 0..n_rows-1 in a fixed pseudo-random order that only the seed decides."""

    def order_key(row: int) -> bytes:
        return hashlib.sha256(f"{SPLIT_SEED}:{set_name}:{row}".encode()).digest()

    return sorted(range(n_rows), key=order_key)


def split_evenly(rows: list[int], n_parts: int) -> list[list[int]]:
    """Cut rows into n_parts contiguous pieces whose lengths differ by at most one."""
    bounds = [len(rows) * part // n_parts for part in range(n_parts + 1)]
    return [rows[bounds[part] : bounds[part + 1]] for part in range(n_parts)]


def parquet_bytes(table: pa.Table) -> bytes:
    """The Parquet file of table, written in memory with the pinned options."""
    sink = io.BytesIO()
    pq.write_table(table, sink, **PARQUET_WRITE_OPTIONS)
    return sink.getvalue()


def digits_files() -> dict[str, bytes]:
    """The 8x8 digits as Parquet: four train files and one held-out test file."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = digits.data.astype(np.uint8)  # integers 0..16 stored as float64 by scikit-learn
    if not np.array_equal(pixels, digits.data):
        raise SystemExit("digits: pixel values are not whole numbers 0..16; source changed?")
    labels = digits.target.astype(np.int64)

    order = shuffled_rows("digits", len(labels))
    test_rows = sorted(order[:DIGITS_TEST_ROWS])
    train_rows = order[DIGITS_TEST_ROWS:]

    def table_of(rows: list[int]) -> pa.Table:
        index = np.asarray(rows, dtype=np.int64)
        flat = pa.array(pixels[index].reshape(-1), type=pa.uint8())
        return pa.table(
            {
                "image_id": pa.array(index, type=pa.int64()),
                "pixels": pa.FixedSizeListArray.from_arrays(flat, 64),
                "label": pa.array(labels[index], type=pa.int64()),
            }
        )

    files = {}
    for part, rows in enumerate(split_evenly(train_rows, DIGITS_TRAIN_FILES)):
        files[f"digits/train/part-{part:03d}.parquet"] = parquet_bytes(table_of(rows))
    files["digits/test/part-000.parquet"] = parquet_bytes(table_of(test_rows))
    return files


def csv_field(value: float | int | str) -> str:
    """A value as CSV text: floats in Python's shortest round-trip form, whole numbers as ints."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise SystemExit(f"wine: non-finite value {value!r}; source changed?")
    return repr(value)


def wine_files() -> dict[str, bytes]:
    """The wine recognition data as four CSV files of shuffled rows."""
    from sklearn.datasets import load_wine

    wine = load_wine()
    feature_names = [WINE_COLUMN_NAMES.get(name, name) for name in wine.feature_names]
    whole_columns = {
        j
        for j in range(wine.data.shape[1])
        if np.array_equal(wine.data[:, j], wine.data[:, j] // 1)
    }
    header = ["wine_id", "cultivar", *feature_names]

    def row_of(row: int) -> list[str]:
        values = [
            int(value) if j in whole_columns else float(value)
            for j, value in enumerate(wine.data[row].tolist())
        ]
        cultivar = str(wine.target_names[wine.target[row]])
        return [csv_field(v) for v in (row, cultivar, *values)]

    files = {}
    order = shuffled_rows("wine", len(wine.target))
    for part, rows in enumerate(split_evenly(order, WINE_FILES)):
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(row_of(row) for row in rows)
        files[f"wine/part-{part:03d}.csv"] = text.getvalue().encode("utf-8")
    return files


def row_count(relative_path: str, content: bytes) -> int:
    """Rows in one built file (CSV header not counted)."""
    if relative_path.endswith(".parquet"):
        return pq.ParquetFile(io.BytesIO(content)).metadata.num_rows
    return content.count(b"\n") - 1


def build_all() -> dict[str, bytes]:
    """Every shipped data file, keyed by its path relative to datasets/."""
    return {**digits_files(), **wine_files()}


def manifest_of(files: dict[str, bytes]) -> dict:
    """The manifest: sha256, size and rows of each file, and the package versions that built it."""
    return {
        "built_with": {name: metadata.version(name) for name in SOURCE_PACKAGES},
        "files": {
            path: {
                "bytes": len(content),
                "rows": row_count(path, content),
                "sha256": hashlib.sha256(content).hexdigest(),
            }
            for path, content in sorted(files.items())
        },
    }


def write_tree(files: dict[str, bytes], out_dir: Path) -> None:
    """Write the data files and MANIFEST.json under out_dir."""
    for relative_path, content in files.items():
        target = out_dir / relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    manifest_text = json.dumps(manifest_of(files), indent=2, sort_keys=True) + "\n"
    (out_dir / MANIFEST_NAME).write_text(manifest_text, encoding="utf-8")


def same_content(relative_path: str, left: Path, right: Path) -> bool:
    """Whether two data files hold the same table (used when writer versions differ)."""
    if relative_path.endswith(".parquet"):
        return pq.read_table(left).equals(pq.read_table(right))
    return left.read_bytes() == right.read_bytes()


def check(datasets_dir: Path) -> list[str]:
    """Rebuild in a temporary folder and list every difference from the files in datasets_dir."""
    shipped = json.loads((datasets_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        rebuilt_dir = Path(tmp)
        write_tree(build_all(), rebuilt_dir)
        rebuilt = json.loads((rebuilt_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        same_versions = rebuilt["built_with"] == shipped["built_with"]
        if set(rebuilt["files"]) != set(shipped["files"]):
            problems.append(f"file lists differ: {sorted(rebuilt['files'])} vs manifest")
        for path, entry in sorted(shipped["files"].items()):
            on_disk = datasets_dir / path
            if not on_disk.is_file():
                problems.append(f"{path}: missing")
                continue
            if hashlib.sha256(on_disk.read_bytes()).hexdigest() != entry["sha256"]:
                problems.append(f"{path}: sha256 differs from {MANIFEST_NAME}")
            if path not in rebuilt["files"]:
                continue
            if same_versions and rebuilt["files"][path]["sha256"] != entry["sha256"]:
                problems.append(f"{path}: rebuilt bytes differ with the same package versions")
            elif not same_content(path, on_disk, rebuilt_dir / path):
                problems.append(f"{path}: rebuilt content differs")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Build into datasets/ (or --out), or --check the shipped files against a fresh rebuild."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write (default: here)")
    parser.add_argument("--check", action="store_true", help="rebuild in a temp dir and compare")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out)
        for problem in problems:
            print(problem, file=sys.stderr)
        print("datasets match their rebuild" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    files = build_all()
    write_tree(files, args.out)
    for path in sorted(files):
        print(f"wrote {args.out / path} ({len(files[path]):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
