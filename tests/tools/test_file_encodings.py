"""Files in whatever encoding a spreadsheet saved: UTF-8 and UTF-16 with a BOM load; any other is reported by
file and line, with how to convert it, and nothing is loaded or written."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.tools.workspaces import copy_tiny, problems
from tools.errors import WorkspaceError
from tools.sources.importers import read_export
from tools.sources.mapping import load_mapping
from tools.sources.sync import merge_entries
from tools.workspace import load_workspace

FILES = ("workspace.yaml", "clients.yaml", "people.csv", "time_entries.csv", "tasks.csv")
HARVEST = ("Date,Client,Project,Project Code,Task,Notes,Hours,Billable?,First Name,Last Name\n"
           "2026-03-09,Acme,Website,ACM.WEB,Design,Checkout wireframes,1.25,Yes,Ann,Lee\n"
           "2026-03-10,Acme,Website,ACM.WEB,Design,Café menu mock-ups,2,Yes,Zoë,Müller\n")
TOGGL = ("User,Email,Client,Project,Task,Description,Billable,Start date,Start time,End date,End time,Duration\n"
         "Ann Lee,ann@x,Acme,Website,,Checkout wireframes,Yes,2026-03-09,09:00:00,2026-03-09,10:15:00,01:15:00\n"
         "Zoë Müller,zoe@x,Acme,Website,,Café menu mock-ups,Yes,2026-03-10,09:00:00,2026-03-10,11:00:00,02:00:00\n")
CLOCKIFY = ("Project,Client,Description,Task,User,Email,Billable,Start Date,Start Time,End Date,End Time,"
            "Duration (h),Duration (decimal)\n"
            "Website,Acme,Checkout wireframes,,Ann Lee,ann@x,Yes,03/19/2026,09:00 AM,03/19/2026,10:15 AM,"
            "01:15:00,1.25\n"
            "Website,Acme,Café menu mock-ups,,Zoë Müller,zoe@x,Yes,03/20/2026,09:00 AM,03/20/2026,11:00 AM,"
            "02:00:00,2.00\n")
EXPORTS = {"harvest": HARVEST, "toggl": TOGGL, "clockify": CLOCKIFY}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return copy_tiny(tmp_path)


def resave(path: Path, encoding: str, *, old: str = "", new: str = "") -> None:
    """Save `path` again in `encoding`, as a spreadsheet would, after replacing `old` with `new`."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_bytes(text.replace(old, new, 1).encode(encoding))


# --- the workspace --------------------------------------------------------------------------------


def encode(text: str, encoding: str) -> bytes:
    """`text` as saved in `encoding`; "-bom" asks for the byte-order mark codecs leave out for a given order."""
    if encoding.endswith("-bom"):
        codec = encoding.removesuffix("-bom")
        return "\ufeff".encode(codec) + text.encode(codec)
    return text.encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le-bom", "utf-16-be-bom"])
def test_a_workspace_saved_as_utf16_with_a_bom_or_utf8_with_one_loads_the_same(tiny: Path, encoding: str) -> None:
    expected = load_workspace(tiny)
    for name in FILES:
        text = (tiny / name).read_text(encoding="utf-8").replace("Beta GmbH", "Bêta GmbH")
        (tiny / name).write_bytes(encode(text, "utf-8-sig" if name == "people.csv" else encoding))

    ws = load_workspace(tiny)

    assert ws.client("beta").name == "Bêta GmbH"
    assert ws.entries == expected.entries and ws.tasks == expected.tasks and ws.people == expected.people
    assert ws.settings == expected.settings


def test_a_cp1252_clients_yaml_is_reported_at_the_line_of_its_first_accent_with_how_to_convert(tiny: Path) -> None:
    resave(tiny / "clients.yaml", "cp1252", old="name: Beta GmbH", new="name: Bêta GmbH – Köln")

    assert problems(tiny) == [
        "clients.yaml:25: is not UTF-8 text (byte 0xea is not UTF-8; the file looks like cp1252); save it as "
        "UTF-8, or: iconv -f cp1252 -t utf-8 clients.yaml > clients.yaml.utf8"
    ]


def test_a_latin1_csv_is_reported_by_line_with_the_spreadsheet_setting_that_fixes_it(tiny: Path) -> None:
    # \x81 exists in latin-1 (a control character) but not in cp1252.
    resave(tiny / "time_entries.csv", "latin-1", old="fix checkout bug", new="fix caf\xe9 \x81 checkout bug")

    [problem] = problems(tiny)

    assert problem.startswith("time_entries.csv:4: is not UTF-8 text (byte 0xe9 is not UTF-8; the file looks like "
                              "latin-1)")
    assert problem.endswith('save it as UTF-8 (a spreadsheet\'s "CSV UTF-8"), or: '
                            "iconv -f latin-1 -t utf-8 time_entries.csv > time_entries.csv.utf8")


def test_utf16_without_a_byte_order_mark_is_reported_with_the_encoding_to_convert_from(tiny: Path) -> None:
    resave(tiny / "people.csv", "utf-16-le")

    assert problems(tiny) == [
        "people.csv:1: holds NUL bytes: it looks like UTF-16 without a byte-order mark; save it as UTF-8 "
        "(a spreadsheet's \"CSV UTF-8\"), or: iconv -f utf-16le -t utf-8 people.csv > people.csv.utf8"
    ]


def test_random_bytes_are_reported_as_no_text_file_and_every_other_unreadable_file_too(tiny: Path) -> None:
    (tiny / "tasks.csv").write_bytes(random.Random(14).randbytes(4096))
    resave(tiny / "workspace.yaml", "cp1252", old="firm: Tiny Studio", new="firm: Tiny Studio ©")

    found = problems(tiny)

    assert len(found) == 2
    assert found[0].startswith("workspace.yaml:1: is not UTF-8 text (byte 0xa9")
    assert found[1].startswith("tasks.csv:1: is not a text file (byte 0x")
    assert found[1].endswith("is it the right file? It must be text saved as UTF-8")


# --- what the importers and syncs read ------------------------------------------------------------


@pytest.mark.parametrize("system", sorted(EXPORTS))
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be-bom"])
def test_an_export_saved_as_utf16_with_a_bom_by_excel_is_imported_whole(
    tmp_path: Path, system: str, encoding: str
) -> None:
    export = tmp_path / f"{system}.csv"
    export.write_bytes(encode(EXPORTS[system], encoding))

    result = read_export(export, system)

    assert result.problems == []
    assert [(e.person, e.notes, e.hours) for e in result.entries] == [
        ("Ann Lee", "Checkout wireframes", 1.25), ("Zoë Müller", "Café menu mock-ups", 2)]


@pytest.mark.parametrize("system", sorted(EXPORTS))
def test_a_cp1252_export_is_refused_at_the_line_of_its_first_accent_with_how_to_convert(
    tmp_path: Path, system: str
) -> None:
    export = tmp_path / f"{system}.csv"
    export.write_bytes(EXPORTS[system].encode("cp1252"))

    result = read_export(export, system)

    assert result.entries == []
    assert [str(p) for p in result.problems] == [
        f"{export}:3: the file is not UTF-8 text (byte 0x{'eb' if system == 'toggl' else 'e9'} is not UTF-8; the "
        "file looks like cp1252); save it as UTF-8 (a spreadsheet's \"CSV UTF-8\"), or: "
        f"iconv -f cp1252 -t utf-8 {system}.csv > {system}.csv.utf8"
    ]


def test_an_import_into_a_cp1252_time_entries_file_is_refused_and_the_file_is_left_as_it_was(
    tiny: Path, tmp_path: Path
) -> None:
    resave(tiny / "time_entries.csv", "cp1252", old="homepage wireframes", new="homepage wireframes – café")
    before = (tiny / "time_entries.csv").read_bytes()
    (tiny / "sources.yaml").write_text("harvest:\n  projects:\n    Website: {client: acme}\n")
    export = tmp_path / "harvest.csv"
    export.write_text(HARVEST, encoding="utf-8")
    entries = read_export(export, "harvest").entries

    with pytest.raises(WorkspaceError) as caught:
        merge_entries(tiny, "harvest", entries, load_mapping(tiny))

    [issue] = caught.value.issues
    assert (issue.file, issue.line) == ("time_entries.csv", 2)
    assert "iconv -f cp1252 -t utf-8 time_entries.csv > time_entries.csv.utf8" in issue.message
    assert (tiny / "time_entries.csv").read_bytes() == before
