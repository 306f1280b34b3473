"""Fixtures of the unit tests (the world, load_handler, lambda_context and the shared botocore loader come from
tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.client import BaseClient

from bluegreen.aws import store as store_module
from bluegreen.aws.store import Store
from tests.unit.helpers import EXECUTION_ARN, TABLE_NAME, ApiCall, ApiRecorder


@pytest.fixture
def handler_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment the template gives the functions (deployments table name, no Slack)."""
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    monkeypatch.delenv("SLACK_SECRET_NAME", raising=False)
    store_module.get_store.cache_clear()
    yield
    store_module.get_store.cache_clear()


@pytest.fixture
def no_aws(api: ApiRecorder, handler_env: None) -> ApiRecorder:
    """No moto world: any AWS API call fails the test (for checks that must happen before AWS is touched)."""
    api.block_all = True
    return api


@pytest.fixture
def store(world: Any, handler_env: None) -> Store:
    """The deployments table (locks, gates) as the template defines it, named by TABLE_NAME for the handlers."""
    world.clients.dynamodb.meta.client.create_table(
        TableName=TABLE_NAME,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    _running_execution(world)
    return Store(table=world.clients.dynamodb.Table(TABLE_NAME), sfn=world.clients.sfn)


def _running_execution(world: Any) -> None:
    """The execution the steps run in (EXECUTION_ARN), RUNNING as it is while a step runs.

    Started through moto's plain backend: moto's interpreter is not asked to run it (the steps are
    called directly), so it stays RUNNING for the test.
    """
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    machine = world.clients.sfn.create_state_machine(
        name=EXECUTION_ARN.split(":")[-2],
        definition=json.dumps({"StartAt": "Steps", "States": {"Steps": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/bluegreen-state-machine",
    )["stateMachineArn"]
    backend = stepfunctions_parser_backends[EXECUTION_ARN.split(":")[4]][EXECUTION_ARN.split(":")[3]]
    StepFunctionBackend.start_execution(backend, machine, EXECUTION_ARN.split(":")[-1], "{}")


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> ApiRecorder:
    """Records every AWS API call of any boto3 client, including the handlers' cached clients."""
    recorder = ApiRecorder()
    original = BaseClient._make_api_call

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        call = ApiCall(self.meta.service_model.service_name, operation_name, dict(api_params))
        recorder.calls.append(call)
        recorder.before(call)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)
    return recorder
