"""invoice_number_format: a format that cannot number invoices is refused when the workspace loads, and the
store gives up with a clear error instead of looking for a free number forever under the sequence lock."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.store.builders import WORKSPACE, make_draft
from tools.errors import WorkspaceError
from tools.numbering import next_invoice_number
from tools.store import Store
from tools.store.errors import StoreError
from tools.workspace import load_workspace

TINY = Path(__file__).parents[1] / "fixtures" / "tiny"
EXAMPLE = 'write it like "INV-{year}-{seq:04d}"'


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(TINY, root, ignore=shutil.ignore_patterns("answers", "README.md"))
    return root


def with_format(root: Path, fmt: str) -> list[str]:
    settings = root / "workspace.yaml"
    settings.write_text(settings.read_text().replace('"TS-{year}-{seq:04d}"', f"'{fmt}'"))
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(root)
    return [str(issue) for issue in caught.value.issues]


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("INV-{year}", "has no {seq} placeholder, so every invoice would get the same number"),
        ("{seq}-{seq}", "has 2 {seq} placeholders; it needs exactly one"),
        ("{year}/{year}-{seq}", "has more than one {year} placeholder"),
        ("INV-{seq:x}", "has {seq:x}; use {seq} or a zero-padded width such as {seq:04d}"),
        ("INV-{seq:,}", "has {seq:,}; use {seq} or a zero-padded width such as {seq:04d}"),
        ("INV-{seq!r}", "has {seq!r}; use {seq} or a zero-padded width such as {seq:04d}"),
        ("INV-{seq:0999999999d}", "has {seq:0999999999d}; use {seq} or a zero-padded width such as {seq:04d}"),
        ("INV-{year:06d}-{seq}", "makes numbers that cannot be read back (seq 1 gives 'INV-002026-1')"),
    ],
)
def test_a_format_that_cannot_number_invoices_is_refused_at_load_naming_workspace_yaml(
    tiny: Path, fmt: str, message: str
) -> None:
    assert with_format(tiny, fmt) == [f"workspace.yaml:3 [invoice_number_format]: {message}; {EXAMPLE} (got '{fmt}')"]


def test_literal_braces_in_a_format_are_text_and_the_sequence_continues_after_them() -> None:
    assert next_invoice_number("{{A}}-{seq:03d}", ["{A}-007", "{A}-012"], date(2026, 3, 1)) == "{A}-013"
    assert next_invoice_number("{year}{seq:04d}", ["20250041"], date(2026, 3, 1)) == "20260042"


def test_a_format_without_seq_makes_the_second_invoice_a_clear_error_not_an_endless_loop(store: Store) -> None:
    first = store.create_run(WORKSPACE, "invoice acme")
    assert store.create_invoice(WORKSPACE, make_draft("e1"), first.id, "INV-{year}").number == "INV-2026"
    second = store.create_run(WORKSPACE, "invoice acme again")

    with pytest.raises(StoreError) as caught:
        store.create_invoice(WORKSPACE, make_draft("e2"), second.id, "INV-{year}")

    assert str(caught.value) == (
        "no free invoice number in workspace 'parallax' after 1000 tries of 'INV-{year}' (up to 'INV-2026'); "
        'nothing was issued: invoice_number_format in workspace.yaml needs one {seq} placeholder, e.g. '
        '"INV-{year}-{seq:04d}"'
    )
    assert store.invoice_for_run(second.id) is None
    # The sequence lock was released: the next invoice, with a good format, is issued at once.
    assert store.create_invoice(WORKSPACE, make_draft("e2"), second.id, "INV-{year}-{seq:04d}").number == \
        "INV-2026-0002"
