import pytest

from tests.integration.helpers import new_tenant


@pytest.fixture
def owner(client):
    return new_tenant(client)


@pytest.fixture
def other_owner(client):
    return new_tenant(client, name="Rival Heating")
