"""Shared fixtures: fake AWS credentials, moto, a seeded demo service, the emulator."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "bluegreen",
        "POWERTOOLS_METRICS_NAMESPACE": "BlueGreenDeployments",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "CONFIG_MAX_AGE": "0",
        # moto loads hundreds of default AMIs into every EC2 backend (about 0.3 s a moto account); nothing here
        # needs them.
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
        # What the template gives the functions, so a handler loads (it checks them at cold start).
        "TABLE_NAME": "bluegreen-deployments",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:bluegreen-deployment",
    }
)
for _key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_key, None)

import boto3  # noqa: E402
import botocore.session  # noqa: E402
import pytest  # noqa: E402
from aws_lambda_powertools.utilities.parameters import SSMProvider  # noqa: E402
from moto import mock_aws  # noqa: E402

from bluegreen.aws.clients import AwsClients  # noqa: E402
from bluegreen.domain import clock  # noqa: E402
from bluegreen_emulator.dataplane import DataPlane, Timing  # noqa: E402
from bluegreen_emulator.emulator import ACCOUNT, MOTO_CONFIG, REGION, Emulator  # noqa: E402
from bluegreen_emulator.seed import DemoService, seed_service  # noqa: E402
from bluegreen_emulator.simclock import SimClock  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_handler(function_dir: str) -> ModuleType:
    """Import ``functions/<function_dir>/app.py`` the way Lambda does (by file)."""
    path = REPO_ROOT / "functions" / function_dir / "app.py"
    spec = importlib.util.spec_from_file_location(f"test_fn_{function_dir}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _UniquePaths(list):
    """Search paths that ignore a path appended twice (boto3 appends its data path for every session)."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@pytest.fixture(scope="session", autouse=True)
def _shared_botocore_loader() -> Iterator[None]:
    """Every moto world and emulator makes new boto3 sessions; share one loader so API models are parsed once.

    The loader only reads botocore's JSON models (read-only data, cached per loader); sharing it across sessions
    saves about 0.2 s of CPU per emulator or moto world.
    """
    original = botocore.session.create_loader
    loaders: dict[str | None, Any] = {}

    def create_loader(search_path_string: str | None = None) -> Any:
        if search_path_string not in loaders:
            loader = original(search_path_string)
            loader._search_paths = _UniquePaths(loader.search_paths)
            loaders[search_path_string] = loader
        return loaders[search_path_string]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", create_loader)
        yield


@dataclass
class LambdaContext:
    function_name: str = "test"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id: str = "da658bd3-2d6f-4e7b-8ec2-937234644fdc"

    def get_remaining_time_in_millis(self) -> int:
        return 5000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@dataclass
class World:
    """A moto account with one seeded demo service and a simulated data plane."""

    session: Any
    clock: SimClock
    plane: DataPlane
    demo: DemoService
    clients: AwsClients
    provider: SSMProvider

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)


@pytest.fixture
def world() -> Any:
    with mock_aws(config=MOTO_CONFIG):
        session = boto3.session.Session(region_name=REGION)
        sim = SimClock()
        # Component tests read AWS right after each step: ECS's read-after-write lag is off here and
        # exercised by the emulator's workflow tests (tests/integration/test_dataplane.py).
        plane = DataPlane(sim, ACCOUNT, REGION, Timing(consistency_delay=0))
        plane.install()
        clock.set_source(sim.now)
        try:
            demo = seed_service(session, plane)
            yield World(
                session=session,
                clock=sim,
                plane=plane,
                demo=demo,
                clients=AwsClients.create(session),
                provider=SSMProvider(boto3_client=session.client("ssm")),
            )
        finally:
            clock.set_source(None)
            plane.uninstall()


@pytest.fixture
def emulator() -> Any:
    with Emulator() as emu:
        yield emu


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the summary lines tests record (the fault-injection suite's), also from xdist workers."""
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for name, value in getattr(report, "user_properties", []):
                if name in ("summary", "violation"):
                    terminalreporter.write_line(str(value))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Workflow matrices are sampled in ``make test``, run whole in ``make test-matrix`` (CI runs both).

    A parametrized workflow test (tests/integration: each case is a deployment on the emulator) keeps its
    first case in the default tier; the other cases are marked ``matrix``. ``make test`` stays within its
    budget and still runs every test function; no case is lost, CI runs them all.
    """
    seen: set[tuple[str, str]] = set()
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "tests/integration/" not in item.nodeid or item.get_closest_marker("matrix"):
            continue
        function = (item.nodeid.split("::")[0], getattr(item, "originalname", item.name))
        if function in seen:
            item.add_marker(pytest.mark.matrix)
        seen.add(function)
