"""FileConnector on real files: CSV and JSON Lines in batches, writes that land whole or not at all."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from app.connectors import ConnectionSpec
from app.connectors.files import FileConnector
from app.errors import ConnectorError, RecordError


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "exchange"
    path.mkdir()
    return path


@pytest.fixture
def files(folder: Path) -> FileConnector:
    return FileConnector(ConnectionSpec("drop", "sandbox", "file", {"path": str(folder)}))


def write_all(files: FileConnector, name: str, fmt: str, records: list[dict], mode: str = "overwrite") -> None:
    writer = files.writer(name, fmt, mode)
    for record in records:
        writer.write(record)
    writer.commit()


def test_csv_is_read_in_batches_of_text_records(files: FileConnector, folder: Path) -> None:
    lines = ["id,name,city"] + [f"{n},Name {n},City {n % 7}" for n in range(1, 2501)]
    (folder / "accounts.csv").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")

    batches = list(files.read("accounts.csv", "csv", batch_size=1000))

    assert [len(b) for b in batches] == [1000, 1000, 500]
    assert batches[0][0] == {"id": "1", "name": "Name 1", "city": "City 1"}
    assert [r["id"] for b in batches for r in b] == [str(n) for n in range(1, 2501)]


def test_csv_saved_by_a_spreadsheet_with_a_byte_order_mark_reads_its_first_column(
    files: FileConnector, folder: Path
) -> None:
    (folder / "excel.csv").write_bytes("\ufeffid;name\r\n1;Ada\r\n".encode())

    assert list(files.read("excel.csv", "csv", delimiter=";")) == [[{"id": "1", "name": "Ada"}]]


def test_a_csv_row_with_more_values_than_the_header_names_its_line(files: FileConnector, folder: Path) -> None:
    (folder / "ragged.csv").write_text("id,name\n1,Ada\n2,Bob,extra\n", encoding="utf-8")

    with pytest.raises(ConnectorError, match="'ragged.csv' line 3 has 3 values; the header names 2"):
        list(files.read("ragged.csv", "csv"))


def test_jsonl_is_read_in_batches_and_blank_lines_are_skipped(files: FileConnector, folder: Path) -> None:
    lines = [json.dumps({"id": n, "tags": ["a"], "price": n / 4}) for n in range(1, 8)]
    lines.insert(3, "")
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    batches = list(files.read("events.jsonl", "jsonl", batch_size=3))

    assert [[r["id"] for r in b] for b in batches] == [[1, 2, 3], [4, 5, 6], [7]]
    assert batches[0][1] == {"id": 2, "tags": ["a"], "price": 0.5}


def test_a_bad_jsonl_line_is_named(files: FileConnector, folder: Path) -> None:
    (folder / "events.jsonl").write_text('{"id": 1}\n\n{"id": 2,,}\n{"id": 3}\n', encoding="utf-8")

    with pytest.raises(ConnectorError, match="'events.jsonl' line 3 is not JSON") as error:
        list(files.read("events.jsonl", "jsonl"))
    assert str(error.value).startswith("connection 'drop' (sandbox): ")

    (folder / "list.jsonl").write_text('{"id": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ConnectorError, match="'list.jsonl' line 2 is not a JSON object"):
        list(files.read("list.jsonl", "jsonl"))


def test_a_missing_file_and_an_unknown_format_are_clear_errors(files: FileConnector, folder: Path) -> None:
    with pytest.raises(ConnectorError, match="file 'nothing.csv' does not exist"):
        list(files.read("nothing.csv", "csv"))
    (folder / "a.xml").write_text("<a/>", encoding="utf-8")
    with pytest.raises(ConnectorError, match="unknown file format 'xml'"):
        list(files.read("a.xml", "xml"))


def test_overwrite_replaces_the_file_only_on_commit(files: FileConnector, folder: Path) -> None:
    (folder / "out.csv").write_text("old\nrow\n", encoding="utf-8")

    writer = files.writer("out.csv", "csv")
    writer.write({"id": 1, "name": "Ada"})
    assert (folder / "out.csv").read_text(encoding="utf-8") == "old\nrow\n"  # not yet
    writer.write({"name": "Bob", "id": 2})
    writer.commit()

    assert (folder / "out.csv").read_bytes() == b"id,name\r\n1,Ada\r\n2,Bob\r\n"
    assert sorted(p.name for p in folder.iterdir()) == ["out.csv"]


def test_append_keeps_the_existing_csv_header_and_its_order(files: FileConnector, folder: Path) -> None:
    (folder / "out.csv").write_bytes(b"name,id\r\nAda,1")  # no newline at the end

    write_all(files, "out.csv", "csv", [{"id": 2, "name": "Bob"}, {"name": "Cy", "id": 3}], mode="append")

    assert list(files.read("out.csv", "csv")) == [
        [{"name": "Ada", "id": "1"}, {"name": "Bob", "id": "2"}, {"name": "Cy", "id": "3"}]
    ]
    assert (folder / "out.csv").read_bytes() == b"name,id\r\nAda,1\r\nBob,2\r\nCy,3\r\n"


def test_append_refuses_a_field_the_header_lacks(files: FileConnector, folder: Path) -> None:
    (folder / "out.csv").write_text("name,id\n", encoding="utf-8")
    writer = files.writer("out.csv", "csv", "append")
    with pytest.raises(RecordError, match="email"):
        writer.write({"id": 1, "name": "Ada", "email": "ada@example.com"})
    writer.abort()


def test_append_to_jsonl_and_to_a_missing_file(files: FileConnector, folder: Path) -> None:
    (folder / "log.jsonl").write_text('{"id": 1}', encoding="utf-8")

    write_all(files, "log.jsonl", "jsonl", [{"id": 2}], mode="append")
    write_all(files, "new.csv", "csv", [{"id": 1}], mode="append")

    assert [r["id"] for b in files.read("log.jsonl", "jsonl") for r in b] == [1, 2]
    assert list(files.read("new.csv", "csv")) == [[{"id": "1"}]]


def test_abort_leaves_the_old_file_untouched_and_no_leftovers(files: FileConnector, folder: Path) -> None:
    (folder / "out.jsonl").write_text('{"id": 0}\n', encoding="utf-8")

    for mode in ("overwrite", "append"):
        writer = files.writer("out.jsonl", "jsonl", mode)
        writer.write({"id": 1})
        writer.abort()

    assert (folder / "out.jsonl").read_text(encoding="utf-8") == '{"id": 0}\n'
    assert sorted(p.name for p in folder.iterdir()) == ["out.jsonl"]


def test_a_written_file_gets_ordinary_permissions_and_keeps_existing_ones(files: FileConnector, folder: Path) -> None:
    umask = os.umask(0o022)
    try:
        write_all(files, "new.csv", "csv", [{"id": 1}])
        (folder / "shared.csv").write_text("id\n", encoding="utf-8")
        os.chmod(folder / "shared.csv", 0o664)
        write_all(files, "shared.csv", "csv", [{"id": 1}])
        write_all(files, "shared.csv", "csv", [{"id": 2}], mode="append")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((folder / "new.csv").stat().st_mode) == 0o644
    assert stat.S_IMODE((folder / "shared.csv").stat().st_mode) == 0o664


@pytest.mark.parametrize("name", ["../x.csv", "../exchange-2/x.csv", "/etc/passwd", "sub/../../x.csv", ".", ""])
def test_a_path_outside_the_folder_is_refused(files: FileConnector, name: str) -> None:
    with pytest.raises(ConnectorError, match="outside the connection's folder|names the folder itself"):
        files.writer(name, "csv")
    with pytest.raises(ConnectorError, match="outside the connection's folder|names the folder itself"):
        list(files.read(name, "csv"))


def test_a_symlink_out_of_the_folder_is_refused(files: FileConnector, folder: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("id\n1\n", encoding="utf-8")
    (folder / "link.csv").symlink_to(tmp_path / "secret.csv")

    with pytest.raises(ConnectorError, match="outside the connection's folder"):
        list(files.read("link.csv", "csv"))


def test_subfolders_inside_the_folder_are_fine(files: FileConnector, folder: Path) -> None:
    write_all(files, "2024/03/out.jsonl", "jsonl", [{"id": 1}])
    assert list(files.read("2024/03/out.jsonl", "jsonl")) == [[{"id": 1}]]
