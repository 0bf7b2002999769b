"""The small real datasets that ship with raykit: find, load, hand to Ray, and scale up."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from .exceptions import ConfigError, DatasetNotFound

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import ray.data

# Set this to a folder laid out like the repository's datasets/ to use that copy instead.
DATASETS_ENV = "RAYKIT_DATASETS"
MANIFEST_NAME = "MANIFEST.json"

# Where the data sits: an installed wheel maps the repository's datasets/ onto raykit/_data/
# (pyproject.toml, [tool.setuptools.package-dir]); a clone or editable install has datasets/
# beside the package. Module-level so tests can point it at an unpacked wheel.
_PACKAGE_DIR = Path(__file__).resolve().parent

# Ready-to-load sets: name -> (folder under datasets/, file suffix).
_SHIPPED = {
    "digits/train": ("digits/train", ".parquet"),
    "digits/test": ("digits/test", ".parquet"),
    "wine": ("wine", ".csv"),
}
# Sets the generator scales up -> the shipped set it resamples. Digits resample the train split
# only, so digits/test stays unseen by anything trained on generated rows.
_GENERATOR_SOURCES = {"digits": "digits/train", "wine": "wine"}
_ID_COLUMNS = {"digits": "image_id", "wine": "wine_id"}
_WINE_WHOLE_NUMBER_COLUMNS = ("magnesium", "proline")
# Generated rows come in blocks of this many, block k drawn from the seed sequence (seed, k):
# any row range is reproducible on its own, and more rows extend fewer rows of the same seed.
_BLOCK_ROWS = 65_536
# Noise added to resampled rows. Each digits pixel (0..16) moves by -2..2 with the chances of a
# normal of sd 0.75 rounded to whole numbers (0: 50%, 1 and -1: 23% each, 2 and -2: 2% each),
# drawn as one random byte through this table of 256 entries, then clipped to 0..16.
_DIGITS_PIXEL_NOISE_COUNTS = {-2: 5, -1: 59, 0: 128, 1: 59, 2: 5}
# Wine measurements are multiplied by a factor drawn from N(1, 0.02), rounded to 3 decimals.
_WINE_RELATIVE_NOISE = 0.02
_PART_FILE = re.compile(r"part-\d{5}\.(parquet|csv)")


def _candidate_roots() -> list[tuple[Path, str]]:
    """Folders that may hold the datasets, in the order they are tried, with where each is from."""
    override = os.environ.get(DATASETS_ENV)
    if override:
        return [(Path(override).expanduser(), f"${DATASETS_ENV}")]
    return [
        (_PACKAGE_DIR / "_data", "installed package"),
        (_PACKAGE_DIR.parent / "datasets", "repository clone"),
    ]


def _datasets_root() -> Path:
    """The first candidate folder that holds MANIFEST.json (the mark of a raykit datasets copy)."""
    candidates = _candidate_roots()
    for root, _origin in candidates:
        if (root / MANIFEST_NAME).is_file():
            return root
    looked = "; ".join(f"{root} ({origin})" for root, origin in candidates)
    raise DatasetNotFound(
        f"raykit's datasets folder was not found: no {MANIFEST_NAME} in {looked}. "
        "Fix: in a clone, restore it with `git checkout -- datasets` (or rebuild it with "
        "`python datasets/build.py` after `pip install -e '.[datasets]'`); for an installed "
        "raykit, reinstall it with `pip install --force-reinstall raykit`; or set "
        f"{DATASETS_ENV} to a folder that holds a copy of datasets/."
    )


def dataset_path(name: str) -> Path:
    """Return the path of a shipped dataset folder or file.

    Parameters
    ----------
    name : str
        A path relative to the datasets folder, with ``/`` separators: ``"digits/train"``,
        ``"digits/test"``, ``"wine"``, or one file such as ``"wine/part-000.csv"``.

    Returns
    -------
    pathlib.Path
        The absolute path on this machine: under ``$RAYKIT_DATASETS`` when that is set, else in
        the installed package (``raykit/_data``), else in the clone (``datasets/``).

    Raises
    ------
    ConfigError
        ``name`` is empty, absolute, or climbs out of the datasets folder with ``..``.
    DatasetNotFound
        The folder or file does not exist; the message names it and how to get it back.
    """
    relative = PurePosixPath(os.fspath(name)) if isinstance(name, (str, os.PathLike)) else None
    if not relative or not relative.parts or relative.is_absolute() or ".." in relative.parts:
        raise ConfigError(
            f"dataset_path(name={name!r}): name must be a relative path inside the datasets "
            f"folder, such as 'digits/train' or 'wine'; shipped sets: {', '.join(_SHIPPED)}."
        )
    root = _datasets_root()
    path = root.joinpath(*relative.parts)
    if not path.exists():
        raise DatasetNotFound(
            f"dataset file not found: {path} (asked for {name!r} in {root}). Shipped sets: "
            f"{', '.join(_SHIPPED)}; see {root / 'README.md'}. If {name!r} should be there, "
            "restore it: `git checkout -- datasets` or `python datasets/build.py` in a clone, "
            "`pip install --force-reinstall raykit` for an installed copy."
        )
    return path


def _shipped_files(name: str) -> list[Path]:
    """The data files of one shipped set, in name order."""
    if not isinstance(name, str) or name not in _SHIPPED:
        raise ConfigError(
            f"name={name!r} is not a shipped dataset: choose one of "
            f"{', '.join(repr(n) for n in _SHIPPED)}."
        )
    folder_name, suffix = _SHIPPED[name]
    folder = dataset_path(folder_name)
    files = sorted(folder.glob(f"*{suffix}"))
    if not files:
        raise DatasetNotFound(
            f"dataset {name!r} has no {suffix} files in {folder}. Restore them with "
            "`git checkout -- datasets` or `python datasets/build.py` in a clone, or "
            "`pip install --force-reinstall raykit`."
        )
    return files


def _read_file(path: Path) -> pa.Table:
    """One data file as an Arrow table, read on this machine; CSV column types are pinned."""
    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.parquet

    if path.suffix == ".parquet":
        return pyarrow.parquet.read_table(path)
    with path.open(encoding="utf-8") as csv_file:
        header = csv_file.readline().rstrip("\n").split(",")
    column_types = {}
    for column in header:
        if column in ("wine_id", "source_id", *_WINE_WHOLE_NUMBER_COLUMNS):
            column_types[column] = pa.int64()
        elif column == "cultivar":
            column_types[column] = pa.string()
        else:
            column_types[column] = pa.float64()
    options = pyarrow.csv.ConvertOptions(column_types=column_types)
    return pyarrow.csv.read_csv(path, convert_options=options)


def _read_tables(name: str) -> list[pa.Table]:
    """Each file of a shipped set as its own Arrow table, in file order."""
    return [_read_file(path) for path in _shipped_files(name)]


def load_dataset(name: str) -> pd.DataFrame:
    """Read a shipped set into one pandas DataFrame, on this machine.

    Parameters
    ----------
    name : str
        ``"digits/train"`` (1,500 images), ``"digits/test"`` (297 held-out images) or
        ``"wine"`` (178 wines). Columns are described in ``datasets/README.md``: digits have
        ``image_id``, ``pixels`` (64 values 0..16 as a uint8 array, row-major 8x8) and
        ``label``; wine has ``wine_id``, ``cultivar`` and 13 chemical measurements.

    Returns
    -------
    pandas.DataFrame
        All rows of all the set's files, in file order.
    """
    import pyarrow as pa

    return pa.concat_tables(_read_tables(name)).to_pandas()


def read_dataset(name: str) -> ray.data.Dataset:
    """Hand a shipped set to Ray Data, reading its files on the driver.

    The files are read here, where this notebook runs, and the rows go to the cluster through
    the object store (``ray.data.from_arrow``, one block per file). That works on every cluster,
    a remote one included, because no worker has to find the files on its own disk; the price is
    that every byte passes through the driver, which is fine for these small sets and wrong for
    big data. On a local cluster, ``ray.data.read_parquet(dataset_path("digits/train"))`` (or
    ``read_csv`` for wine) reads the same files in parallel tasks instead; on a remote cluster
    that only works once the files sit on storage every node reaches (S3, NFS).

    Parameters
    ----------
    name : str
        ``"digits/train"``, ``"digits/test"`` or ``"wine"``.

    Returns
    -------
    ray.data.Dataset
        Same columns as :func:`load_dataset`; ``pixels`` is a fixed-size list of 64 uint8, which
        ``iter_torch_batches`` turns into a ``(batch, 64)`` uint8 tensor.
    """
    import ray.data

    return ray.data.from_arrow(_read_tables(name))


def _check_generator_args(caller: str, name: str, n_rows: int, seed: int) -> None:
    """Raise ConfigError for an unknown name, a negative row count or a negative seed."""
    if not isinstance(name, str) or name not in _GENERATOR_SOURCES:
        choices = ", ".join(repr(n) for n in _GENERATOR_SOURCES)
        raise ConfigError(
            f"{caller}: name={name!r} is not a set the generator scales up; choose one of "
            f"{choices}."
        )
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 0:
        raise ConfigError(f"{caller}: n_rows={n_rows!r} must be a whole number >= 0.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"{caller}: seed={seed!r} must be a whole number >= 0.")


def _source_columns(name: str) -> dict[str, np.ndarray]:
    """The shipped set that the generator resamples, as NumPy columns."""
    import numpy as np
    import pyarrow as pa

    table = pa.concat_tables(_read_tables(_GENERATOR_SOURCES[name]))
    columns = {}
    for column in table.column_names:
        values = table.column(column).combine_chunks()
        if pa.types.is_fixed_size_list(values.type):
            width = values.type.list_size
            columns[column] = np.asarray(values.flatten()).reshape(-1, width)
        else:
            columns[column] = np.asarray(values.to_numpy(zero_copy_only=False))
    return columns


def _pixel_noise_table() -> np.ndarray:
    """256 pixel offsets whose frequencies are _DIGITS_PIXEL_NOISE_COUNTS: index with a byte."""
    import numpy as np

    offsets, counts = zip(*_DIGITS_PIXEL_NOISE_COUNTS.items(), strict=True)
    return np.repeat(np.asarray(offsets, dtype=np.int16), counts)


def _generated_block(
    name: str, source: dict[str, np.ndarray], seed: int, block: int
) -> dict[str, np.ndarray]:
    """Block number `block` of generated rows: resampled source rows with a little noise."""
    import numpy as np

    rng = np.random.default_rng([seed, block])
    id_column = _ID_COLUMNS[name]
    picked = rng.integers(0, len(source[id_column]), size=_BLOCK_ROWS)
    first_row = block * _BLOCK_ROWS
    columns = {id_column: np.arange(first_row, first_row + _BLOCK_ROWS, dtype=np.int64)}
    for column, values in source.items():
        if column == id_column:
            continue
        chosen = values[picked]
        if column == "pixels":
            noise = _pixel_noise_table()[rng.integers(0, 256, size=chosen.shape, dtype=np.uint8)]
            chosen = np.clip(chosen + noise, 0, 16).astype(np.uint8)
        elif chosen.dtype.kind == "f":
            jitter = rng.normal(1.0, _WINE_RELATIVE_NOISE, size=chosen.shape)
            chosen = np.round(chosen * jitter, 3)
        elif column in _WINE_WHOLE_NUMBER_COLUMNS:
            jitter = rng.normal(1.0, _WINE_RELATIVE_NOISE, size=chosen.shape)
            chosen = np.rint(chosen * jitter).astype(np.int64)
        columns[column] = chosen
    columns["source_id"] = source[id_column][picked].astype(np.int64)
    return columns


def _generated_table(name: str, start: int, stop: int, seed: int) -> pa.Table:
    """Generated rows start..stop-1 of a set, as an Arrow table with the source's column order."""
    import numpy as np
    import pyarrow as pa

    source = _source_columns(name)
    first_block, last_block = start // _BLOCK_ROWS, max(stop - 1, start) // _BLOCK_ROWS
    blocks = [_generated_block(name, source, seed, b) for b in range(first_block, last_block + 1)]
    offset = start - first_block * _BLOCK_ROWS
    arrays = {}
    for column in blocks[0]:
        values = np.concatenate([block[column] for block in blocks])[offset : offset + stop - start]
        if values.ndim == 2:
            flat = pa.array(values.reshape(-1), type=pa.uint8())
            arrays[column] = pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
        elif values.dtype.kind in "OU":
            arrays[column] = pa.array(values, type=pa.string())
        else:
            arrays[column] = pa.array(values)
    return pa.table(arrays)


def generate_rows(name: str, n_rows: int, *, seed: int = 0) -> pd.DataFrame:
    """Make any number of synthetic rows that look like a shipped set, the same for a seed.

    Each row is a uniformly resampled row of the real set with a little noise: each digits pixel
    moves by -2..2 (a rounded normal of sd 0.75), clipped to 0..16, and the label is kept; each
    wine measurement is scaled by a factor drawn from N(1, 0.02) and the cultivar is kept.
    ``digits`` resamples ``digits/train`` only, so ``digits/test`` stays held out.

    Parameters
    ----------
    name : str
        ``"digits"`` or ``"wine"``.
    n_rows : int
        How many rows. The first ``k`` rows of a seed do not depend on ``n_rows``.
    seed : int, default 0
        The same seed, with the same NumPy version, gives identical rows; another seed gives
        other rows.

    Returns
    -------
    pandas.DataFrame
        The source's columns, with the id column (``image_id`` or ``wine_id``) renumbered
        ``0..n_rows-1`` and a ``source_id`` column naming the real row each one came from.
    """
    _check_generator_args("generate_rows", name, n_rows, seed)
    return _generated_table(name, 0, n_rows, seed).to_pandas()


def write_generated(
    name: str,
    directory: str | os.PathLike,
    *,
    n_rows: int,
    n_files: int = 1,
    seed: int = 0,
    file_format: Literal["parquet", "csv"] = "parquet",
) -> list[Path]:
    """Write generated rows (see :func:`generate_rows`) as ``n_files`` files in ``directory``.

    Files are ``part-00000.parquet``, ``part-00001.parquet``...; together, in name order, they
    hold exactly ``generate_rows(name, n_rows, seed=seed)``. Each file is generated and written
    on its own, so memory holds one file's rows at a time: pick ``n_files`` so that one file is
    at most a few hundred MB. The files are written on this machine: on a remote cluster, copy
    them to storage that every node reaches before ``ray.data.read_parquet``.

    Parameters
    ----------
    name : str
        ``"digits"`` or ``"wine"``.
    directory : str or os.PathLike
        Created if missing. Part files left in it by an earlier call are replaced, so re-running
        a cell is safe; any other file in it is an error, so nothing of yours is overwritten.
    n_rows : int
        Total rows over all files.
    n_files : int, default 1
        How many files; their row counts differ by at most one.
    seed : int, default 0
        See :func:`generate_rows`.
    file_format : {"parquet", "csv"}, default "parquet"
        ``"csv"`` is for wine only (a digits image does not fit a CSV cell).

    Returns
    -------
    list of pathlib.Path
        The files written, in order.
    """
    import pyarrow.csv
    import pyarrow.parquet

    _check_generator_args("write_generated", name, n_rows, seed)
    if not isinstance(directory, (str, os.PathLike)):
        raise ConfigError(
            f"write_generated: directory={directory!r} must be a folder path (a str or a Path)."
        )
    if isinstance(n_files, bool) or not isinstance(n_files, int) or n_files < 1:
        raise ConfigError(f"write_generated: n_files={n_files!r} must be a whole number >= 1.")
    if file_format not in ("parquet", "csv"):
        raise ConfigError(
            f"write_generated: file_format={file_format!r}; choose 'parquet' or 'csv'."
        )
    if file_format == "csv" and name == "digits":
        raise ConfigError(
            "write_generated: file_format='csv' cannot hold the 64-pixel images of 'digits'; "
            "use file_format='parquet'."
        )
    out_dir = Path(directory)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"write_generated: directory={str(out_dir)!r} is a file, not a folder.")
    out_dir.mkdir(parents=True, exist_ok=True)
    existing = sorted(out_dir.iterdir())
    foreign = [p.name for p in existing if not _PART_FILE.fullmatch(p.name)]
    if foreign:
        raise ConfigError(
            f"write_generated: {out_dir} holds files this function did not write "
            f"({', '.join(foreign[:5])}); pass an empty or new folder."
        )
    for old_part in existing:
        old_part.unlink()

    written = []
    for part in range(n_files):
        start, stop = n_rows * part // n_files, n_rows * (part + 1) // n_files
        table = _generated_table(name, start, stop, seed)
        path = out_dir / f"part-{part:05d}.{file_format}"
        if file_format == "parquet":
            pyarrow.parquet.write_table(table, path, compression="snappy")
        else:
            options = pyarrow.csv.WriteOptions(quoting_style="none", quoting_header="none")
            pyarrow.csv.write_csv(table, path, write_options=options)
        written.append(path)
    return written
