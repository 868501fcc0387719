"""Schemathesis against the running local stage, from the `/openapi.json` it serves.

Every operation but the local stage's `/dev/*` helpers (used only to make the tenant) is fuzzed
with a valid owner token, with two kinds of input:

- positive: requests the document says are valid. Checks: no 5xx, the status is one the
  operation declares, the Content-Type and the body match what it declares for that status.
- negative: requests the document says are invalid (a wrong type, a missing field, a value out
  of range). Checks: no 5xx and a declared status (a client error, never a crash).

Status conformance is on: the document lists every error a route can answer, so a status it
does not list is a bug in the route or in the document (it found both).

Path ids are mostly those of a seeded tenant's real objects (a customer, a technician, a job
with a sent quote, a booked visit and a sent invoice; a spare job for the operations that close
things), so a request reaches the service code rather than stopping at a 404; the rest are
generated ones.

Then a stateful run follows the links schemathesis infers from the document: an `id` in a
response (a created object, a list's items) feeds the next request's path (`GET /customers` →
`GET|PATCH /customers/{customer_id}`, `GET /jobs` → `POST /jobs/{job_id}/notes`, ...).

Budget: a fixed number of examples per operation and Hypothesis' derandomized mode (the seed
is derived from each test), so two runs send the same requests. After everything, the
tenant's money and state invariants must hold (tests/invariants.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chalicelib.api.routing import declared_routes
from tests.fuzz.conftest import TABLE
from tests.invariants import assert_invariants, local_reader

ROUTES = declared_routes()  # every route's declaration (imports their modules)

pytestmark = pytest.mark.e2e

POSITIVE_EXAMPLES = 20
NEGATIVE_EXAMPLES = 10
STATEFUL_SCENARIOS, STATEFUL_STEPS = 25, 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BUDGET = {
    "deadline": None,
    "database": None,  # no example database: a run depends on nothing but the code
    "derandomize": True,
    "suppress_health_check": list(HealthCheck),
}

FUZZED = [route for route in ROUTES if not route.path.startswith("/dev/")]
# Only a body or a query string can be made invalid (path parameters are any string).
NEGATABLE = [route for route in FUZZED if route.body is not None or route.query is not None]
# Which seeded object a path parameter names, by route (the default is the parameter's name).
TOKENS = {"/public/quotes/": "quote_token", "/p/quotes/": "quote_token"}
TOKENS |= {"/public/invoices/": "invoice_token", "/p/invoices/": "invoice_token"}
TOKENS |= {"/p/visits/": "visit_token"}
ON_SPARE = ("/lose", "/cancel", "/void")


def _label(route) -> str:
    return f"{route.method} {route.path}"


@pytest.fixture(scope="module")
def api_schema(fuzz_stage):
    # The stateful run sends valid requests only: its point is to follow links from real
    # objects, and the stateless negative run already sends the invalid ones.
    config = schemathesis.Config.from_dict(
        {"phases": {"stateful": {"generation": {"mode": "positive"}}}}
    )
    return schemathesis.openapi.from_url(f"{fuzz_stage.base}/openapi.json", config=config)


@pytest.fixture(scope="module")
def caller(fuzz_stage, seeded):
    # No shared session: over a kept-alive connection Chalice's local server answers each
    # request 40 ms late (Nagle meets delayed ACK); a fresh connection answers in a few ms.
    return {"base_url": fuzz_stage.base, "headers": {"Authorization": f"Bearer {seeded.token}"}}


def real_ids(path: str, seeded) -> dict[str, str]:
    """The seeded objects a request to `path` should name."""
    ids = dict(seeded.ids)
    for prefix, name in TOKENS.items():
        if path.startswith(prefix):
            ids["token"] = seeded.ids[name]
    if path.endswith(ON_SPARE):
        ids.update(seeded.spare)
    return ids


def fuzz(api_schema, caller, seeded, route, mode: GenerationMode, examples: int) -> None:
    operation = api_schema[route.path][route.method.lower()]
    ids = real_ids(route.path, seeded)

    # Four in five requests name real objects; Hypothesis draws which, so runs repeat.
    @given(case=operation.as_strategy(generation_mode=mode), real=st.integers(0, 4))
    @settings(max_examples=examples, **BUDGET)
    def run(case, real):
        if real and case.path_parameters:
            generated = case.path_parameters
            case.path_parameters = {name: ids.get(name, generated[name]) for name in generated}
        case.call_and_validate(checks=CHECKS, **caller)

    run()


@pytest.mark.parametrize("route", FUZZED, ids=_label)
def test_valid_requests_never_crash_and_answer_as_documented(api_schema, caller, seeded, route):
    fuzz(api_schema, caller, seeded, route, GenerationMode.POSITIVE, POSITIVE_EXAMPLES)


@pytest.mark.parametrize("route", NEGATABLE, ids=_label)
def test_invalid_requests_are_refused_with_a_documented_client_error(
    api_schema, caller, seeded, route
):
    fuzz(api_schema, caller, seeded, route, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)


def test_create_read_update_chains_never_crash_and_answer_as_documented(api_schema, caller):
    # The links are inferred from the document: an `id` in a response (a created object, a
    # list's items) feeds the path of the next request: read it, change it, act on it.
    workflow = api_schema.exclude(path_regex="^/dev/").as_state_machine()
    followed: list[str] = []

    class Workflow(workflow):
        def get_call_kwargs(self, case):
            return dict(caller)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            if case.path_parameters and response.status_code < 300:
                followed.append(case.operation.label)
            case.validate_response(response, checks=CHECKS)

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS, stateful_step_count=STATEFUL_STEPS, **BUDGET
        )
    )
    # The chains reached real objects through their links, not only 404s. (How many differs
    # from run to run: the requests repeat, but the ids the stage hands out do not.)
    assert followed


# Every method schemathesis tries on a path that does not declare it (CONNECT cannot be sent
# through its HTTP client; tests/integration/test_http_contract.py sends it).
UNEXPECTED_METHODS = ["get", "put", "post", "delete", "patch", "trace", "query"]


def test_the_coverage_phase_finds_no_server_error_and_405_for_every_unexpected_method(
    fuzz_stage, seeded, tmp_path
):
    # Schemathesis' coverage phase, negative mode: boundary and invalid values for every
    # operation, and each method a path does not declare, which must be 405 with Allow (or 404
    # on a path whose ids name nothing). Deterministic, so two runs send the same requests.
    config = tmp_path / "schemathesis.toml"
    config.write_text(f"[phases.coverage]\nunexpected-methods = {UNEXPECTED_METHODS!r}\n")
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{fuzz_stage.base}/openapi.json",
        "--phases=coverage",
        "--mode=negative",
        "--checks=not_a_server_error,unsupported_method",
        f"--header=Authorization: Bearer {seeded.token}",
        "--exclude-path-regex=^/dev/",
        "--generation-deterministic",
        "--no-color",
    ]
    # Run where its report directory (.schemathesis/) is thrown away with the test's.
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_after_the_fuzzing_the_money_and_the_state_still_add_up(fuzz_stage, seeded):
    assert_invariants(local_reader(fuzz_stage.moto, TABLE), seeded.tenant_id)
