"""What a step may use (AWS clients, the deployments table, the Slack notifier, the SSM provider).

Every step module exposes ``run(event, deps) -> Model``. A handler builds one :class:`Deps` at module
level (nothing is created then); each dependency is made on first use and shared by the warm
container through the cached ``get_*`` factories. Tests pass their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    from bluegreen.aws.clients import AwsClients
    from bluegreen.aws.events import EventPublisher
    from bluegreen.aws.store import Store
    from bluegreen.slack.notify import SlackNotifier


class Deps:
    """Dependencies of the steps; an argument left out comes from the process-wide factory."""

    def __init__(
        self,
        *,
        clients: AwsClients | None = None,
        store: Store | None = None,
        notifier: SlackNotifier | None = None,
        ssm: SSMProvider | None = None,
        events: EventPublisher | None = None,
        lambda_client: Any = None,
    ) -> None:
        self._lambda = lambda_client
        self._clients = clients
        self._store = store
        self._notifier = notifier
        self._ssm = ssm
        self._events = events
        # Seconds left in the running invocation (a handler sets it from its Lambda context); none set: no limit.
        self.remaining_seconds: Callable[[], float] = lambda: math.inf

    @property
    def clients(self) -> AwsClients:
        if self._clients is not None:
            return self._clients
        from bluegreen.aws.clients import get_clients

        return get_clients()

    @property
    def store(self) -> Store:
        if self._store is not None:
            return self._store
        from bluegreen.aws.store import get_store

        return get_store()

    @property
    def notifier(self) -> SlackNotifier:
        if self._notifier is not None:
            return self._notifier
        from bluegreen.slack.notify import get_notifier

        return get_notifier()

    @property
    def lambda_client(self) -> Any:
        """Invokes and looks up hook functions."""
        if self._lambda is not None:
            return self._lambda
        from bluegreen.aws.hook_calls import get_lambda_client

        return get_lambda_client()

    @property
    def ssm(self) -> SSMProvider:
        if self._ssm is not None:
            return self._ssm
        from bluegreen.aws.clients import get_ssm_provider

        return get_ssm_provider()

    @property
    def events(self) -> EventPublisher:
        """Deployment events on EventBridge; a no-op when the stack names no bus."""
        if self._events is not None:
            return self._events
        from bluegreen.aws.events import get_publisher

        return get_publisher()
