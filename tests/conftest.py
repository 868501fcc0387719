"""Shared fixtures: one moto server and one table per test session; tenants isolate tests."""

from __future__ import annotations

import os
import tempfile

import pytest

from bench import ddbcalls
from localstage import emulators

# Before any client exists: count every DynamoDB call the app makes (see test_call_counts),
# and fail whichever test makes the app issue a Scan.
ddbcalls.install(forbid=("Scan",))

TABLE = "fieldline-test"
MOTO_PORT, STRIPE_PORT = emulators.free_port(), emulators.free_port()

# The environment is set when pytest loads this file, before any test module imports
# chalicelib (its settings are read once and cached): every client of the session points at
# the emulators below.
os.environ.update(
    {
        **emulators.FAKE_AWS_ENV,
        "FIELDLINE_STAGE": "local",
        "FIELDLINE_TABLE": TABLE,
        "FIELDLINE_AWS_ENDPOINT": f"http://{emulators.LOOPBACK}:{MOTO_PORT}",
        "FIELDLINE_STRIPE_API_BASE": f"http://{emulators.LOOPBACK}:{STRIPE_PORT}",
        "FIELDLINE_LOCAL_DIR": tempfile.mkdtemp(prefix="fieldline-test-"),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)


@pytest.fixture(scope="session")
def localstripe():
    """One localstripe process per session, on the port the environment names."""
    process = emulators.start_localstripe(STRIPE_PORT)
    yield os.environ["FIELDLINE_STRIPE_API_BASE"]
    emulators.stop(process)


@pytest.fixture(scope="session")
def moto_endpoint(localstripe):
    server, endpoint = emulators.start_moto(MOTO_PORT)
    emulators.create_table(endpoint, TABLE)
    serve_optimizer(endpoint)
    yield endpoint
    server.stop()


def serve_optimizer(endpoint: str) -> None:
    """POST /dispatch/optimize invokes the optimizer's function asynchronously: moto's, whose
    invokes run its handler on a thread of this process, as in the local stage."""
    from chalicelib.handlers.optimizer import FUNCTIONS
    from localstage import clock

    clock.provision_optimizer(endpoint, prefix="fieldline-test")
    clock.route_tasks(FUNCTIONS)


@pytest.fixture(scope="session")
def app(moto_endpoint):
    import app as chalice_app

    return chalice_app.app


@pytest.fixture
def client(app):
    from chalice.test import Client

    with Client(app) as test_client:
        yield test_client


def pytest_collection_modifyitems(config, items):
    """Tests that fill the shared table with thousands of items run last: moto's index queries
    read every item of the table, so they would slow every test after them."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)
