"""File connector: CSV and JSON Lines files in one folder (a connection's `path`).

Reads stream a batch at a time. Writes go to a temporary file beside the target that replaces it
only when the run commits (for an append, a copy of the old file with the new records after it),
so a crash or an aborted run never leaves half a file behind.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.connectors import ConnectionSpec
from app.errors import ConnectorError, RecordError

FORMATS = ("csv", "jsonl")


class FileConnector:
    """A folder of data files; names are relative to it and may not leave it."""

    def __init__(self, spec: ConnectionSpec) -> None:
        self.spec = spec
        folder = spec.settings.get("path")
        if not folder:
            raise ConnectorError(f"connection '{spec.name}' ({spec.env}) has no folder path")
        self.folder = Path(folder).expanduser().resolve()

    @property
    def where(self) -> str:
        return f"connection '{self.spec.name}' ({self.spec.env})"

    def resolve(self, name: str) -> Path:
        """The file `name` inside the folder (symbolic links followed); anything else is refused."""
        path = (self.folder / name).resolve()
        if path == self.folder:
            raise ConnectorError(f"{self.where}: '{name}' names the folder itself, not a file in it")
        if self.folder not in path.parents:
            raise ConnectorError(f"{self.where}: '{name}' is outside the connection's folder {self.folder}")
        return path

    def _check_format(self, fmt: str) -> None:
        if fmt not in FORMATS:
            raise ConnectorError(f"{self.where}: unknown file format '{fmt}' (expected one of {', '.join(FORMATS)})")

    def read(
        self, name: str, fmt: str, *, batch_size: int = 1000, delimiter: str = ",", encoding: str = "utf-8"
    ) -> Iterator[list[dict[str, Any]]]:
        self._check_format(fmt)
        path = self.resolve(name)
        if not path.is_file():
            raise ConnectorError(f"{self.where}: file '{name}' does not exist in {self.folder}")
        # Spreadsheets often start UTF-8 files with a byte order mark; it is not part of the first field.
        encoding = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
        try:
            with path.open(newline="", encoding=encoding) as handle:
                rows = _csv_rows(handle, name, delimiter) if fmt == "csv" else _jsonl_rows(handle, name)
                batch: list[dict[str, Any]] = []
                for row in rows:
                    batch.append(row)
                    if len(batch) >= batch_size:
                        yield batch
                        batch = []
                if batch:
                    yield batch
        except _BadLine as error:
            raise ConnectorError(f"{self.where}: {error}") from None
        except UnicodeDecodeError as error:
            raise ConnectorError(
                f"{self.where}: '{name}' is not {encoding} text ({error.reason} at byte {error.start})"
            ) from None
        except LookupError:
            raise ConnectorError(f"{self.where}: unknown text encoding '{encoding}'") from None
        except OSError as error:
            raise ConnectorError(f"{self.where}: cannot read '{name}': {error.strerror}") from None

    def writer(self, name: str, fmt: str, mode: str = "overwrite") -> FileWriter:
        self._check_format(fmt)
        path = self.resolve(name)
        try:
            return FileWriter(path, fmt, mode, self.where)
        except OSError as error:
            raise ConnectorError(f"{self.where}: cannot write '{name}': {error.strerror}") from None

    def close(self) -> None:
        """Nothing held open between batches."""


class _BadLine(Exception):
    """A line of a file that cannot be a record; the message names the file and the line."""


def _csv_rows(handle: Any, name: str, delimiter: str) -> Iterator[dict[str, Any]]:
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            return
        for values in reader:
            if not values:
                continue  # a blank line
            if len(values) > len(header):
                if any(v.strip() for v in values[len(header) :]):
                    raise _BadLine(
                        f"'{name}' line {reader.line_num} has {len(values)} values; the header names {len(header)}"
                    )
                values = values[: len(header)]  # trailing empty cells, as spreadsheets save them
            yield dict(zip(header, values + [None] * (len(header) - len(values))))
    except csv.Error as error:
        raise _BadLine(f"'{name}' is not valid CSV at line {reader.line_num}: {error}") from None


def _jsonl_rows(handle: Any, name: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise _BadLine(f"'{name}' line {number} is not JSON: {error.msg} (column {error.colno})") from None
        if not isinstance(value, dict):
            raise _BadLine(f"'{name}' line {number} is not a JSON object")
        yield value


class FileWriter:
    """Collects records in a temporary file; `commit` puts them in place, `abort` throws them away."""

    def __init__(self, target: Path, fmt: str, mode: str, where: str) -> None:
        if mode not in ("overwrite", "append"):
            raise ConnectorError(f"{where}: unknown write mode '{mode}' (expected overwrite or append)")
        self.target, self.fmt, self.mode, self.where = target, fmt, mode, where
        target.parent.mkdir(parents=True, exist_ok=True)
        self.temp = _new_temp(target)
        self.handle = self.temp.open("w", newline="", encoding="utf-8")
        self.fields: list[str] | None = None
        self.csv: Any = None
        self.newline = "\n" if fmt == "jsonl" else "\r\n"

    def write(self, record: dict[str, Any]) -> None:
        if self.fmt == "jsonl":
            try:
                self.handle.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")
            except (TypeError, ValueError) as error:
                raise RecordError(f"record cannot be written as JSON: {error}") from None
            return
        if self.fields is None:
            existing = self._existing_header()
            self.fields = existing or list(record)
            self.csv = csv.DictWriter(self.handle, fieldnames=self.fields, lineterminator=self.newline)
            if not existing:
                self.csv.writeheader()
        extra = [k for k in record if k not in self.fields]
        if extra:
            raise RecordError(f"record has field(s) {', '.join(extra)} that the CSV header {self.fields} lacks")
        self.csv.writerow(record)

    def _appending(self) -> bool:
        return self.mode == "append" and self.target.exists() and self.target.stat().st_size > 0

    def _existing_header(self) -> list[str] | None:
        """When appending to a CSV that has a header, keep its columns, their order and its line ends."""
        if not self._appending():
            return None
        with self.target.open("rb") as raw:
            first = raw.readline()
        self.newline = "\r\n" if first.endswith(b"\r\n") else "\n"
        with self.target.open(newline="", encoding="utf-8-sig") as handle:
            return next(csv.reader(handle), None)

    def commit(self) -> None:
        self.handle.close()
        try:
            if self._appending() and self.temp.stat().st_size == 0:
                self.temp.unlink()  # nothing to add: the old file stays exactly as it was
                return
            if self._appending():
                combined = _new_temp(self.target)
                try:
                    with combined.open("wb") as out:
                        with self.target.open("rb") as old:
                            shutil.copyfileobj(old, out)
                            old.seek(-1, os.SEEK_END)
                            if old.read(1) not in (b"\n", b"\r"):
                                out.write(self.newline.encode())
                        with self.temp.open("rb") as part:
                            shutil.copyfileobj(part, out)
                        _flush(out)
                except BaseException:
                    combined.unlink(missing_ok=True)
                    raise
                self.temp.unlink()
                self.temp = combined
            else:
                with self.temp.open("rb+") as part:
                    _flush(part)
            if self.target.exists():
                os.chmod(self.temp, stat.S_IMODE(self.target.stat().st_mode))
            os.replace(self.temp, self.target)
        except OSError as error:
            self.abort()
            raise ConnectorError(f"{self.where}: cannot write '{self.target.name}': {error.strerror}") from None

    def abort(self) -> None:
        if not self.handle.closed:
            self.handle.close()
        self.temp.unlink(missing_ok=True)


def _new_temp(target: Path) -> Path:
    """A new, empty file beside `target`, with the permissions a new file gets here (umask applies)."""
    for _ in range(100):
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return temp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")


def _flush(handle: Any) -> None:
    handle.flush()
    os.fsync(handle.fileno())
