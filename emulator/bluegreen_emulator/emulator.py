"""The embedded emulator: deploy ``template.yaml`` onto moto and run deployments on it.

Usage (tests, the demo, the benchmark)::

    with Emulator() as emu:
        demo = emu.seed_service()
        result = emu.run(demo.name, "v2")
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import re
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

import boto3
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from moto.ecs.models import ecs_backends
from moto.secretsmanager.models import secretsmanager_backends

from bluegreen.aws import clients as aws_clients
from bluegreen.aws import elbv2 as rules
from bluegreen.aws.decisions import decide
from bluegreen.aws.events import get_publisher
from bluegreen.aws.hook_calls import get_lambda_client as get_hook_lambda_client
from bluegreen.aws.store import Store, get_store
from bluegreen.domain.errors import BlueGreenError
from bluegreen.domain.gates import Gate
from bluegreen.slack.notify import get_notifier

from . import alarm_history, cfn, iam, metrics, patches
from .async_invoke import AsyncLambda
from .behaviours import Behaviours, Rule
from .dataplane import DataPlane, Timing, WatchedService
from .fake_slack import FakeSlack, http_api_event, signed_interaction
from .hook_lambdas import DEMO_HOOK, demo_hook
from .http_front import HttpFront
from .lambdas import CallRecorder, Dispatcher, installed, outside_handlers
from .oneoff import OneOffTasks
from .patches import Patcher, enforce_deployment_controllers, task_definition_rules
from .route_state import client_actions
from .seed import DemoService, seed_network, seed_service
from .simclock import SimClock, compressed_time
from .template import Template, physical_name
from .user_lambdas import UserFunctions, invoked_by_state_machine

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "bluegreen"
ALARM_EVENT_FUNCTION = "AlarmEventFunction"  # the function CloudWatch alarm state changes invoke (EventBridge)
SLACK_SECRET = "bluegreen/slack"
APPROVER = "U0DEMO"  # the Slack user the emulator clicks as (on the default approver list)
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "MOTO_ACCOUNT_ID": ACCOUNT,
}
_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
LOCAL_SLACK_RETRY_INTERVAL = "0.01"  # seconds between retries of a Slack on this machine
_HANDLER_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "CONFIG_MAX_AGE": "0",
}


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def route_of(call: Any) -> str | None:
    """The route a recorded ModifyRule / ModifyListener call changed, else None."""
    if call.operation == "ModifyRule":
        return call.params.get("RuleArn")
    if call.operation == "ModifyListener":
        return call.params.get("ListenerArn")
    return None


@dataclass
class ExecutionResult:
    execution_arn: str
    status: str
    error: str | None
    cause: str | None
    output: dict[str, Any] | None
    states: list[str]
    events: list[dict[str, Any]] = field(repr=False)

    @property
    def state_transitions(self) -> int:
        """Billable transitions: every state entered, plus every retry of a task."""
        entered = sum(1 for e in self.events if e["type"].endswith("StateEntered"))
        tasks = sum(1 for e in self.events if e["type"] == "TaskStateEntered")
        # Lambda tasks log LambdaFunctionScheduled per attempt; callback (waitForTaskToken) tasks TaskScheduled.
        attempts = sum(1 for e in self.events if e["type"] in ("LambdaFunctionScheduled", "TaskScheduled"))
        return entered + (attempts - tasks)

    @property
    def outcome(self) -> str:
        if self.status == "SUCCEEDED":
            return "deployed"
        if self.status in ("ABORTED", "TIMED_OUT"):  # no Catch ran: ExecutionEndedFunction cleaned up
            return self.status.lower().replace("_", "-")
        if self.error == "RolledBack":
            return "rolled_back"
        if self.status == "FAILED" and "Failed" in self.states:  # reached only through a cleanup
            return "cleaned_up"
        return "failed"


class _MotoLookup:
    """What the IAM check needs from moto's backends."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def secret_arn(self, secret_id: str) -> str:
        if secret_id.startswith("arn:"):
            return secret_id
        account, region = self.emulator.account, self.emulator.region
        backend = secretsmanager_backends[account][region]
        if secret_id in backend.secrets:
            return backend.secrets[secret_id].arn
        return f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}"

    def state_machine_of_task_token(self, task_token: str) -> str:
        return self.emulator.state_machine_arn  # the stack has one state machine: every token is one of its

    def next_task_definition_revision(self, family: str) -> int:
        revisions = ecs_backends[self.emulator.account][self.emulator.region].task_definitions.get(family, {})
        return max(revisions, default=0) + 1

    def task_definition_roles(self, task_definition: str) -> list[str]:
        """The task and execution roles RunTask passes."""
        definition = ecs_backends[self.emulator.account][self.emulator.region].describe_task_definition(task_definition)
        roles = {getattr(definition, "task_role_arn", None), getattr(definition, "execution_role_arn", None)}
        return sorted(role for role in roles if role)


class Emulator:
    def __init__(
        self,
        timing: Timing | None = None,
        log_stream: Any = None,
        auto_approve: bool = True,
        slack: bool = True,
        metrics: bool = False,
        slack_api_url: str | None = None,
        pace: float | None = None,
        parameters: dict[str, str] | None = None,
        enforce_iam: bool = True,
        execution_timeout: float | None = patches.ONE_YEAR_SECONDS,
        stack_name: str = STACK,
        clock: SimClock | None = None,
        behaviours: list[Rule] | None = None,
        account: str = ACCOUNT,
        region: str = REGION,
    ) -> None:
        self.stack_name = stack_name  # the stack's name: CloudFormation derives the functions' names from it
        # The account and region moto answers as (a rehearsal uses the snapshot's: same ARNs as in the account).
        self.account, self.region = account, region
        self.parameters = dict(parameters or {})  # template parameter values besides the defaults
        self.clock = clock or SimClock()
        self.recorder = CallRecorder(clock=self.clock)
        self.plane = DataPlane(self.clock, account, region, timing)
        self.plane.tag_behaviours = Behaviours(behaviours)  # any image's behaviour by its tag (behaviours.py)
        self.oneoff = OneOffTasks(self.clock, account, region)
        self.front = HttpFront(self.plane, self._tag_of)  # The load balancers answer HTTP on 127.0.0.1
        self.dispatcher = Dispatcher(self.recorder, before_invoke=self.plane.reconcile)
        # Lambda's asynchronous side: retries, on-failure destinations, EventBridge dead letters, lost events.
        self.async_lambda = AsyncLambda(invoke=self.dispatcher.invoke, send_to_queue=self._send_to_queue)
        self.dispatcher.async_lambda = self.async_lambda
        self.template = Template.load()
        self.log_stream = log_stream if log_stream is not None else io.StringIO()
        self.services: dict[str, DemoService] = {}
        self.state_machine_arn = ""
        self._network: dict[str, Any] | None = None
        self._contexts: list[Any] = []
        self._saved_env: dict[str, str | None] = {}
        self.auto_approve = auto_approve
        self.metrics = metrics  # print the handlers' CloudWatch EMF metrics to stdout, as Lambda would
        self.dispatcher.discard_metrics = not metrics
        # A fake Slack Web API on 127.0.0.1, unless a real (or external) one is given.
        self.slack: FakeSlack | None = FakeSlack() if slack and not slack_api_url else None
        self.slack_api_url = slack_api_url
        self.pace = pace  # waiting for an answer: at most this many simulated seconds per real second
        self.slack_secrets = {
            "botToken": os.environ.get("SLACK_BOT_TOKEN", "xoxb-emulator-token"),
            "signingSecret": os.environ.get("SLACK_SIGNING_SECRET", "emulator-signing-secret"),
        }
        self.approvals: list[tuple[float, str, str]] = []  # (simulated seconds, service, gate id)
        self.clicks: list[tuple[float, str, str]] = []  # (simulated seconds, service, action)
        self._stop = threading.Event()
        # Set on every DynamoDB write of a handler (a gate opened, its Slack message posted): the auto-approver
        # looks at the gates then, instead of querying the table every few milliseconds for the whole run.
        self._table_written = threading.Event()
        self.enforce_iam = enforce_iam
        self.iam: iam.Authorizer | None = None  # each function's calls checked against its template policy
        self._iam_patches = patches.Patcher()  # SimulatePrincipalPolicy answered from those policies
        # Step Functions ends a Standard execution after one year (simulated seconds; tests may shorten it).
        self.execution_timeout = execution_timeout

    # --- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> Emulator:
        # moto's interpreter logs every Fail state as a warning; the result says it better.
        logging.getLogger("moto").setLevel(logging.CRITICAL)
        # Handlers without business metrics flush an empty set; Powertools warns each time.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        for key in (*_ENV, *_UNSET):
            self._saved_env[key] = os.environ.get(key)
        os.environ.update(_ENV)
        os.environ.update(
            {"MOTO_ACCOUNT_ID": self.account, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        )
        for key in _UNSET:
            os.environ.pop(key, None)
        mock = mock_aws(config=MOTO_CONFIG)
        mock.start()
        self._contexts.append(mock)
        self._controller_rules = Patcher()  # Task sets only on EXTERNAL services
        enforce_deployment_controllers(self._controller_rules)
        self._task_definition_rules = task_definition_rules()
        self._task_definition_rules.__enter__()
        self.session = boto3.session.Session(region_name=self.region)
        self._time = compressed_time(self.clock, self.pace)
        self._time.__enter__()
        self._lifecycle = patches.execution_lifecycle(lambda: self.execution_timeout)
        self._lifecycle.__enter__()
        self.plane.install()
        self.oneoff.install()  # One-off tasks of the ecsTask hooks
        self.front.start()  # The probe function reaches the simulated load balancers through it
        self.parameters.setdefault("ProbeProxyUrl", self.front.url)
        if self.slack:
            self.slack.start()
        if self.slack or self.slack_api_url:
            self.client("secretsmanager").create_secret(Name=SLACK_SECRET, SecretString=json.dumps(self.slack_secrets))
        # Handlers cache clients, secrets and the notifier per process; each emulator starts afresh.
        get_notifier.cache_clear()
        get_publisher.cache_clear()
        parameters.clear_caches()
        # And the shared clients: made for the region (and the account's table) of the emulator before this one.
        for cached in (aws_clients.get_clients, aws_clients.get_ssm_provider, aws_clients.lambda_client, get_store):
            cached.cache_clear()
        get_hook_lambda_client.cache_clear()
        self._deploy_stack()
        # Functions users create through the Lambda API from now on run in their own processes (the stack's own
        # functions above were created before: they run in this one).
        self.user_functions = UserFunctions(self.account, self.region)
        self.user_functions.install()
        self.dispatcher.user_functions = self.user_functions.invoke
        self._patches = patches.installed()  # after the Lambda shims: they wrap moto's SendTaskFailure too
        self._patches.__enter__()
        alarm_history.HISTORY.clear()  # this emulator's alarms only
        self._history_patches = Patcher()
        patches.describe_alarm_history(self._history_patches, self.clock.now)

        self._cfn = patches.cloudformation_templates(
            self._stack_created
        )  # a user's own template deploys (aws cloudformation deploy)
        self._cfn.__enter__()
        metrics.STATE_CHANGE_LISTENERS.append(self._alarm_changed)
        self.recorder.after.append(self._note_table_write)
        self._approver = threading.Thread(target=self._approve_loop, name="auto-approver", daemon=True)
        self._approver.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.wait_idle()
        self._stop.set()
        self._table_written.set()
        self._approver.join(timeout=5)
        if self.slack:
            self.slack.stop()
        metrics.STATE_CHANGE_LISTENERS.remove(self._alarm_changed)
        self._history_patches.restore()
        self._cfn.__exit__(*exc_info)
        self._patches.__exit__(*exc_info)
        self.dispatcher.user_functions = None
        self.user_functions.close()
        self._iam_patches.restore()
        self._lambdas.__exit__(*exc_info)
        self.oneoff.uninstall()
        self.front.stop()
        self.plane.uninstall()
        self._lifecycle.__exit__(*exc_info)
        self._time.__exit__(*exc_info)
        self._controller_rules.restore()
        self._task_definition_rules.__exit__(*exc_info)
        for mock in reversed(self._contexts):
            mock.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_publisher.cache_clear()  # its client and bus were this emulator's

    def _stack_created(self, stack: Any, template: dict[str, Any]) -> None:
        """A user's template declared a service configuration: the data plane and auto-approver follow it."""
        for service in cfn.configured_services(stack, template):
            if service in self.services:
                continue
            try:
                cfn.watch_configured(self, service)
            except Exception as error:  # noqa: BLE001 - the release's Validate says what is wrong with it
                logging.getLogger("bluegreen.emulator").warning("not simulating %s: %s", service, error)

    def _alarm_changed(self, alarm_name: str, state: str) -> None:
        """Every alarm state change (evaluation or SetAlarmState), in simulated seconds: rollback reaction."""
        self.plane.alarm_changes.append((self.clock.elapsed, alarm_name, state))

    def client(self, name: str) -> Any:
        return self.session.client(name)

    def _tag_of(self, digest: str) -> str:
        """The tag of an image digest pushed to a seeded service (the HTTP front names it)."""
        return next((t for demo in self.services.values() for t, d in demo.digests.items() if d == digest), digest)

    # --- the stack -------------------------------------------------------------------
    def _deploy_stack(self) -> None:
        iam_client, lam, sfn = self.client("iam"), self.client("lambda"), self.client("stepfunctions")
        role = iam_client.create_role(RoleName=f"{STACK}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        refs: dict[str, Any] = dict(self.template.stack_parameters())
        refs.update(self.parameters)
        refs.update(
            {
                "AWS::Region": self.region,
                "AWS::AccountId": self.account,
                "AWS::Partition": "aws",
                "AWS::StackName": self.stack_name,
            }
        )
        refs.update(self._create_tables())
        refs.update(self._create_queues())
        for logical_id, resource in self.template.resources.items():  # An environment may name a function
            if resource.get("Type") == "AWS::Serverless::Function":
                refs[logical_id] = self.function_name(logical_id)
        for logical_id, name in list(refs.items()):
            if name and self.template.resources.get(logical_id, {}).get("Type") == "AWS::DynamoDB::Table":
                refs[f"{logical_id}.Arn"] = f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"
        # The stack is deployed with the Slack secret the emulator created (the parameter's default is "").
        refs["SlackSecretName"] = self._slack_env()["SLACK_SECRET_NAME"]
        environment = dict(_HANDLER_ENV, POWERTOOLS_METRICS_DISABLED=str(not self.metrics).lower())
        for spec in self.template.functions(refs):
            name = self.function_name(spec.logical_id)
            arn = lam.create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=self._role(iam_client, spec.logical_id),
                Handler=spec.handler,
                Code={"ZipFile": b"in-process"},
            )["FunctionArn"]
            refs[f"{spec.logical_id}.Arn"] = arn
            refs[spec.logical_id] = name
            self.dispatcher.register(name, spec)
            self.async_lambda.configs[name] = spec.event_invoke
            self.async_lambda.logical_ids[name] = spec.logical_id
            environment.update({k: v for k, v in spec.environment.items() if k not in _HANDLER_ENV})
            environment.update(self._slack_env())
            self._create_event_rules(spec, arn)
        self._capture_deployment_events(str(refs.get("EventBusName") or "default"))
        self._create_demo_hooks(lam, role)
        (machine,) = self.template.state_machines()
        definition = machine.definition_path.read_text()
        for key, value in machine.substitutions.items():
            definition = definition.replace("${" + key + "}", str(self.template.resolve(value, refs)))
        unresolved = re.findall(r"\$\{[^}]+\}", definition)
        if unresolved:
            raise RuntimeError(f"Unresolved substitutions in {machine.definition_path.name}: {unresolved}")
        self.definition = json.loads(definition)
        self.state_machine_arn = sfn.create_state_machine(
            name=iam.resolve(self.template.resources[machine.logical_id]["Properties"]["Name"], refs),
            definition=definition,
            roleArn=self._role(iam_client, machine.logical_id),
            type="STANDARD",
        )["stateMachineArn"]
        refs[f"{machine.logical_id}.Arn"] = self.state_machine_arn
        if self.enforce_iam:
            self._enforce_iam(refs)
        self._lambdas = installed(self.dispatcher, environment, self.log_stream)
        self._lambdas.__enter__()
        self.store = Store(
            table=self.session.resource("dynamodb").Table(environment["TABLE_NAME"]), sfn=self.client("stepfunctions")
        )

    def _role(self, iam_client: Any, logical_id: str) -> str:
        """The role of one function (or the state machine), named as the Authorizer names its principal."""
        name = f"{STACK}-{logical_id}Role"
        return str(iam_client.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"])

    def _simulate(self, role_arn: str, action: str, resource: str, context: dict[str, str]) -> str | None:
        """SimulatePrincipalPolicy's decision for one of the stack's roles, from the policy the emulator enforces."""
        role = role_arn.rsplit("/", 1)[-1]
        logical_id = role.removeprefix(f"{STACK}-").removesuffix("Role")
        policy = self.iam.policies.get(logical_id) if self.iam and role.startswith(f"{STACK}-") else None
        if policy is None:
            return None
        request = iam.Request(action, resource, context)
        applying = [s for s in policy.statements if iam.statement_applies(s, request)]
        if any(s.effect == "Deny" for s in applying):
            return "explicitDeny"
        return "allowed" if applying else "implicitDeny"

    def function_name(self, logical_id: str) -> str:
        """The name CloudFormation gives the stack's function ``logical_id`` (the template names none)."""
        return physical_name(self.stack_name, logical_id)

    def _create_demo_hooks(self, lam: Any, role: str) -> None:
        """The demo hook Lambda (ECS hook contract), deployed beside the stack."""
        lam.create_function(
            FunctionName=DEMO_HOOK, Runtime="python3.13", Role=role, Handler="demo.hook", Code={"ZipFile": b"demo"}
        )
        self.dispatcher.register_callable(DEMO_HOOK, demo_hook)

    def hook_arn(self, name: str = DEMO_HOOK) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"

    def _enforce_iam(self, refs: dict[str, Any]) -> None:
        """Check every AWS call of a function against its own policy in the template, as AWS would."""
        self.iam = iam.Authorizer(
            policies=iam.template_policies(self.template.raw, refs),
            env=iam.Env("aws", self.region, self.account, _MotoLookup(self)),
            role_prefix=STACK,
        )
        (machine,) = self.template.state_machines()
        function_arn = {
            self.function_name(spec.logical_id): refs[f"{spec.logical_id}.Arn"]
            for spec in self.template.functions(refs)
        }
        self.dispatcher.authorize = self.iam.check

        def authorize_invoke(function_name: str) -> bool:
            if not invoked_by_state_machine():
                # A direct Invoke (``aws lambda invoke`` against ``local serve``, a test's client): the caller is the
                # account's own user, whom the emulator treats as the account's administrator (allowed).
                return True
            name = function_name.split(":function:")[-1].split(":")[0]
            arn = function_arn.get(name, f"arn:aws:lambda:{self.region}:{self.account}:function:{name}")
            return self.iam.allows(machine.logical_id, iam.Request("lambda:InvokeFunction", arn))

        self.dispatcher.authorize_invoke = authorize_invoke
        patches.simulate_principal_policy(self._iam_patches, self._simulate)  # bluegreen doctor

    def _slack_env(self) -> dict[str, str]:
        url = self.slack.base_url if self.slack else self.slack_api_url
        if not url:
            return {"SLACK_SECRET_NAME": ""}
        env = {"SLACK_SECRET_NAME": SLACK_SECRET, "SLACK_API_URL": url, "DEFAULT_APPROVERS": APPROVER}
        if _is_loopback(url):
            # A Slack on this machine: no backoff between retries, and no HTTP(S)_PROXY from the
            # environment capturing 127.0.0.1 (slack_sdk reads them; an empty value means none).
            env["SLACK_RETRY_INTERVAL"] = LOCAL_SLACK_RETRY_INTERVAL
            env.update(dict.fromkeys(_PROXY_VARIABLES, ""))
        return env

    def click(self, gate: Gate, action: str, user: str = APPROVER, wait_follow_up: bool = True) -> dict[str, Any]:
        """Click a button of the gate's Slack message: a signed request through the real callback."""
        assert self.slack or self.slack_api_url, "the emulator runs without Slack"
        body, headers = signed_interaction(
            self.slack_secrets["signingSecret"],
            user,
            action,
            gate.gateId,
            channel=gate.channel or "C0DEMO",
            ts=gate.ts or "0",
            response_url=self.slack.response_url() if self.slack else "https://hooks.slack.com/actions/T0/1/emulator",
        )
        with self.clock.hold():  # the click takes no simulated time
            self.clicks.append((self.clock.elapsed, gate.service, action))
            raw = self.dispatcher.invoke(
                self.function_name("SlackCallbackFunction"), json.dumps(http_api_event(body, headers)), {}
            )
        if wait_follow_up:  # the message update runs asynchronously after the answer (as in AWS)
            patches.DELIVERIES.wait_idle(timeout=30)
        return json.loads(raw)

    def _create_tables(self) -> dict[str, str]:
        """Create the template's DynamoDB tables; returns their ``Ref`` values (table names)."""
        dynamodb = self.client("dynamodb")
        names = {}
        for logical_id, resource in self.template.resources.items():
            if resource.get("Type") != "AWS::DynamoDB::Table":
                continue
            props = resource["Properties"]
            name = f"{STACK}-{logical_id}"
            dynamodb.create_table(
                TableName=name,
                KeySchema=props["KeySchema"],
                AttributeDefinitions=props["AttributeDefinitions"],
                BillingMode="PAY_PER_REQUEST",
            )
            names[logical_id] = name
        return names

    def _create_queues(self) -> dict[str, str]:
        """Create the template's SQS queues; returns their ``Ref`` (URL), ``Arn`` and ``QueueName`` values."""
        sqs = self.client("sqs")
        refs: dict[str, str] = {}
        for logical_id, resource in self.template.resources.items():
            if resource.get("Type") != "AWS::SQS::Queue":
                continue
            name = f"{STACK}-{logical_id}"
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            refs.update({logical_id: url, f"{logical_id}.Arn": arn, f"{logical_id}.QueueName": name})
        self.queues = refs
        return refs

    def _send_to_queue(self, queue_arn: str, body: str, attributes: dict[str, Any] | None) -> None:
        """The Lambda service (or EventBridge) sends a kept failure: not a handler's call."""
        sqs = self.client("sqs")
        message: dict[str, Any] = {"QueueUrl": sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]}
        if attributes:
            message["MessageAttributes"] = {
                key: {"DataType": "String", "StringValue": str(value)} for key, value in attributes.items()
            }
        with outside_handlers():
            sqs.send_message(MessageBody=body, **message)

    @property
    def failed_events_queue(self) -> str:
        """URL of the stack's failed-events queue (``bluegreen events replay`` reads it)."""
        return self.queues["FailedEventsQueue"]

    def reconcile(self) -> dict[str, Any]:
        """One scheduled run of the reconciler (EventBridge Scheduler invokes it every 5 minutes in AWS)."""
        event = {"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}}
        raw = self.dispatcher.invoke(self.function_name("ReconcilerFunction"), json.dumps(event), headers := {})
        result = json.loads(raw)
        if headers.get("x-amz-function-error"):
            raise RuntimeError(f"the reconciler failed: {result}")
        patches.DELIVERIES.wait_idle(timeout=30)
        return result

    def _create_event_rules(self, spec: Any, function_arn: str) -> None:
        """EventBridge rules of the function's ``Events`` (moto matches them; the emulator invokes)."""
        events = self.client("events")
        for event_id, event in spec.events.items():
            if event.get("Type") not in ("EventBridgeRule", "CloudWatchEvent"):
                continue
            rule = f"{STACK}-{spec.logical_id}-{event_id}"
            rule_arn = events.put_rule(
                Name=rule, EventPattern=json.dumps(event["Properties"]["Pattern"]), State="ENABLED"
            )["RuleArn"]
            target: dict[str, Any] = {"Id": "function", "Arn": function_arn}
            dead_letter = event["Properties"].get("DeadLetterConfig", {}).get("Arn")
            if dead_letter:  # what EventBridge cannot deliver is kept there
                target["DeadLetterConfig"] = {"Arn": dead_letter}
                self.async_lambda.dead_letters[rule_arn] = dead_letter
            events.put_targets(Rule=rule, Targets=[target])

    def event_rules(self, function: str) -> list[str]:
        """The names of the EventBridge rules that invoke the stack's function ``function`` (a logical id)."""
        found = self.client("events").list_rules(NamePrefix=f"{STACK}-{function}-")["Rules"]
        return [rule["Name"] for rule in found]

    def set_alarm_events(self, delivered: bool) -> list[str]:
        """Fault knob: lose (``False``: DisableRule) or deliver again (``True``: EnableRule) the CloudWatch alarm
        state-change events the alarm handler receives, as a deleted or disabled rule in AWS would lose them.
        Returns the rules changed."""
        events = self.client("events")
        rules = self.event_rules(ALARM_EVENT_FUNCTION)
        for rule in rules:
            (events.enable_rule if delivered else events.disable_rule)(Name=rule)
        return rules

    # --- deployment events ----------------------------------------------------
    def _capture_deployment_events(self, bus: str) -> None:
        """A rule on the stack's bus sends every deployment event to a queue, as a subscriber would."""
        from bluegreen.aws.events import SOURCE

        sqs, events = self.client("sqs"), self.client("events")
        self._events_queue = sqs.create_queue(QueueName=f"{STACK}-deployment-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self._events_queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        rule = f"{STACK}-deployment-events-capture"
        events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": [SOURCE]}), State="ENABLED")
        events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "capture", "Arn": queue_arn}])
        self._deployment_events: list[dict[str, Any]] = []
        self._events_lock = threading.Lock()

    def deployment_events(self, execution_arn: str | None = None) -> list[dict[str, Any]]:
        """Every deployment event delivered so far, in publication order (of one execution, if given)."""
        sqs = self.client("sqs")
        with self._events_lock:
            while True:
                messages = sqs.receive_message(QueueUrl=self._events_queue, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    self._deployment_events.append(json.loads(message["Body"]))
                    sqs.delete_message(QueueUrl=self._events_queue, ReceiptHandle=message["ReceiptHandle"])
            seen = list(self._deployment_events)
        if execution_arn:
            seen = [e for e in seen if e.get("detail", {}).get("executionArn") == execution_arn]
        return seen

    _TABLE_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
    APPROVER_IDLE_CHECK = 0.05  # real seconds: a look at the gates even without a handler's write (a safety net)

    def _note_table_write(self, call: Any) -> None:
        if call.service == "dynamodb" and call.operation in self._TABLE_WRITES:
            self._table_written.set()

    def _approve_loop(self) -> None:
        """Approve pending approvals as an operator would (the demo's default).

        Gates are opened (and their Slack messages recorded) by handlers' DynamoDB writes: the loop looks at the
        gates right after each one, and at least every ``APPROVER_IDLE_CHECK`` seconds.
        """
        while not self._stop.is_set():
            self._table_written.wait(self.APPROVER_IDLE_CHECK)
            self._table_written.clear()  # a write during the look below sets it again: no write is missed
            if self._stop.is_set():
                break
            if not self.auto_approve:
                continue
            for service in self._approved_services():
                gate = self.store.open_gate_of(service)
                if not gate or gate.kind != "approval":
                    continue
                try:
                    if (self.slack or self.slack_api_url) and gate.channel:
                        if not gate.ts:
                            continue  # the message is not posted yet
                        self.click(gate, "approve")
                    else:
                        decide(self.store, gate.gateId, "approve", "emulator:auto-approve", "demo")
                    self.approvals.append((self.clock.elapsed, service, gate.gateId))
                except BlueGreenError:
                    continue

    def _approved_services(self) -> list[str]:
        """The services the auto-approver answers for: the seeded ones and every other one the data plane drives
        (a service a user built through the API)."""
        names = list(self.services)
        names += [w.service for w in self.plane.watched() if w.service not in self.services]
        return list(dict.fromkeys(names))

    # --- environment -----------------------------------------------------------------
    def seed_service(self, name: str = "demo-web", **kwargs: Any) -> DemoService:
        if self._network is None:
            self._network = seed_network(self.session, "demo")
        service = seed_service(
            self.session, self.plane, name, network=self._network, priority=10 + 10 * len(self.services), **kwargs
        )
        self.services[name] = service
        self._table_written.set()  # the auto-approver looks at the new service's gates at once
        return service

    def watch_adopted(self, old: str, new: str) -> DemoService:
        """Simulate (and auto-approve) the EXTERNAL service ``bluegreen adopt`` creates next to ``old``."""
        demo = dataclasses.replace(self.services[old], name=new, blue_task_set="")
        self.services[new] = demo
        self._table_written.set()
        self.plane.watch(WatchedService(demo.cluster, new, demo.production_rule_arn, demo.alarm_name, 8080))
        return demo

    def production_weights(self, service: str) -> dict[str, int]:
        actions = client_actions(self.client("elbv2"), self.services[service].production_rule_arn)  # rule or listener
        if not any(action["Type"] == "forward" for action in actions):
            return {}  # A fixed response, nothing live yet
        return rules.forward_weights(actions)

    def rule_actions(self, rule_arn: str) -> list[dict[str, Any]]:
        """The actions of a route: a listener rule, or a listener's default actions."""
        return client_actions(self.client("elbv2"), rule_arn)

    def task_sets(self, service: str) -> list[dict[str, Any]]:
        demo = self.services[service]
        ecs = self.client("ecs")
        result = []
        described = ecs.describe_services(cluster=demo.cluster, services=[demo.name])["services"][0]["taskSets"]
        for task_set in [ts for ts in described if ts["status"] != "DRAINING"]:  # deleted, still draining
            definition = ecs.describe_task_definition(taskDefinition=task_set["taskDefinition"])["taskDefinition"]
            image = definition["containerDefinitions"][0]["image"]
            digest = image.split("@")[-1]
            tag = next((t for t, d in demo.digests.items() if d == digest), None) or self._pushed_tag(demo, digest)
            result.append(
                {
                    "id": task_set["id"],
                    "status": task_set["status"],
                    "image": image,
                    "imageTag": tag,
                    "targetGroupArn": (task_set.get("loadBalancers") or [{}])[0].get("targetGroupArn"),
                    "externalId": task_set.get("externalId"),
                }
            )
        return result

    def _pushed_tag(self, demo: DemoService, digest: str) -> str:
        """A tag of ``digest`` pushed since the service was seeded (a template's service starts with no image)."""
        try:
            images = self.client("ecr").describe_images(
                repositoryName=demo.repository, imageIds=[{"imageDigest": digest}]
            )
        except Exception:  # noqa: BLE001 - not an image of the repository: the digest names it
            return digest
        tags = [t for image in images["imageDetails"] for t in image.get("imageTags") or []]
        return tags[0] if tags else digest

    # --- executions ------------------------------------------------------------------
    def start(self, service: str, tag: str, digest: str | None = None, raw_input: Any = None) -> str:
        payload = raw_input if raw_input is not None else {"service": service, "imageTag": tag}
        if digest and raw_input is None:
            payload["imageDigest"] = digest
        name = f"{service}-{tag}-{uuid.uuid4().hex[:8]}"[:80]
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload)
        )["executionArn"]

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events

    def wait(
        self,
        execution_arn: str,
        on_state: Callable[[str, float], None] | None = None,
        timeout: float = 120.0,
    ) -> ExecutionResult:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            description = sfn.describe_execution(executionArn=execution_arn)
            if on_state:  # the history is costly to serialise: read it only when someone watches
                entered = [e for e in self.history(execution_arn) if e["type"].endswith("StateEntered")]
                for event in entered[seen:]:
                    on_state(event["stateEnteredEventDetails"]["name"], self.clock.elapsed)
                seen = len(entered)
            if description["status"] != "RUNNING":
                # The status-change event's targets (ExecutionEndedFunction) run once it has ended.
                patches.DELIVERIES.wait_idle(timeout=max(0.0, deadline - time.monotonic()))
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"Execution {execution_arn} still running after {timeout}s of wall time")
            time.sleep(0.02 if on_state else 0.05)
        events = self.history(execution_arn)
        output = json.loads(description["output"]) if description.get("output") else None
        return ExecutionResult(
            execution_arn=execution_arn,
            status=description["status"],
            error=description.get("error"),
            cause=description.get("cause"),
            output=output,
            states=[e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")],
            events=events,
        )

    def _production_routes(self, service: str) -> list[str]:
        demo = self.services[service]
        return list(demo.production_routes or [demo.production_rule_arn])

    def _production_calls(self, service: str) -> list[tuple[Any, str, int]]:
        """(call, route, green's percent on that route after it) for every call that changed a production route."""
        production = set(self._production_routes(service))
        changes: list[tuple[Any, str, int]] = []
        green: str | None = None
        for call in self.recorder.calls:
            route = route_of(call)
            if route not in production:
                continue
            weights = rules.forward_weights(call.params.get("Actions") or call.params["DefaultActions"])
            total = sum(weights.values()) or 1
            if green is None:  # the Swap lists green first in the weighted forward action
                green = next(iter(weights))
            changes.append((call, str(route), round(100 * weights.get(green, 0) / total)))
        return changes

    def route_weight_steps(self, service: str) -> dict[str, list[tuple[float, int]]]:
        """Each production route's (simulated seconds, green's percent) after each call on it."""
        steps: dict[str, list[tuple[float, int]]] = {route: [] for route in self._production_routes(service)}
        for call, route, weight in self._production_calls(service):
            steps[route].append((round(call.at, 3), weight))
        return steps

    def weight_steps(self, service: str) -> list[tuple[float, int]]:
        """(simulated seconds, green's percent of production) each time **every** production route reached a new
        common weight (a step of N routes is N calls; it counts once the last of them is made)."""
        current = dict.fromkeys(self._production_routes(service), 0)
        steps: list[tuple[float, int]] = []
        for call, route, weight in self._production_calls(service):
            current[route] = weight
            if len(set(current.values())) == 1 and (not steps or steps[-1][1] != weight):
                steps.append((round(call.at, 3), weight))
        return steps

    def rollback_reaction(self, service: str) -> float | None:
        """Simulated seconds from the alarm going to ALARM (or the Roll back click) to production restored on
        every production route (the last of the Rollback's route calls)."""
        demo = self.services[service]
        triggers = [at for at, name, state in self.plane.alarm_changes if name == demo.alarm_name and state == "ALARM"]
        triggers += [at for at, svc, action in self.clicks if svc == service and action == "rollback"]
        fired = min(triggers) if triggers else None
        if fired is None:
            return None
        current = dict.fromkeys(self._production_routes(service), 0)
        for call, route, weight in self._production_calls(service):
            current[route] = weight
            if call.function == "RollbackFunction" and call.at >= fired and not any(current.values()):
                return round(call.at - fired, 3)  # the call that took green's last share of production away
        return None

    def run(self, service: str, tag: str, **kwargs: Any) -> ExecutionResult:
        on_state = kwargs.pop("on_state", None)
        return self.wait(self.start(service, tag, **kwargs), on_state=on_state)

    def stop_running(self, timeout: float = 2.0) -> int:
        """StopExecution every running execution (they end ABORTED and are cleaned up); returns how many."""
        if not self.state_machine_arn:
            return 0
        sfn = self.client("stepfunctions")
        running = sfn.list_executions(stateMachineArn=self.state_machine_arn, statusFilter="RUNNING")["executions"]
        for execution in running:
            sfn.stop_execution(executionArn=execution["executionArn"], cause="bluegreen local serve stopped")
        self.wait_idle(timeout)
        return len(running)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Let running executions finish before moto is torn down."""
        if not self.state_machine_arn:
            return
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = sfn.list_executions(stateMachineArn=self.state_machine_arn, statusFilter="RUNNING")["executions"]
            if not running:
                # An execution's end event may start another one (a pending release): look again after it.
                patches.DELIVERIES.wait_idle(timeout=max(0.0, deadline - time.monotonic()))
                again = sfn.list_executions(stateMachineArn=self.state_machine_arn, statusFilter="RUNNING")
                if not again["executions"]:
                    return
            time.sleep(0.05)
