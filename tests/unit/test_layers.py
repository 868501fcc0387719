"""The layers keep to their own: the store alone speaks PynamoDB (every key pattern and access
pattern lives there), and the domain imports no SDK and no layer above it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHALICELIB = ROOT / "chalicelib"

STORAGE = ("pynamodb", "chalicelib.store.models")
# Being changed by others as this test lands; each is to move its reads into store/ and leave
# this list (the last test fails once one no longer needs its place here).
OUTSIDE_THE_DOMAIN = (
    "boto3",
    "botocore",
    "pynamodb",
    "chalice",
    "stripe",
    "twilio",
    "chalicelib.store",
    "chalicelib.services",
    "chalicelib.integrations",
    "chalicelib.api",
    "chalicelib.handlers",
)


def imported_modules(source: str, package: str) -> set[str]:
    """Every module the source imports, at the top or inside a function; `from a import b`
    names both `a` and `a.b` (b may be a module)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def reaches(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


def python_files(folder: Path) -> dict[str, set[str]]:
    """Each module's imports, by its path from the repository's root."""
    found = {}
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(ROOT)
        package = ".".join(relative.parent.parts)
        found[relative.as_posix()] = imported_modules(path.read_text(encoding="utf-8"), package)
    return found


def storage_users() -> dict[str, list[str]]:
    """Modules outside the store that import PynamoDB or the table's model."""
    return {
        path: hits
        for path, modules in python_files(CHALICELIB).items()
        if not path.startswith("chalicelib/store/") and (hits := reaches(modules, STORAGE))
    }


def test_the_checks_see_what_they_look_for():
    source = (
        "from chalicelib.store import models\n"
        "from ..store.models import Item\n"
        "def f():\n    import pynamodb.attributes\n"
        "from chalicelib.store import jobs\n"
    )
    modules = imported_modules(source, "chalicelib.services")
    assert reaches(modules, STORAGE) == [
        "chalicelib.store.models",
        "chalicelib.store.models.Item",
        "pynamodb.attributes",
    ]
    assert reaches({"chalicelib.store.jobs", "stripe_like"}, STORAGE + ("stripe",)) == []


def test_only_the_store_imports_pynamodb_or_the_table_model():
    # Services ask the store a question named after what they need (store/invoices.py,
    # store/visits.py, …); they never build items or query indexes themselves.
    assert storage_users() == {}, "move these reads and items into chalicelib/store/"


def test_the_domain_imports_no_sdk_and_no_layer_above_it():
    found = {
        path: hits
        for path, modules in python_files(CHALICELIB / "domain").items()
        if (hits := reaches(modules, OUTSIDE_THE_DOMAIN))
    }
    assert found == {}
