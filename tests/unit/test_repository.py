"""The repository stands on its own: a clone moved anywhere has every file its documents point
to, names no folder of one machine, and documents every key of the one table."""

from __future__ import annotations

import inspect
import re
import subprocess
from pathlib import Path

from chalicelib.store import keys

ROOT = Path(__file__).resolve().parents[2]
# Folders of one machine (or beside the clone), never in a tracked file. Paths a program
# really uses on every machine are written so they don't read as one (see localstage/).
# "DESIGN §n" named the briefs beside the clone, which a user's clone doesn't have.
MACHINE_PATHS = re.compile(
    r"(?<![\w.])(/work/|/home/|/root/|/Users/|/tmp/|/mnt/|\.\./shared\b|DESIGN §)"
)
# [text](target) and [label]: target; images too. Code spans and fenced blocks are not links.
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def links_in(markdown: str) -> list[str]:
    prose = CODE_SPAN.sub("", FENCE.sub("", markdown))
    return INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)


def unresolved_links(path: Path) -> list[str]:
    missing = []
    for target in links_in(path.read_text(encoding="utf-8")):
        if EXTERNAL.match(target):
            continue
        relative = target.split("#", 1)[0].split("?", 1)[0]
        if not (path.parent / relative).exists():
            missing.append(target)
    return missing


def test_the_checks_see_what_they_look_for():
    # Links in prose are found, links in code are not; machine paths are found, URLs are not.
    text = "See [a](docs/A.md#x) and `[c](C.md)`.\n[b]: ../B.md\n```\n[d](D.md)\n```\n"
    assert sorted(links_in(text)) == ["../B.md", "docs/A.md#x"]
    assert MACHINE_PATHS.search("read /work/shared/bench") and MACHINE_PATHS.search("../shared/x")
    assert MACHINE_PATHS.search("as the design says (DESIGN §4)")
    assert not MACHINE_PATHS.search("https://example.com/home/x and chalicelib/store/keys.py")


def test_every_relative_link_in_a_tracked_markdown_file_resolves():
    broken = {
        str(path.relative_to(ROOT)): found
        for path in tracked_files()
        if path.suffix == ".md" and (found := unresolved_links(path))
    }
    assert broken == {}


def test_no_tracked_file_names_a_folder_of_one_machine():
    this_file = Path(__file__).resolve()
    found = {}
    for path in tracked_files():
        if path == this_file:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        hits = [m.group(0) for m in MACHINE_PATHS.finditer(text)]
        if hits:
            found[str(path.relative_to(ROOT))] = hits
    assert found == {}


# --- docs/ARCHITECTURE.md documents every key of the one table --------------------------------


def key_functions() -> set[str]:
    """Every key pattern and index key keys.py offers."""
    return {
        name
        for name, value in vars(keys).items()
        if inspect.isfunction(value) and value.__module__ == keys.__name__ and name[0] != "_"
    }


def architecture_key_table() -> str:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    found = re.search(r"^## The one table\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert found, "docs/ARCHITECTURE.md has a section '## The one table'"
    return found.group(1)


def test_every_key_function_of_the_table_is_documented():
    # Cited as `keys.name()` (functions) or `keys.NAME` (constants).
    table = architecture_key_table()
    cited = set(
        re.findall(r"`keys\.(\w+)\(\)`", table) + re.findall(r"`keys\.([A-Z0-9_]+)`", table)
    )
    assert key_functions() - cited == set(), "add them to docs/ARCHITECTURE.md, 'The one table'"
    assert cited - set(vars(keys)) == set(), "docs/ARCHITECTURE.md names keys that are gone"
