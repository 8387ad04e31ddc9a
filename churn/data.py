"""Reading and writing customer tables: parquet or CSV, whole or in chunks.

Every write is atomic: the data goes to a temporary file in the destination's
folder and is renamed over the destination only once complete, so a crash
leaves the previous file or the new one, never half of one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from churn.atomic import atomic_path
from churn.dataset import ID_COLUMN, DatasetSettings, aliases_section, source_columns, yaml_snippet
from churn.errors import InputError
from churn.schema import validate_customers, validate_outcomes
from churn.synthetic import World

_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def file_digest(path: Path) -> str:
    """A short content hash of a file, to tell runs on the same data from others."""
    import hashlib

    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


# A compressed CSV as exports arrive: pandas reads and writes these by name.
_CSV_COMPRESSION: dict[str, Literal["gzip", "bz2", "zip", "xz"]] = {
    ".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz",
}  # fmt: skip


def table_format(path: Path) -> str:
    """``parquet`` or ``csv``, from the file's extension (``.csv.gz`` and the other
    compressed CSVs of ``_CSV_COMPRESSION`` are CSV).

    Examples:
        >>> table_format(Path("export.CSV.gz")), table_format(Path("t.parquet"))
        ('csv', 'parquet')
    """
    suffixes = [s.lower() for s in Path(path).suffixes[-2:]]
    if len(suffixes) == 2 and suffixes[0] == ".csv" and suffixes[1] in _CSV_COMPRESSION:
        return "csv"
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        compressed = ", ".join(f".csv{c}" for c in _CSV_COMPRESSION)
        raise InputError(
            f"{path}: unsupported file type '{''.join(Path(path).suffixes[-2:]) or 'none'}'; "
            f"expected one of {', '.join(sorted(_FORMATS))}, or a compressed CSV "
            f"({compressed})."
        )
    return fmt


def csv_compression(path: Path) -> Literal["gzip", "bz2", "zip", "xz"] | None:
    """How a CSV file is compressed, by its name (None: plain text)."""
    return _CSV_COMPRESSION.get(Path(path).suffix.lower())


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: the file does not exist.")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes).")


def _read_error(path: Path, exc: Exception) -> InputError:
    return InputError(
        f"{path}: cannot be read as {table_format(path)} "
        f"(is it truncated or of another format?): {exc}"
    )


def _text_columns(dataset: DatasetSettings | None, path: Path | None = None) -> dict[str, type]:
    """Columns a CSV reader must keep as text: ids and categories ("007" is not 7), under
    their declared names and, given the file, as its header spells them (``CustomerID``
    for a declared ``customerID``: columns match whatever their case)."""
    if dataset is None:
        return {ID_COLUMN: str}
    names = [ID_COLUMN, dataset.id.column, *dataset.id.aliases]
    for name, category in dataset.categorical.items():
        names += [name, *category.aliases]
    if path is not None:
        folded = {n.strip().casefold() for n in names}
        names += [c for c in table_columns(path) if c.strip().casefold() in folded]
    return dict.fromkeys(names, str)


def read_table(
    path: Path, *, columns: list[str] | None = None, dataset: DatasetSettings | None = None
) -> pd.DataFrame:
    """Read a whole parquet or CSV table, with errors that name the file."""
    path = Path(path)
    fmt = table_format(path)
    _check_exists(path)
    try:
        if fmt == "parquet":
            return pd.read_parquet(path, columns=columns)
        return pd.read_csv(path, usecols=columns, dtype=_text_columns(dataset, path))
    except Exception as exc:  # pyarrow and the CSV parser raise many types for bad bytes
        raise _read_error(path, exc) from None


def table_dtypes(path: Path, *, sample_rows: int = 1000) -> pd.Series:
    """The columns of a table and their types, without reading it whole: a parquet
    file's schema, a CSV's first rows."""
    path = Path(path)
    _check_exists(path)
    try:
        if table_format(path) == "parquet":
            import pyarrow.parquet as pq

            return pq.read_schema(path).empty_table().to_pandas().dtypes
        return pd.read_csv(path, nrows=sample_rows).dtypes
    except Exception as exc:
        raise _read_error(path, exc) from None


def table_columns(path: Path) -> list[str]:
    """The column names of a table, read from its header or parquet footer alone."""
    path = Path(path)
    fmt = table_format(path)
    _check_exists(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            names = [str(n) for n in pq.read_schema(path).names]
        else:
            # The header as written: pandas would rename a repeated name to "name.1".
            header = pd.read_csv(path, nrows=1, header=None, dtype=str, keep_default_na=False)
            names = [str(c) for c in header.iloc[0]] if len(header) else []
    except Exception as exc:
        raise _read_error(path, exc) from None
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(
            f"{path}: column{'s' if len(repeated) > 1 else ''} "
            + ", ".join(f"'{n}' ({names.count(n)} times)" for n in repeated)
            + " appear more than once in the header; which copy is meant cannot be told. "
            "Keep one of each (rename or drop the others) and run again."
        )
    return names


def load_customers(
    path: Path, *, labelled: bool, dataset: DatasetSettings | None = None
) -> pd.DataFrame:
    """Read a whole customer table, prepare it by its declaration and validate it."""
    path = Path(path)
    dataset = DatasetSettings() if dataset is None else dataset
    source_columns(table_columns(path), dataset, source=path, labelled=labelled)
    frame = read_table(path, dataset=dataset)
    return validate_customers(frame, source=path, labelled=labelled, dataset=dataset)


def load_outcomes(path: Path, *, dataset: DatasetSettings | None = None) -> pd.DataFrame:
    """Read and validate a campaign outcomes table (``customer_id, churned``, or the
    dataset's own id and target columns)."""
    path = Path(path)
    return validate_outcomes(read_table(path, dataset=dataset), source=path, dataset=dataset)


def load_suppression_list(path: Path, *, dataset: DatasetSettings | None = None) -> list[str]:
    """The customer ids of a suppression list (opt-outs): one column of ids.

    The id column is ``customer_id`` or the dataset's own id column (or an alias).

    Raises:
        InputError: the file is missing or unreadable, has no id column, or has
            empty ids; the message names the columns found and the fix.
    """
    path = Path(path)
    dataset = DatasetSettings() if dataset is None else dataset
    found = table_columns(path)
    names = [ID_COLUMN, dataset.id.column, *dataset.id.aliases]
    column = next((name for name in names if name in found), None)
    if column is None:
        own = aliases_section(dataset, dataset.id.column, found[0] if len(found) == 1 else "NAME")
        raise InputError(
            f"{path}: the suppression list (contact.suppression_path) has no customer id "
            f"column; expected one of {sorted(set(names))}, found {found[:10]}. Name the "
            f"column customer_id, or declare its name: `{yaml_snippet(own)}`."
        )
    ids = read_table(path, columns=[column], dataset=dataset)[column]
    empty = ids.isna() | (ids.astype(str).str.strip() == "")
    if empty.any():
        rows = (np.flatnonzero(empty.to_numpy())[:3] + 1).tolist()
        raise InputError(
            f"{path}: column '{column}' of the suppression list has {int(empty.sum())} empty "
            f"ids (e.g. rows {', '.join(map(str, rows))}); every row must name a customer."
        )
    return sorted(set(ids.astype(str).str.strip()))


def check_customer_ids(
    path: Path, *, labelled: bool = False, dataset: DatasetSettings | None = None
) -> int | None:
    """Check columns, and (reading the id column alone) that ids are present and unique.

    Chunked validation cannot see duplicates that fall in different chunks, so
    this runs first. Returns the number of rows, or None when ids are generated
    (row numbers are unique by construction).
    """
    path = Path(path)
    dataset = DatasetSettings() if dataset is None else dataset
    mapping = source_columns(table_columns(path), dataset, source=path, labelled=labelled)
    if ID_COLUMN not in mapping:
        return None
    name = mapping[ID_COLUMN]
    # Ids are read in batches and kept as 64-bit hashes (80 MB for 10 M customers),
    # not as strings; a repeated hash is confirmed on the ids themselves.
    hashes, n_rows = [], 0
    for ids in _id_batches(path, name):
        text = ids.astype(str)
        empty = ids.isna() | (text.str.strip() == "")
        if empty.any():
            rows = (np.flatnonzero(empty.to_numpy())[:3] + n_rows + 1).tolist()
            raise InputError(
                f"{path}: column '{name}' has {int(empty.sum())} empty values "
                f"(e.g. rows {', '.join(map(str, rows))}); every customer needs an id."
            )
        hashes.append(_hash_ids(text))
        n_rows += len(ids)
    if n_rows == 0:
        raise InputError(f"{path}: the table has no rows; expected one row per customer.")
    ordered = np.sort(np.concatenate(hashes))
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if len(repeated):
        candidates = pd.concat(
            ids[np.isin(_hash_ids(ids.astype(str)), repeated)] for ids in _id_batches(path, name)
        )
        duplicated = candidates.duplicated(keep=False)
        if duplicated.any():
            examples = candidates[duplicated].drop_duplicates().head(3).tolist()
            raise InputError(
                f"{path}: column '{name}' has duplicate ids "
                f"({int(candidates.duplicated().sum())} repeated rows, e.g. {examples}); "
                "each customer must appear once."
            )
    return n_rows


def _hash_ids(ids: pd.Series) -> np.ndarray:
    # Ids are (nearly) all distinct: factorising them first, hash_array's default, made
    # hashing 10 M ids take 4.7 s instead of 1.0 s.
    return pd.util.hash_array(ids.to_numpy(dtype=object), categorize=False)


def _id_batches(path: Path, name: str, batch_size: int = 1_000_000) -> Iterator[pd.Series]:
    try:
        if table_format(path) == "parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=[name]):
                yield batch.column(0).to_pandas()
        else:
            for frame in pd.read_csv(path, usecols=[name], dtype={name: str}, chunksize=batch_size):
                yield frame[name]
    except InputError:
        raise
    except Exception as exc:
        raise _read_error(path, exc) from None


def iter_customer_batches(
    path: Path,
    *,
    chunk_size: int,
    labelled: bool = False,
    dataset: DatasetSettings | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield validated chunks of at most ``chunk_size`` rows, in file order.

    Memory stays bounded by the chunk size, whatever the file's size.
    """
    path = Path(path)
    fmt = table_format(path)
    _check_exists(path)
    offset = 0
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            batches: Iterator[pd.DataFrame] = (
                batch.to_pandas()
                for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_size)
            )
        else:
            batches = pd.read_csv(path, chunksize=chunk_size, dtype=_text_columns(dataset, path))
        for frame in batches:
            frame.index = pd.RangeIndex(len(frame))
            yield validate_customers(
                frame, source=path, labelled=labelled, dataset=dataset, row_offset=offset
            )
            offset += len(frame)
    except InputError:
        raise
    except Exception as exc:
        raise _read_error(path, exc) from None
    if offset == 0:
        raise InputError(f"{path}: the table has no rows; expected one row per customer.")


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write a table atomically, as parquet or CSV by the file's extension."""
    path = Path(path)
    fmt = table_format(path)
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            # The temporary's name says nothing of compression: the final name does.
            frame.to_csv(tmp, index=False, compression=csv_compression(path))
    return path


def write_world(
    world: World, *, customers_path: Path, current_path: Path | None, truth_path: Path | None
) -> list[Path]:
    """Write the synthetic world's tables; return the paths written."""
    written = [write_table(world.customers, customers_path)]
    if current_path is not None:
        written.append(write_table(world.current, current_path))
    if truth_path is not None:
        written.append(write_table(world.truth, truth_path))
    return written


@dataclass(frozen=True)
class Chunk:
    """Rows ``start`` to ``stop`` (exclusive) of a table: a unit of distributed work."""

    path: Path
    index: int
    start: int
    stop: int


def plan_chunks(path: Path, *, chunk_size: int) -> list[Chunk]:
    """Cut a table into chunks of ``chunk_size`` rows, counting rows cheaply.

    Raises:
        InputError: the table is missing, unreadable or has no rows.
    """
    path = Path(path)
    fmt = table_format(path)
    _check_exists(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            n_rows = pq.ParquetFile(path).metadata.num_rows
        else:
            n_rows = len(pd.read_csv(path, usecols=[0]))
    except Exception as exc:
        raise _read_error(path, exc) from None
    if n_rows == 0:
        raise InputError(f"{path}: the table has no rows; expected one row per customer.")
    starts = range(0, n_rows, chunk_size)
    return [Chunk(path, i, s, min(s + chunk_size, n_rows)) for i, s in enumerate(starts)]


def read_chunk(
    chunk: Chunk, *, labelled: bool = False, dataset: DatasetSettings | None = None
) -> pd.DataFrame:
    """Read and validate one chunk, reading only the parquet row groups it spans."""
    path = chunk.path
    try:
        if table_format(path) == "parquet":
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(path)
            groups, first, offset = [], None, 0
            for g in range(parquet.metadata.num_row_groups):
                rows = parquet.metadata.row_group(g).num_rows
                if offset < chunk.stop and offset + rows > chunk.start:
                    groups.append(g)
                    first = offset if first is None else first
                offset += rows
            table = parquet.read_row_groups(groups)
            start = chunk.start - (first or 0)
            frame = table.slice(start, chunk.stop - chunk.start).to_pandas()
        else:
            frame = pd.read_csv(
                path,
                skiprows=range(1, chunk.start + 1),
                nrows=chunk.stop - chunk.start,
                dtype=_text_columns(dataset, path),
            )
    except Exception as exc:
        raise _read_error(path, exc) from None
    frame.index = pd.RangeIndex(len(frame))
    return validate_customers(
        frame, source=path, labelled=labelled, dataset=dataset, row_offset=chunk.start
    )
