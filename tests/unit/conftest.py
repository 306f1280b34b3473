"""Fixtures of the unit tests (the world, load_handler and lambda_context come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.client import BaseClient

from bluegreen import aws
from bluegreen.store import Store
from tests.unit.helpers import TABLE_NAME, ApiCall, ApiRecorder


@pytest.fixture(autouse=True)
def _no_default_amis(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto loads hundreds of default AMIs into every EC2 backend; the demo needs none (keeps tests fast)."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture
def store(world: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The deployments table (locks, gates) as the template defines it, named by TABLE_NAME for the handlers."""
    world.session.client("dynamodb").create_table(
        TableName=TABLE_NAME,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    monkeypatch.delenv("SLACK_SECRET_NAME", raising=False)
    aws.get_store.cache_clear()
    yield Store(table=world.clients.dynamodb.Table(TABLE_NAME), sfn=world.clients.sfn)
    aws.get_store.cache_clear()


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
