"""Reading and writing customer tables: parquet or CSV, whole or in chunks.

A table is a parquet file, a folder of parquet files (``part-0.parquet``,
``part-1.parquet``, … as Spark and pyarrow write them; read as one table, the
files in name order), or a CSV file, plain or compressed by its name
(``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, ``.csv.zip``), or a ``.zip`` archive
holding one CSV whatever the names. Every reader — whole, in chunks, the id
pass, the header, Dask's row ranges, the digest — takes each of them.

Every write is atomic: the data goes to a temporary file in the destination's
folder and is renamed over the destination only once complete, so a crash
leaves the previous file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from churn.atomic import atomic_path
from churn.dataset import ID_COLUMN, DatasetSettings, aliases_section, source_columns, yaml_snippet
from churn.errors import InputError
from churn.schema import validate_customers, validate_outcomes
from churn.synthetic import World

_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def file_digest(path: Path) -> str:
    """A short content hash of a table, to tell runs on the same data from others (a
    folder of parquet files: its files' names and bytes, in reading order)."""
    import hashlib

    path = Path(path)
    digest = hashlib.sha256()
    for part in _parquet_parts(path) if path.is_dir() else [path]:
        if path.is_dir():
            digest.update(part.name.encode())
        with part.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


# A compressed CSV as exports arrive: pandas reads and writes these by name.
_CSV_COMPRESSION: dict[str, Literal["gzip", "bz2", "zip", "xz"]] = {
    ".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz",
}  # fmt: skip


def table_format(path: Path) -> str:
    """``parquet`` or ``csv``, from the file's extension (``.csv.gz`` and the other
    compressed CSVs of ``_CSV_COMPRESSION`` are CSV, and so is any ``.zip``: the archive
    of one CSV); a folder is a parquet table.

    Examples:
        >>> table_format(Path("export.CSV.gz")), table_format(Path("t.parquet"))
        ('csv', 'parquet')
        >>> table_format(Path("WA_Fn-UseC_-Telco-Customer-Churn.zip"))
        'csv'
    """
    path = Path(path)
    if path.is_dir():
        return "parquet"
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if len(suffixes) == 2 and suffixes[0] == ".csv" and suffixes[1] in _CSV_COMPRESSION:
        return "csv"
    # An archive's name says nothing of what it holds, unless it names another format.
    if suffixes[-1:] == [".zip"] and (len(suffixes) == 1 or suffixes[0] not in _FORMATS):
        return "csv"
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        compressed = ", ".join(f".csv{c}" for c in _CSV_COMPRESSION)
        raise InputError(
            f"{path}: unsupported file type '{''.join(path.suffixes[-2:]) or 'none'}'; "
            f"expected one of {', '.join(sorted(_FORMATS))}, a compressed CSV "
            f"({compressed}), a .zip of one CSV, or a folder of parquet files."
        )
    return fmt


def csv_compression(path: Path) -> Literal["gzip", "bz2", "zip", "xz"] | None:
    """How a CSV file is compressed, by its name (None: plain text)."""
    return _CSV_COMPRESSION.get(Path(path).suffix.lower())


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: the file does not exist.")
    for part in _parquet_parts(path) if path.is_dir() else [path]:
        if part.stat().st_size == 0:
            raise InputError(f"{part}: the file is empty (0 bytes).")


_PARQUET_SUFFIXES = (".parquet", ".pq")


def _name_order(path: Path) -> list[str | int]:
    """Names in order, numbers by value: pyarrow writes ``part-2`` and ``part-10`` unpadded."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _parquet_parts(path: Path) -> list[Path]:
    """The files of a parquet table: the file itself, or a folder's parquet files in name
    order (Spark's ``_SUCCESS`` marker and hidden files are not parts).

    Raises:
        InputError: the folder holds no parquet file.
    """
    if not path.is_dir():
        return [path]
    parts = sorted(
        (
            p for p in path.iterdir()
            if p.is_file() and p.suffix.lower() in _PARQUET_SUFFIXES
            and not p.name.startswith((".", "_"))
        ),
        key=_name_order,
    )  # fmt: skip
    if not parts:
        found = sorted(p.name for p in path.iterdir())
        raise InputError(
            f"{path}: the folder holds no parquet files (*.parquet, *.pq) to read as one "
            f"table; it holds {found[:10] if found else 'nothing'}."
        )
    return parts


def _parquet_schema(path: Path) -> pa.Schema:
    """A parquet table's schema; a folder's parts must agree on it, up to types that
    widen without loss (``int32`` and ``int64``, ``string`` and ``large_string``; a column
    all empty in one part, typed ``null`` there, takes the other parts' type).

    Raises:
        InputError: a part has other columns, or another type for a column, than the
            first part; the message names both files.
    """
    import pyarrow.parquet as pq

    parts = _parquet_parts(path)
    schema = pq.read_schema(parts[0])
    for part in parts[1:]:
        other = pq.read_schema(part)
        if set(other.names) != set(schema.names):
            missing = [n for n in schema.names if n not in other.names]
            extra = [n for n in other.names if n not in schema.names]
            raise InputError(
                f"{path}: the file {part.name} has other columns than {parts[0].name}"
                + (f"; it lacks {missing}" if missing else "")
                + (f"; it adds {extra}" if extra else "")
                + ". Every file of a parquet folder is part of one table, with the same "
                "columns: rewrite or remove that file."
            )
        for name in schema.names:
            mine, theirs = schema.field(name), other.field(name)
            if mine.type == theirs.type:
                continue
            try:
                wider = pa.unify_schemas(
                    [pa.schema([mine]), pa.schema([theirs])], promote_options="permissive"
                ).field(name)
            except (pa.ArrowTypeError, pa.ArrowInvalid):
                raise InputError(
                    f"{path}: the file {part.name} stores column '{name}' as {theirs.type}, "
                    f"but {parts[0].name} as {mine.type}. Every file of a parquet folder is "
                    "part of one table, with the same column types: rewrite or remove that file."
                ) from None
            schema = schema.set(schema.get_field_index(name), wider)
    return schema


def _parquet_batches(
    path: Path, *, batch_size: int, columns: list[str] | None = None
) -> Iterator[pa.Table]:
    """A parquet table (file or folder) as tables of ``batch_size`` rows (the last fewer),
    in order, across the folder's files."""
    import pyarrow.parquet as pq

    schema = _parquet_schema(path)
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
    pending: list[pa.RecordBatch] = []
    n_pending = 0
    for part in _parquet_parts(path):
        for batch in pq.ParquetFile(part).iter_batches(batch_size=batch_size, columns=columns):
            pending.append(batch.select(schema.names).cast(schema))
            n_pending += batch.num_rows
            while n_pending >= batch_size:
                table = pa.Table.from_batches(pending, schema=schema)
                yield table.slice(0, batch_size)
                rest = table.slice(batch_size)
                pending, n_pending = rest.to_batches(), rest.num_rows
    if n_pending:
        yield pa.Table.from_batches(pending, schema=schema)


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(part).metadata.num_rows for part in _parquet_parts(path))


def _zip_member(path: Path, archive: zipfile.ZipFile) -> str:
    """The CSV inside a ``.zip``: its one ``*.csv`` file, or the one file it holds
    (folders, macOS's ``__MACOSX/`` copies and hidden files aside).

    Raises:
        InputError: the archive holds several CSV files, or none; the message names them.
    """
    files = [
        info.filename for info in archive.infolist()
        if not info.is_dir() and not info.filename.startswith("__MACOSX/")
        and not PurePosixPath(info.filename).name.startswith(".")
    ]  # fmt: skip
    csvs = [name for name in files if name.lower().endswith(".csv")]
    if len(csvs) == 1:
        return csvs[0]
    if not csvs and len(files) == 1:
        return files[0]
    if csvs:
        raise InputError(
            f"{path}: the archive holds {len(csvs)} CSV files ({', '.join(csvs)}); a table is "
            "one of them. Unzip the archive and name the CSV meant, or zip it alone."
        )
    raise InputError(
        f"{path}: the archive holds no CSV file"
        + (f" (it holds {', '.join(files[:10])})" if files else " (it is empty)")
        + "; expected a .zip of one CSV."
    )


@contextlib.contextmanager
def _csv_source(path: Path) -> Iterator[Path | IO[bytes]]:
    """What pandas reads for a CSV: its path (compression by the name), or, for a
    ``.zip``, the one CSV inside, whatever the archive and the CSV are named."""
    if path.suffix.lower() != ".zip":
        yield path
        return
    with zipfile.ZipFile(path) as archive, archive.open(_zip_member(path, archive)) as member:
        yield member


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
    if fmt == "csv":
        dtype = _text_columns(dataset, path)
    try:
        if fmt == "parquet" and not path.is_dir():
            return pd.read_parquet(path, columns=columns)
        if fmt == "parquet":
            return _read_parquet_folder(path, columns=columns)
        with _csv_source(path) as source:
            return pd.read_csv(source, usecols=columns, dtype=dtype)
    except InputError:
        raise
    except Exception as exc:  # pyarrow and the CSV parser raise many types for bad bytes
        raise _read_error(path, exc) from None


def _read_parquet_folder(path: Path, *, columns: list[str] | None) -> pd.DataFrame:
    import pyarrow.parquet as pq

    schema = _parquet_schema(path)
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
    tables = [
        pq.read_table(part, columns=columns).select(schema.names).cast(schema)
        for part in _parquet_parts(path)
    ]
    # Rows numbered afresh: an index in the metadata is the first file's.
    return pa.concat_tables(tables).to_pandas().reset_index(drop=True)


def table_dtypes(path: Path, *, sample_rows: int = 1000) -> pd.Series:
    """The columns of a table and their types, without reading it whole: a parquet
    file's schema, a CSV's first rows."""
    path = Path(path)
    _check_exists(path)
    try:
        if table_format(path) == "parquet":
            return _parquet_schema(path).empty_table().to_pandas().dtypes
        with _csv_source(path) as source:
            return pd.read_csv(source, nrows=sample_rows).dtypes
    except InputError:
        raise
    except Exception as exc:
        raise _read_error(path, exc) from None


def table_columns(path: Path) -> list[str]:
    """The column names of a table, read from its header or parquet footer alone."""
    path = Path(path)
    fmt = table_format(path)
    _check_exists(path)
    try:
        if fmt == "parquet":
            names = [str(n) for n in _parquet_schema(path).names]
        else:
            # The header as written: pandas would rename a repeated name to "name.1".
            with _csv_source(path) as source:
                header = pd.read_csv(source, nrows=1, header=None, dtype=str, keep_default_na=False)
            names = [str(c) for c in header.iloc[0]] if len(header) else []
    except InputError:
        raise
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
            for table in _parquet_batches(path, batch_size=batch_size, columns=[name]):
                yield table.column(0).to_pandas()
        else:
            with _csv_source(path) as source:
                reader = pd.read_csv(
                    source, usecols=[name], dtype={name: str}, chunksize=batch_size
                )
                for frame in reader:
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
        with contextlib.ExitStack() as stack:
            if fmt == "parquet":
                batches: Iterator[pd.DataFrame] = (
                    table.to_pandas() for table in _parquet_batches(path, batch_size=chunk_size)
                )
            else:
                dtype = _text_columns(dataset, path)
                source = stack.enter_context(_csv_source(path))
                batches = pd.read_csv(source, chunksize=chunk_size, dtype=dtype)
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
        elif csv_compression(path) == "zip":
            # Named for the archive, not for the temporary file it is written as.
            member = path.name[: -len(path.suffix)]
            member += "" if member.lower().endswith(".csv") else ".csv"
            frame.to_csv(tmp, index=False, compression={"method": "zip", "archive_name": member})
        else:
            # The temporary's name says nothing of compression: the final name does.
            frame.to_csv(tmp, index=False, compression=csv_compression(path))
    return path


def copy_rows(
    path: Path,
    destination: Path,
    *,
    select: Callable[[pd.DataFrame], np.ndarray],
    drop: list[str] | None = None,
    row_numbers: str | None = None,
    chunk_size: int = 100_000,
    if_none: str | None = None,
) -> int:
    """Copy the rows of a table that ``select`` picks to ``destination`` (atomically, in
    the table's format), chunk by chunk: memory stays bounded by the chunk size.

    A CSV's cells are copied as written (read as text: ``select`` sees text, ``""`` for
    an empty cell); a parquet table's keep their types.

    Args:
        path: the table.
        destination: the file to write (``.csv`` for a CSV table, ``.parquet`` else).
        select: given a chunk (its index the rows' positions in the table), the mask of
            the rows to copy.
        drop: columns to leave out (the file's names).
        row_numbers: a column to add first, holding each row's number in the table
            (1, 2, …), so that ids generated from row numbers stay those of the table.
        chunk_size: rows read at a time.
        if_none: when given, selecting no row raises an InputError with this message
            and ``destination`` is left as it was.

    Returns:
        The rows copied.
    """
    import pyarrow.parquet as pq

    path, destination = Path(path), Path(destination)
    fmt = table_format(path)
    if table_format(destination) != fmt or csv_compression(destination) is not None:
        raise ValueError(f"{destination}: rows of a {fmt} table are copied to a plain {fmt} file")
    _check_exists(path)
    drop = drop or []
    offset = copied = 0
    try:
        with atomic_path(destination) as tmp, contextlib.ExitStack() as stack:
            if fmt == "csv":
                source = stack.enter_context(_csv_source(path))
                reader = pd.read_csv(source, dtype=str, keep_default_na=False, chunksize=chunk_size)
                for frame in reader:
                    frame.index = pd.RangeIndex(offset, offset + len(frame))
                    if row_numbers is not None:
                        frame.insert(0, row_numbers, (frame.index + 1).astype(str))
                    rows = frame.loc[select(frame)].drop(columns=drop)
                    rows.to_csv(tmp, mode="a", header=offset == 0, index=False)
                    offset, copied = offset + len(frame), copied + len(rows)
                if offset == 0:  # a header alone: the copy has it too
                    header = [c for c in table_columns(path) if c not in drop]
                    pd.DataFrame(columns=header).to_csv(tmp, index=False)
            else:
                writer: pq.ParquetWriter | None = None
                for table in _parquet_batches(path, batch_size=chunk_size):
                    frame = table.to_pandas()
                    frame.index = pd.RangeIndex(offset, offset + len(frame))
                    mask = np.asarray(select(frame), dtype=bool)
                    rows = table.filter(pa.array(mask)).drop_columns(drop)
                    if row_numbers is not None:
                        numbers = (np.flatnonzero(mask) + offset + 1).astype(str)
                        rows = rows.add_column(0, row_numbers, pa.array(numbers))
                    if writer is None:
                        writer = stack.enter_context(pq.ParquetWriter(tmp, rows.schema))
                    writer.write_table(rows)
                    offset, copied = offset + table.num_rows, copied + rows.num_rows
                if writer is None:
                    _parquet_schema(path).empty_table().drop_columns(drop).to_pandas().to_parquet(
                        tmp, index=False
                    )
            if copied == 0 and if_none is not None:
                raise InputError(if_none)
    except InputError:
        raise
    except Exception as exc:
        raise _read_error(path, exc) from None
    return copied


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
            n_rows = _parquet_rows(path)
        else:
            with _csv_source(path) as source:
                n_rows = len(pd.read_csv(source, usecols=[0]))
    except InputError:
        raise
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
            frame = _read_parquet_rows(path, chunk.start, chunk.stop).to_pandas()
        else:
            dtype = _text_columns(dataset, path)
            with _csv_source(path) as source:
                frame = pd.read_csv(
                    source,
                    skiprows=range(1, chunk.start + 1),
                    nrows=chunk.stop - chunk.start,
                    dtype=dtype,
                )
    except InputError:
        raise
    except Exception as exc:
        raise _read_error(path, exc) from None
    frame.index = pd.RangeIndex(len(frame))
    return validate_customers(
        frame, source=path, labelled=labelled, dataset=dataset, row_offset=chunk.start
    )


def _read_parquet_rows(path: Path, start: int, stop: int) -> pa.Table:
    """Rows ``start`` to ``stop`` of a parquet table, reading only the row groups (of the
    folder's files) they span."""
    import pyarrow.parquet as pq

    schema = _parquet_schema(path)
    pieces, offset = [], 0
    for part in _parquet_parts(path):
        parquet = pq.ParquetFile(part)
        groups, first = [], None
        for g in range(parquet.metadata.num_row_groups):
            rows = parquet.metadata.row_group(g).num_rows
            if offset < stop and offset + rows > start:
                groups.append(g)
                first = offset if first is None else first
            offset += rows
        if groups:
            table = parquet.read_row_groups(groups).select(schema.names).cast(schema)
            begin = max(start - (first or 0), 0)
            pieces.append(table.slice(begin, stop - (first or 0) - begin))
        if offset >= stop:
            break
    return pa.concat_tables(pieces) if pieces else schema.empty_table()
