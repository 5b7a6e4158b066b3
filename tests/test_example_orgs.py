"""The example organisation files (review/examples/) against the five programs.

Each file is what a union would import (``studiobot org import FILE``) to try
its program end to end: it must pass the import's own checks, and from every
organisation an applicant may pick there, every review level must find who
acts.  The resolver here is a small pure reading of the ``acts`` rules
(dialogs.schema.Acts) over the parsed entries, independent of the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from dialogs.loader import load_registry
from dialogs.schema import Acts, OrgKind, Program
from review.orgfile import OrgEntry, check_entries, load_org_file, read_org_file
from storage.models import OrganisationKind

EXAMPLES = Path(__file__).resolve().parents[1] / "review" / "examples"

FILES = {
    "dalian-worker": "dalian.yaml",
    "dalian-model": "dalian.yaml",
    "beijing-worker": "beijing.yaml",
    "cccc-model": "cccc.yaml",
    "yangpu-model": "yangpu.yaml",
}

# One applicant organisation per program whose whole chain is known: handy for
# end-to-end tests, and a check that the resolver reads the files as meant.
CHAIN_FROM: dict[str, tuple[str, list[list[str]]]] = {
    "dalian-worker": ("dl-xg-gk", [["dl-xg-gk-gh"], ["dl-xg"], ["dl"]]),
    "dalian-model": ("dl-jxyj-zj", [["dl-jxyj-zj"], ["dl-jxyj-zj-gh"], ["dl-jxyj"], ["dl"]]),
    "beijing-worker": ("bj-hd-hy", [["bj-hd-hy"], ["bj-hd"], ["bj", "bj-kw"]]),
    "cccc-model": (
        "cccc-hg",
        [["cccc-hg-gh"], ["cccc-hg-js"], ["cccc-hg-dw"], ["cccc"]],
    ),
    "yangpu-model": (
        "yp-kjl-dq",
        [["yp-kjl-dq-gh"], ["yp-kjl-dq-dz"], ["yp-kjl"], ["yp"], ["yp"]],
    ),
}


class Tree:
    """The parsed entries of one file, with the walks the ``acts`` rules need."""

    def __init__(self, entries: list[OrgEntry]) -> None:
        self.by_code = {e.code: e for e in entries}

    def up(self, code: str) -> list[OrgEntry]:
        """The organisation itself, then its ancestors up to the root."""
        out: list[OrgEntry] = []
        node: str | None = code
        while node is not None:
            entry = self.by_code[node]
            out.append(entry)
            node = entry.parent
        return out

    def children(self, code: str) -> list[OrgEntry]:
        return [e for e in self.by_code.values() if e.parent == code]

    def under(self, code: str, ancestor: str) -> bool:
        return any(e.code == ancestor for e in self.up(code))

    def resolve(self, acts: Acts, start: str) -> OrgEntry | None:
        """Who acts for a level, for an applicant whose organisation is ``start``."""
        if acts.org is not None:
            return self.by_code.get(acts.org)
        if acts.nearest is not None:
            return next((e for e in self.up(start) if e.kind in acts.nearest), None)
        unit = next((e for e in self.up(start) if e.kind == OrganisationKind.UNIT), None)
        if unit is None:
            return None
        bodies = [
            e
            for e in self.children(unit.code)
            if e.kind == OrganisationKind.DEPARTMENT and e.name == acts.body
        ]
        return bodies[0] if len(bodies) == 1 else None


@pytest.fixture(scope="module")
def registry() -> dict[str, Program]:
    return {p.id: p for p in load_registry()}


def tree(name: str) -> Tree:
    return Tree(load_org_file(EXAMPLES / name))


def starts(program: Program, t: Tree) -> list[str]:
    """Every organisation of the file an applicant of ``program`` may pick."""
    assert program.applicant_org is not None
    kinds = program.question(program.applicant_org).kinds or []
    return sorted(e.code for e in t.by_code.values() if e.kind in kinds)


def test_every_program_has_an_example_file(registry: dict[str, Program]) -> None:
    assert set(FILES) == set(registry)
    assert {p.name for p in EXAMPLES.glob("*.yaml")} == set(FILES.values())


@pytest.mark.parametrize("name", sorted(set(FILES.values())))
def test_example_file_validates(name: str) -> None:
    entries = load_org_file(EXAMPLES / name)
    assert entries
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    assert f"studiobot org import review/examples/{name}" in text


def test_all_files_import_into_one_database() -> None:
    raw = [item for name in sorted(set(FILES.values())) for item in read_org_file(EXAMPLES / name)]
    entries = check_entries(raw, file="all examples")  # duplicate codes would be refused
    assert len({e.code for e in entries}) == len(raw)


def test_definition_kinds_are_the_stored_kinds() -> None:
    assert set(get_args(OrgKind)) == {k.value for k in OrganisationKind}


@pytest.mark.parametrize("pid", sorted(FILES))
def test_issuer_is_in_the_file_and_holds_every_applicant(
    registry: dict[str, Program], pid: str
) -> None:
    program = registry[pid]
    t = tree(FILES[pid])
    assert program.issuer in t.by_code
    codes = starts(program, t)
    assert len(codes) >= 2
    for code in codes:
        assert t.under(code, program.issuer or ""), code


@pytest.mark.parametrize("pid", sorted(FILES))
def test_every_level_finds_who_acts(registry: dict[str, Program], pid: str) -> None:
    program = registry[pid]
    t = tree(FILES[pid])
    for start in starts(program, t):
        previous: OrgEntry | None = None
        for level in program.review_chain:
            whos = [level.acts] if level.acts else []
            for acts in [*whos, *level.joint]:
                found = t.resolve(acts, start)
                assert found is not None, (start, level.id, acts)
                if acts.body is not None:
                    assert found.kind == OrganisationKind.DEPARTMENT
            if level.acts is None:
                assert program.issuer in t.by_code
            elif level.acts.nearest is not None:
                # A chain only goes up: each union level is its predecessor or above it.
                found = t.resolve(level.acts, start)
                assert found is not None
                if previous is not None:
                    assert t.under(previous.code, found.code), (start, level.id)
                previous = found


@pytest.mark.parametrize("pid", sorted(CHAIN_FROM))
def test_chain_from_a_known_unit(registry: dict[str, Program], pid: str) -> None:
    program = registry[pid]
    t = tree(FILES[pid])
    start, want = CHAIN_FROM[pid]
    have = []
    for level in program.review_chain:
        whos = ([level.acts] if level.acts else []) + list(level.joint)
        have.append([found.code for acts in whos if (found := t.resolve(acts, start))])
    assert have == want


def test_yangpu_initial_check_finds_industry_street_and_direct_unions() -> None:
    t = tree("yangpu.yaml")
    acts = Acts(nearest=["industry", "zone"])
    found = [t.resolve(acts, code) for code in ("yp-kj-zn", "yp-kjl-dq", "yp-ct-sz")]
    assert [e.code if e else None for e in found] == ["yp-kj", "yp-kjl", "yp-ct"]
    assert {e.kind for e in found if e} == {OrganisationKind.INDUSTRY, OrganisationKind.ZONE}


def test_beijing_science_commission_is_a_root_of_its_own() -> None:
    t = tree("beijing.yaml")
    kw = t.by_code["bj-kw"]
    assert (kw.name, kw.kind, kw.parent) == ("北京市科学技术委员会", "commission", None)
    assert t.by_code["bj"].kind == OrganisationKind.CITY
