"""Deployed stages read Stripe, Twilio and link secrets from Secrets Manager, lazily and cached;
config reads them itself, so it imports no other module of the app (no import circle).

Against the session's moto server; no deployment tooling needed.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import boto3
import pytest

from chalicelib import config
from chalicelib.config import LOCAL_SECRETS, MissingSecret, Settings
from chalicelib.domain.ids import new_id

VALUES = {
    "stripe_secret_key": "sk_test_deployed",
    "stripe_webhook_secret": "whsec_deployed",
    "twilio_auth_token": "deployed-twilio-token",
    "link_secret": "a-long-random-link-secret",
}


@pytest.fixture
def secrets_manager(moto_endpoint):
    return boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def stage_secret(secrets_manager):
    name = f"fieldline/test-{new_id()}/integrations"
    secrets_manager.create_secret(Name=name, SecretString=json.dumps(VALUES))
    return name


def test_a_deployed_stage_reads_its_secrets_from_the_secret_it_names(stage_secret):
    # Given a stage whose environment names the secret, and carries no secret itself
    settings = Settings(stage="prod", secrets_name=stage_secret)

    # Then every secret comes from the secret's JSON value
    assert settings.stripe_secret_key == "sk_test_deployed"
    assert settings.stripe_webhook_secret == "whsec_deployed"
    assert settings.twilio_auth_token == "deployed-twilio-token"
    assert settings.link_secrets == ("a-long-random-link-secret",)


def test_a_warm_function_does_not_ask_secrets_manager_again(stage_secret, secrets_manager):
    # Given a function that has read the secret once
    settings = Settings(stage="prod", secrets_name=stage_secret)
    assert settings.twilio_auth_token == "deployed-twilio-token"

    # When the secret changes (a rotation) within the cache's lifetime
    secrets_manager.put_secret_value(
        SecretId=stage_secret, SecretString=json.dumps({**VALUES, "twilio_auth_token": "rotated"})
    )

    # Then the cached value serves it, and a fresh read after the cache sees the new one
    assert settings.twilio_auth_token == "deployed-twilio-token"
    stage = config.get_settings()
    config.secrets_provider(stage.aws_region, stage.aws_endpoint_url).clear_cache()
    assert settings.twilio_auth_token == "rotated"


def test_a_secret_without_a_needed_value_is_a_clear_error(secrets_manager):
    name = f"fieldline/test-{new_id()}/integrations"
    secrets_manager.create_secret(Name=name, SecretString=json.dumps({"link_secret": "x" * 40}))
    settings = Settings(stage="prod", secrets_name=name)

    with pytest.raises(MissingSecret, match="stripe_webhook_secret"):
        _ = settings.stripe_webhook_secret


def test_the_local_stage_needs_no_secret_and_takes_overrides_from_its_environment():
    # No secret named: the local defaults, without any AWS call
    assert Settings().link_secrets == (LOCAL_SECRETS["link_secret"],)
    # A value given in the environment wins over a named secret
    overridden = Settings(secrets_name="never-read", secret_values={"link_secret": "from-env"})
    assert overridden.link_secrets == ("from-env",)


def test_a_rotated_link_secret_is_a_list_newest_first(secrets_manager):
    # Given a secret whose link_secret was rotated: the new one put in front of the old
    name = f"fieldline/test-{new_id()}/integrations"
    rotated = {**VALUES, "link_secret": ["the-new-link-secret", "a-long-random-link-secret"]}
    secrets_manager.create_secret(Name=name, SecretString=json.dumps(rotated))
    # Then links are signed with the new one and verified with both
    settings = Settings(stage="prod", secrets_name=name)
    assert settings.link_secrets == ("the-new-link-secret", "a-long-random-link-secret")


def test_a_link_secret_that_is_neither_a_string_nor_a_list_of_them_is_a_clear_error(
    secrets_manager,
):
    name = f"fieldline/test-{new_id()}/integrations"
    secrets_manager.create_secret(Name=name, SecretString=json.dumps({"link_secret": [42]}))
    with pytest.raises(MissingSecret, match="link_secret"):
        _ = Settings(stage="prod", secrets_name=name).link_secrets


def test_config_imports_no_other_module_of_the_app():
    # Every integration reads the settings: config importing one of them would be a circle.
    tree = ast.parse(Path(config.__file__).read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not [name for name in imported if name.startswith("chalicelib")]
