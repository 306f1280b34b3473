"""The documented inputs in events/ are valid, and the schema agrees with the parser."""

import json
from pathlib import Path

import jsonschema
import pytest

from bluegreen.domain.errors import AmbiguousRelease, InvalidInput
from bluegreen.domain.models import ServiceConfig
from bluegreen.steps.validate import parse_input

EVENTS = Path(__file__).resolve().parents[2] / "events"
SCHEMA = json.loads((EVENTS / "execution-input.schema.json").read_text())


@pytest.mark.parametrize(
    "name",
    [
        "start-execution.json",
        "start-execution-with-digest.json",
        "start-execution-canary.json",
        # The other ways of describing a release
        "start-execution-images.json",
        "start-execution-task-definition.json",
        "start-execution-overrides.json",
    ],
)
def test_sample_inputs_match_the_schema_and_the_parser(name):
    payload = json.loads((EVENTS / name).read_text())
    jsonschema.validate(payload, SCHEMA)
    assert parse_input(payload).service == payload["service"]


@pytest.mark.parametrize(
    "payload",
    [
        {"service": "web"},
        {"imageTag": "v1"},
        {"service": "web", "imageTag": "v1", "extra": 1},
        {"service": "web", "imageTag": "v1", "imageDigest": "md5:abc"},
        {"service": "", "imageTag": "v1"},
        {"service": "web", "imageTag": "-bad"},
        {"service": "web", "imageTag": "v1", "trafficShift": {"type": "BLUE"}},
        {"service": "web", "imageTag": "v1", "trafficShift": {"percent": 100}},
        {"service": "web", "images": {}},
        {"service": "web", "images": {"web": "-bad"}},
        {"service": "web", "taskDefinitionOverrides": {"cpu": "lots"}},
        {"service": "web", "taskDefinitionOverrides": {"containers": {"web": {"secrets": {"DB": "plain value"}}}}},
        {"service": "web", "taskDefinitionOverrides": {"containers": {"web": {"colour": "red"}}}},
    ],
)
def test_schema_and_parser_refuse_the_same_inputs(payload):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(payload, SCHEMA)
    with pytest.raises(InvalidInput):
        parse_input(payload)


def test_sample_service_configuration_is_valid():
    config = ServiceConfig.model_validate(json.loads((EVENTS / "service-config.json").read_text()))
    assert config.bakeSeconds == 600


@pytest.mark.parametrize(
    "payload",
    [
        {"service": "web", "imageTag": "v1", "images": {"web": "v2"}},
        {"service": "web", "taskDefinition": "web:3", "taskDefinitionOverrides": {"memory": "1024"}},
        {"service": "web", "images": {"web": "v2"}, "imageDigest": "sha256:" + "a" * 64},
    ],
)
def test_schema_and_parser_refuse_two_release_descriptions(payload):
    """Exactly one way of describing the release (AmbiguousRelease in Validate)."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(payload, SCHEMA)
    with pytest.raises(AmbiguousRelease):
        parse_input(payload)


def test_sample_first_deployment_configuration_is_valid():
    # The sample of a service without task set yet (network and base task definition)
    config = ServiceConfig.model_validate(json.loads((EVENTS / "service-config-first-deploy.json").read_text()))
    assert config.network is not None and config.network.launchType == "FARGATE"
    assert config.taskDefinition == "web"
