"""Every error code the code can raise is in the catalogue clients read (`ErrorOut`'s enum in
/openapi.json, from chalicelib/api/errors.py): a new code without a description fails here."""

from __future__ import annotations

import ast
from pathlib import Path

from chalicelib.api.errors import BY_STATUS, CODES
from chalicelib.api.openapi import document

ROOT = Path(__file__).resolve().parents[2]
# Codes handed to an error through a variable rather than written at the raise, where found.
INDIRECT = {
    "chalicelib/services/photos.py": {"photo_too_large", "wrong_type"},
    "chalicelib/services/tenants.py": {"number_taken", "stripe_account_taken"},
}


def _codes_written_in(tree: ast.AST) -> set[str]:
    """String constants given as `code=...`, or assigned to a name `code` (`code = "x"`,
    `status, code = 409, "x"`, `code = "a" if ... else "b"`)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "code":
            found |= _constants(node.value)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                found |= _assigned_to_code(target, node.value)
    return found


def _assigned_to_code(target: ast.expr, value: ast.expr) -> set[str]:
    if isinstance(target, ast.Name):
        return _constants(value) if target.id == "code" else set()
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
        return set().union(
            *(_assigned_to_code(t, v) for t, v in zip(target.elts, value.elts, strict=False))
        )
    return set()


def _constants(value: ast.expr) -> set[str]:
    """The strings an expression is written as: a literal, or either branch of an `if`."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return {value.value}
    if isinstance(value, ast.IfExp):
        return _constants(value.body) | _constants(value.orelse)
    return set()


def raised_codes() -> dict[str, set[str]]:
    found = {}
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        codes = _codes_written_in(ast.parse(path.read_text())) | INDIRECT.get(relative, set())
        if codes:
            found[relative] = codes
    return found


def test_every_code_the_code_raises_is_described():
    undescribed = {
        path: sorted(codes - CODES.keys())
        for path, codes in raised_codes().items()
        if codes - CODES.keys()
    }
    assert undescribed == {}, "describe these in chalicelib/api/errors.py"


def test_the_indirect_codes_are_still_where_the_list_says():
    # Keeps INDIRECT honest: each file still names its codes (as text somewhere in it).
    for path, codes in INDIRECT.items():
        text = (ROOT / path).read_text()
        assert all(f'"{code}"' in text for code in codes), path


def test_the_codes_a_status_falls_back_to_are_described():
    assert set(BY_STATUS.values()) <= CODES.keys()


def test_the_document_lists_every_code_with_its_meaning():
    schemas = document()["components"]["schemas"]
    code = schemas["ErrorDetail"]["properties"]["code"]
    assert code["enum"] == list(CODES)
    assert code["x-enumDescriptions"] == CODES
    details = schemas["ErrorDetail"]["properties"]["details"]["items"]["anyOf"]
    shapes = {ref["$ref"].rsplit("/", 1)[1] for ref in details}
    assert {"FieldProblem", "CurrentVersion"} <= shapes
    assert schemas["FieldProblem"]["required"] == ["field", "message"]
    assert schemas["CurrentVersion"]["required"] == ["current_version"]
