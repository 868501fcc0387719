"""Shared fixtures: one moto server and one table per test session; tenants isolate tests."""

from __future__ import annotations

import os
import tempfile

import pytest

from localstage import emulators

TABLE = "fieldline-test"


@pytest.fixture(scope="session")
def moto_endpoint():
    server, endpoint = emulators.start_moto()
    os.environ.update(
        {
            "FIELDLINE_STAGE": "local",
            "FIELDLINE_TABLE": TABLE,
            "FIELDLINE_AWS_ENDPOINT": endpoint,
            "FIELDLINE_LOCAL_DIR": tempfile.mkdtemp(prefix="fieldline-test-"),
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    emulators.create_table(endpoint, TABLE)
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def app(moto_endpoint):
    import app as chalice_app

    return chalice_app.app


@pytest.fixture
def client(app):
    from chalice.test import Client

    with Client(app) as test_client:
        yield test_client
