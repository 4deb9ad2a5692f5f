"""File connector: CSV and JSON Lines files in one folder (a connection's `path`).

Reads stream a batch at a time. Writes go to a temporary file beside the target that replaces it
(or is appended to it) only when the run commits, so a crash never leaves half a file behind.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
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
        path = (self.folder / name).resolve()
        if self.folder != path and self.folder not in path.parents:
            raise ConnectorError(f"{self.where}: '{name}' is outside the connection's folder {self.folder}")
        return path

    def read(self, name: str, fmt: str, *, batch_size: int = 1000, delimiter: str = ",",
             encoding: str = "utf-8") -> Iterator[list[dict[str, Any]]]:
        path = self.resolve(name)
        if not path.is_file():
            raise ConnectorError(f"{self.where}: file '{name}' does not exist in {self.folder}")
        try:
            with path.open(newline="", encoding=encoding) as handle:
                rows = csv.DictReader(handle, delimiter=delimiter) if fmt == "csv" else _jsonl_rows(handle, name)
                batch: list[dict[str, Any]] = []
                for row in rows:
                    batch.append(row)
                    if len(batch) >= batch_size:
                        yield batch
                        batch = []
                if batch:
                    yield batch
        except UnicodeDecodeError as error:
            raise ConnectorError(f"{self.where}: '{name}' is not {encoding} text ({error.reason} at byte "
                                 f"{error.start})") from None
        except csv.Error as error:
            raise ConnectorError(f"{self.where}: '{name}' is not valid CSV: {error}") from None
        except OSError as error:
            raise ConnectorError(f"{self.where}: cannot read '{name}': {error.strerror}") from None

    def writer(self, name: str, fmt: str, mode: str = "overwrite") -> "FileWriter":
        return FileWriter(self.resolve(name), fmt, mode, self.where)

    def close(self) -> None:
        """Nothing held open between batches."""


def _jsonl_rows(handle: Any, name: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConnectorError(f"'{name}' line {number} is not JSON: {error.msg}") from None
        if not isinstance(value, dict):
            raise ConnectorError(f"'{name}' line {number} is not a JSON object")
        yield value


class FileWriter:
    """Collects records in a temporary file; `commit` puts them in place."""

    def __init__(self, target: Path, fmt: str, mode: str, where: str) -> None:
        self.target, self.fmt, self.mode, self.where = target, fmt, mode, where
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        self.temp = Path(temp)
        self.handle = os.fdopen(handle, "w", newline="", encoding="utf-8")
        self.fields: list[str] | None = None
        self.csv: Any = None

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
            self.csv = csv.DictWriter(self.handle, fieldnames=self.fields)
            if not existing:
                self.csv.writeheader()
        extra = [k for k in record if k not in self.fields]
        if extra:
            raise RecordError(f"record has field(s) {', '.join(extra)} that the CSV header {self.fields} lacks")
        self.csv.writerow(record)

    def _existing_header(self) -> list[str] | None:
        """When appending to a CSV that has a header, keep its columns and their order."""
        if self.mode != "append" or not self.target.exists() or self.target.stat().st_size == 0:
            return None
        with self.target.open(newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), None)

    def commit(self) -> None:
        self.handle.close()
        if self.mode == "append" and self.target.exists():
            with self.target.open("a", encoding="utf-8", newline="") as out, self.temp.open(encoding="utf-8") as part:
                for line in part:
                    out.write(line)
            self.temp.unlink()
        else:
            os.replace(self.temp, self.target)

    def abort(self) -> None:
        if not self.handle.closed:
            self.handle.close()
        self.temp.unlink(missing_ok=True)
