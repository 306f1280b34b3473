"""The functions' environment: one validated settings model (bluegreen.domain.settings), no AWS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bluegreen.domain.settings import DEFAULT_CONFIG_PREFIX, Settings, SettingsError, get_settings, require

MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:bluegreen-deployment"
PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "shared" / "bluegreen"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment with none of the settings' variables."""
    for name in ("TABLE_NAME", "CONFIG_PREFIX", "CONFIG_MAX_AGE", "SLACK_SECRET_NAME", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("DEFAULT_APPROVERS", "STATE_MACHINE_ARN"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_apply_when_nothing_is_set(env):
    # When the environment sets nothing
    settings = get_settings()

    # Then the documented defaults apply
    assert settings.configPrefix == DEFAULT_CONFIG_PREFIX
    assert settings.configMaxAge == 60
    assert settings.slackSecretName == ""
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.defaultApprovers == ()


@pytest.mark.parametrize(
    ("name", "value", "field", "expected"),
    [
        ("TABLE_NAME", "deployments", "tableName", "deployments"),
        ("CONFIG_PREFIX", "/team/services/", "configPrefix", "/team/services"),
        ("CONFIG_MAX_AGE", "0", "configMaxAge", 0),
        ("DEFAULT_APPROVERS", " U1, U2 ,", "defaultApprovers", ("U1", "U2")),
        ("SLACK_API_URL", "http://127.0.0.1:9/api/", "slack_api_url", "http://127.0.0.1:9/api/"),
        (
            "STATE_MACHINE_ARN",
            "arn:aws:states:eu-west-1:1:stateMachine:m",
            "stateMachineArn",
            "arn:aws:states:eu-west-1:1:stateMachine:m",
        ),
    ],
)
def test_each_variable_is_read_and_normalized(env, name, value, field, expected):
    # Given the variable is set
    env.setenv(name, value)

    # Then the setting reads it (normalized)
    assert getattr(get_settings(), field) == expected


def test_a_missing_required_variable_is_named_in_the_error(env):
    # When a handler requires TABLE_NAME at cold start and it is not set
    with pytest.raises(SettingsError) as raised:
        require("TABLE_NAME", "STATE_MACHINE_ARN")

    # Then the error names both variables
    assert "TABLE_NAME" in str(raised.value)
    assert "STATE_MACHINE_ARN" in str(raised.value)


def test_a_malformed_variable_is_named_with_its_value(env):
    # Given CONFIG_MAX_AGE is not a number
    env.setenv("CONFIG_MAX_AGE", "soon")

    # Then reading the settings fails naming the variable and the value
    with pytest.raises(SettingsError, match=r"CONFIG_MAX_AGE='soon'"):
        get_settings()


def test_settings_follow_the_environment_and_are_parsed_once_per_environment(env):
    # Given one environment
    env.setenv("TABLE_NAME", "a")
    first = get_settings()

    # When it changes (a test, the emulator) and comes back
    env.setenv("TABLE_NAME", "b")
    changed = get_settings()
    env.setenv("TABLE_NAME", "a")

    # Then each environment has its settings, and the same one is parsed once
    assert (first.tableName, changed.tableName) == ("a", "b")
    assert get_settings() is first


def test_requiring_an_unknown_name_is_a_programming_error():
    with pytest.raises(SettingsError, match="Not a setting: TABLE"):
        Settings().require("TABLE")


def test_no_module_of_the_shared_package_reads_the_environment_but_settings():
    # Given the shared package's modules
    readers = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name != "settings.py" and re.search(r"os\.environ|os\.getenv", path.read_text())
    ]

    # Then only settings.py reads os.environ
    assert readers == []
