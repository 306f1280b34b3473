"""The deployments table (DynamoDB): per-service locks, gates (approval, bake, keep-old) and history.

Single-table layout (``pk`` / ``sk``, TTL on ``ttl``):

=================================  ===========================  ===============================================
pk                                 sk                           item
=================================  ===========================  ===============================================
``SERVICE#{service}``              ``LOCK``                     executionArn holding the service's lock
``SERVICE#{service}``              ``GATE``                     gateId of the service's open gate, if any
``SERVICE#{service}``              ``DEPLOYMENT#{start}#{name}`` one deployment: image, status, outcome
``EXECUTION#{name}``               ``DEPLOYMENT``               the sk of that execution's deployment item
``GATE#{gateId}``                  ``GATE``                     a gate: kind, task token, status, decision
``ALARM#{alarmName}``              ``GATE#{gateId}``            bake gates watching that alarm
``SERVICE#{service}``              ``PENDING``                  the newest image pushed while a deployment ran
``SERVICE#{service}``              ``REPAIR#{at}#{kind}#{id}``  a leftover the reconciler repaired (30 days)
``SERVICE#{service}``              ``UNSEEN#{digest}``          an unseen push the reconciler reported (once)
``FOLLOWUP#{key}``                 ``DONE``                     a Slack follow-up already sent (replays skip it)
=================================  ===========================  ===============================================
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from bluegreen.aws.clients import error_code, get_clients, transient_errors
from bluegreen.domain import clock
from bluegreen.domain.errors import DeploymentInProgress, ExecutionAlreadyEnded
from bluegreen.domain.gates import Gate, GateKind, GateStatus
from bluegreen.domain.settings import require

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_stepfunctions import SFNClient

PENDING = GateStatus.PENDING
GATE_KINDS = tuple(GateKind)
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_gate_id(kind: str) -> str:
    return f"{GateKind(kind).prefix}-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@functools.cache
def get_store() -> Store:
    """The deployments table named by ``TABLE_NAME``, shared by every invocation of a warm container."""
    clients = get_clients()
    return Store(table=clients.dynamodb.Table(require("TABLE_NAME").tableName), sfn=clients.sfn)


@dataclass
class Store:
    table: Table  # boto3 DynamoDB Table resource
    sfn: SFNClient

    # --- lock --------------------------------------------------------------------------
    def acquire_lock(self, service: str, execution_arn: str, logger: Any = None) -> None:
        """Take the service's lock, or take over a lock whose execution is no longer running."""
        item = {
            "pk": f"SERVICE#{service}",
            "sk": "LOCK",
            "executionArn": execution_arn,
            "acquiredAt": _iso(clock.now()),
        }
        try:
            with transient_errors():
                self.table.put_item(
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk) OR executionArn = :me",
                    ExpressionAttributeValues={":me": execution_arn},
                )
            return
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
        holder = self.lock_holder(service)
        if holder and self._is_running(holder):
            raise DeploymentInProgress(
                f"Service {service} is being deployed by {holder}. Wait for it to finish (or stop it), "
                f"then deploy again."
            )
        if logger:
            logger.warning("Taking over a stale deployment lock", extra={"service": service, "staleHolder": holder})
        try:
            with transient_errors():
                self.table.put_item(
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk) OR executionArn = :stale",
                    ExpressionAttributeValues={":stale": holder or ""},
                )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise DeploymentInProgress(f"Service {service} was locked by another deployment just now.") from error
            raise

    def lock_holder(self, service: str) -> str | None:
        with transient_errors():
            item = self.table.get_item(Key={"pk": f"SERVICE#{service}", "sk": "LOCK"}, ConsistentRead=True).get("Item")
        return str(item["executionArn"]) if item else None

    def release_lock(self, service: str, execution_arn: str) -> bool:
        """Release the lock if this execution holds it; ``False`` when it did not."""
        try:
            with transient_errors():
                self.table.delete_item(
                    Key={"pk": f"SERVICE#{service}", "sk": "LOCK"},
                    ConditionExpression="executionArn = :me",
                    ExpressionAttributeValues={":me": execution_arn},
                )
            return True
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise

    def is_running(self, execution_arn: str) -> bool:
        """Whether the execution still runs (a rollback to previous is refused meanwhile)."""
        return self._is_running(execution_arn)

    def _is_running(self, execution_arn: str) -> bool:
        try:
            with transient_errors():
                return self.sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
        except ClientError as error:
            if error_code(error) == "ExecutionDoesNotExist":
                return False
            raise

    # --- deployment history -------------------------------------------------------------
    def record_start(self, service: str, execution_arn: str, details: dict[str, Any]) -> None:
        """One item per deployment, newest last in ``SERVICE#{service}`` / ``DEPLOYMENT#...``."""
        started = _iso(clock.now())
        name = execution_arn.rsplit(":", 1)[-1]
        item = {
            "pk": f"SERVICE#{service}",
            "sk": f"DEPLOYMENT#{started}#{name}",
            "service": service,
            "executionArn": execution_arn,
            "startedAt": started,
            "status": "RUNNING",
            "ttl": int((clock.now() + timedelta(days=400)).timestamp()),
            **details,
        }
        with transient_errors():
            self.table.put_item(Item=item)
            self.table.update_item(
                Key={"pk": f"EXECUTION#{name}", "sk": "DEPLOYMENT"},
                UpdateExpression="SET deploymentKey = :k, #ttl = :ttl",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":k": item["sk"], ":ttl": item["ttl"]},
            )

    def record_end(
        self,
        service: str,
        execution_arn: str,
        outcome: str,
        error: str | None = None,
        cause: str | None = None,
        release: Mapping[str, Any] | None = None,
    ) -> None:
        """``release``: what went to production (task definition, digest, times) for history and stats."""
        name = execution_arn.rsplit(":", 1)[-1]
        with transient_errors():
            pointer = self.table.get_item(Key={"pk": f"EXECUTION#{name}", "sk": "DEPLOYMENT"}).get("Item")
            if not pointer:
                return
            values = {":o": outcome, ":at": _iso(clock.now()), ":e": error or "", ":c": (cause or "")[:2000]}
            expression = "SET #s = :o, endedAt = :at, #e = :e, cause = :c"
            names = {"#s": "status", "#e": "error"}
            for index, (key, value) in enumerate(sorted((release or {}).items())):
                if value is None:
                    continue
                names[f"#r{index}"] = key
                values[f":r{index}"] = value
                expression += f", #r{index} = :r{index}"
            self.table.update_item(
                Key={"pk": f"SERVICE#{service}", "sk": pointer["deploymentKey"]},
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def record_details(self, service: str, execution_arn: str, details: dict[str, Any]) -> None:
        """Set fields on the deployment's item: the plan, hook results (13), green's task set (12)."""
        name = execution_arn.rsplit(":", 1)[-1]
        with transient_errors():
            pointer = self.table.get_item(Key={"pk": f"EXECUTION#{name}", "sk": "DEPLOYMENT"}).get("Item")
            if not pointer or not details:
                return
            names = {f"#f{i}": key for i, key in enumerate(details)}
            values = {f":v{i}": value for i, value in enumerate(details.values())}
            self.table.update_item(
                Key={"pk": f"SERVICE#{service}", "sk": pointer["deploymentKey"]},
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(details))),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def deployments(self, service: str, limit: int = 20) -> list[dict[str, Any]]:
        """Recent deployments of ``service``, newest first."""
        with transient_errors():
            return self.table.query(
                KeyConditionExpression=Key("pk").eq(f"SERVICE#{service}") & Key("sk").begins_with("DEPLOYMENT#"),
                ScanIndexForward=False,
                Limit=limit,
            )["Items"]

    def deployments_since(self, service: str, since: datetime) -> list[dict[str, Any]]:
        """Every deployment of ``service`` started at or after ``since``, oldest first (stats)."""
        condition = Key("pk").eq(f"SERVICE#{service}") & Key("sk").between(f"DEPLOYMENT#{_iso(since)}", "DEPLOYMENT#~")
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition}
        while True:
            with transient_errors():
                page = self.table.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- gates -------------------------------------------------------------------------
    def create_gate(self, gate: Gate) -> Gate:
        """Store a new pending gate and make it the service's open gate (and the alarms' watcher).

        Only while the deployment is recorded as running. Step Functions does not interrupt a
        Lambda that already runs, so a step stopped (StopExecution, a refused redrive) may open its gate after
        the end was recorded and the gates closed; the gate is written in one transaction with a check of the
        deployment item, and no gate outlives its deployment (``ExecutionAlreadyEnded`` instead).
        """
        ttl = int((datetime.fromisoformat(gate.expiresAt) + timedelta(days=30)).timestamp())
        items: list[dict[str, Any]] = [
            {"pk": f"GATE#{gate.gateId}", "sk": "GATE", "ttl": ttl, **gate.item()},
            {
                "pk": f"SERVICE#{gate.service}",
                "sk": "GATE",
                "gateId": gate.gateId,
                "kind": gate.kind.value,
                "executionArn": gate.executionArn,
                "ttl": ttl,
            },
            # The alarms' watchers in the same write: a gate is never there without them (a retried step reuses it).
            *(
                {
                    "pk": f"ALARM#{name}",
                    "sk": f"GATE#{gate.gateId}",
                    "gateId": gate.gateId,
                    "service": gate.service,
                    "ttl": ttl,
                }
                for name in gate.alarmNames
            ),
        ]
        writes: list[dict[str, Any]] = [{"Put": {"TableName": self.table.name, "Item": item}} for item in items]
        pointer = self._pointer(gate.executionArn)
        if pointer:  # first, so a cancellation's first reason is this check's
            running = {
                "TableName": self.table.name,
                "Key": {"pk": f"SERVICE#{gate.service}", "sk": pointer["deploymentKey"]},
                "ConditionExpression": "#s = :running",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":running": "RUNNING"},
            }
            writes.insert(0, {"ConditionCheck": running})
        try:
            with transient_errors():  # the resource's client takes Python values (the stubs know only wire types)
                self.table.meta.client.transact_write_items(TransactItems=writes)  # type: ignore[arg-type]
        except ClientError as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if (
                error_code(error) == "TransactionCanceledException"
                and pointer
                and reasons[:1] == ["ConditionalCheckFailed"]
            ):
                name = gate.executionArn.rsplit(":", 1)[-1]
                raise ExecutionAlreadyEnded(
                    f"Deployment {name} has ended: its {gate.kind.value} gate was not opened"
                ) from error
            raise
        return gate

    def get_gate(self, gate_id: str) -> Gate | None:
        with transient_errors():
            item = self.table.get_item(Key={"pk": f"GATE#{gate_id}", "sk": "GATE"}, ConsistentRead=True).get("Item")
        return Gate.model_validate(item) if item else None

    def open_gate_of(self, service: str) -> Gate | None:
        """The service's pending gate, if any."""
        with transient_errors():
            pointer = self.table.get_item(Key={"pk": f"SERVICE#{service}", "sk": "GATE"}, ConsistentRead=True).get(
                "Item"
            )
        if not pointer:
            return None
        gate = self.get_gate(str(pointer["gateId"]))
        return gate if gate and gate.pending else None

    def gates_watching(self, alarm_name: str) -> list[Gate]:
        with transient_errors():
            items = self.table.query(KeyConditionExpression=Key("pk").eq(f"ALARM#{alarm_name}"))["Items"]
        gates = [self.get_gate(str(item["gateId"])) for item in items]
        return [gate for gate in gates if gate and gate.pending]

    def decide(self, gate_id: str, status: str, actor: str, reason: str) -> Gate | None:
        """Move a gate from PENDING to ``status`` once; ``None`` if it was no longer pending."""
        try:
            with transient_errors():
                item = self.table.update_item(
                    Key={"pk": f"GATE#{gate_id}", "sk": "GATE"},
                    UpdateExpression="SET #s = :status, decidedBy = :actor, decidedAt = :at, reason = :reason",
                    ConditionExpression="#s = :pending",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={
                        ":status": status,
                        ":actor": actor,
                        ":at": _iso(clock.now()),
                        ":reason": reason,
                        ":pending": PENDING,
                    },
                    ReturnValues="ALL_NEW",
                )["Attributes"]
            gate = Gate.model_validate(item)
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return None
            raise
        self._forget(gate)
        return gate

    def undo_decision(self, gate_id: str, status: str, actor: str, new_status: str = PENDING) -> None:
        """After Step Functions refused or failed: EXPIRED (it no longer waits) or back to PENDING (retry)."""
        try:
            with transient_errors():
                self.table.update_item(
                    Key={"pk": f"GATE#{gate_id}", "sk": "GATE"},
                    UpdateExpression="SET #s = :new",
                    ConditionExpression="#s = :status AND decidedBy = :actor",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":new": new_status, ":status": status, ":actor": actor},
                )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
        if new_status == PENDING:
            gate = self.get_gate(gate_id)
            if gate:
                with transient_errors():
                    self.table.put_item(
                        Item={
                            "pk": f"SERVICE#{gate.service}",
                            "sk": "GATE",
                            "gateId": gate_id,
                            "kind": gate.kind.value,
                            "executionArn": gate.executionArn,
                            "ttl": gate.ttl,
                        }
                    )

    def set_notification_error(self, gate_id: str, text: str) -> None:
        with transient_errors():
            self.table.update_item(
                Key={"pk": f"GATE#{gate_id}", "sk": "GATE"},
                UpdateExpression="SET notificationError = :t",
                ExpressionAttributeValues={":t": text},
            )

    def set_message(self, gate_id: str, channel: str, ts: str) -> None:
        with transient_errors():
            self.table.update_item(
                Key={"pk": f"GATE#{gate_id}", "sk": "GATE"},
                UpdateExpression="SET channel = :c, ts = :t",
                ExpressionAttributeValues={":c": channel, ":t": ts},
            )

    def close_open_gate(self, service: str, execution_arn: str, status: str, reason: str) -> Gate | None:
        """Close this execution's pending gate (e.g. after its timeout); returns it if one was closed."""
        gate = self.open_gate_of(service)
        if not gate or gate.executionArn != execution_arn:
            return None
        return self.decide(gate.gateId, status, "step-functions", reason)

    def _forget(self, gate: Gate) -> None:
        with transient_errors():
            try:
                self.table.delete_item(
                    Key={"pk": f"SERVICE#{gate.service}", "sk": "GATE"},
                    ConditionExpression="gateId = :g",
                    ExpressionAttributeValues={":g": gate.gateId},
                )
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
            for name in gate.alarmNames:
                self.table.delete_item(Key={"pk": f"ALARM#{name}", "sk": f"GATE#{gate.gateId}"})

    # --- the context of a running deployment, pending releases -----------------------
    def record_context(self, service: str, execution_arn: str, context_json: str) -> None:
        """Keep Validate's context on the deployment item: the execution-ended path cleans up from it."""
        pointer = self._pointer(execution_arn)
        if not pointer:
            return
        with transient_errors():
            self.table.update_item(
                Key={"pk": f"SERVICE#{service}", "sk": pointer["deploymentKey"]},
                UpdateExpression="SET deploymentContext = :c",
                ExpressionAttributeValues={":c": context_json},
            )

    def _pointer(self, execution_arn: str) -> dict[str, Any] | None:
        name = execution_arn.rsplit(":", 1)[-1]
        with transient_errors():
            return self.table.get_item(Key={"pk": f"EXECUTION#{name}", "sk": "DEPLOYMENT"}, ConsistentRead=True).get(
                "Item"
            )

    def deployment_of(self, service: str, execution_arn: str) -> dict[str, Any] | None:
        """The deployment item of ``execution_arn`` (``None`` if Validate never recorded it)."""
        pointer = self._pointer(execution_arn)
        if not pointer:
            return None
        with transient_errors():
            return self.table.get_item(
                Key={"pk": f"SERVICE#{service}", "sk": pointer["deploymentKey"]}, ConsistentRead=True
            ).get("Item")

    def put_pending(self, service: str, release: dict[str, Any]) -> dict[str, Any] | None:
        """Queue ``release`` (imageTag, imageDigest, ...) for the service; returns the one it superseded."""
        with transient_errors():
            old = self.table.put_item(
                Item={"pk": f"SERVICE#{service}", "sk": "PENDING", "service": service, **release},
                ReturnValues="ALL_OLD",
            ).get("Attributes")
        if old and old.get("imageDigest") == release.get("imageDigest"):
            return None  # the same image again: nothing superseded
        return old

    def pending_of(self, service: str) -> dict[str, Any] | None:
        with transient_errors():
            return self.table.get_item(Key={"pk": f"SERVICE#{service}", "sk": "PENDING"}, ConsistentRead=True).get(
                "Item"
            )

    def take_pending(self, service: str, digest: str) -> bool:
        """Remove the pending release if it is still ``digest``; ``False`` if another caller took it."""
        try:
            with transient_errors():
                self.table.delete_item(
                    Key={"pk": f"SERVICE#{service}", "sk": "PENDING"},
                    ConditionExpression="imageDigest = :d",
                    ExpressionAttributeValues={":d": digest},
                )
            return True
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise

    # --- the reconciler's records, the once-only marks of redelivered work ------------------------------
    def record_repair(self, service: str, repair: Mapping[str, Any], days: int) -> None:
        """Keep one repair of the reconciler on the service (``REPAIR#{at}#{kind}``, expires after ``days``)."""
        at = str(repair.get("at") or _iso(clock.now()))
        item = {
            "pk": f"SERVICE#{service}",
            "sk": f"REPAIR#{at}#{repair.get('kind')}#{secrets.token_hex(3)}",
            "ttl": int((clock.now() + timedelta(days=days)).timestamp()),
            **repair,
        }
        with transient_errors():
            self.table.put_item(Item=item)

    def repairs_of(self, service: str, limit: int = 5) -> list[dict[str, Any]]:
        """The reconciler's latest repairs of the service, newest first."""
        with transient_errors():
            return self.table.query(
                KeyConditionExpression=Key("pk").eq(f"SERVICE#{service}") & Key("sk").begins_with("REPAIR#"),
                ScanIndexForward=False,
                Limit=limit,
            )["Items"]

    def note_unseen_push(self, service: str, digest: str, tag: str) -> bool:
        """Mark the push as reported (``UNSEEN#{digest}``); ``False`` if it was reported before."""
        return self.once(f"SERVICE#{service}", f"UNSEEN#{digest}", days=2, imageTag=tag)

    def once(self, pk: str, sk: str, days: int = 1, **attributes: Any) -> bool:
        """Write a mark unless it exists (conditional put): ``True`` the first time, ``False`` after."""
        item = {"pk": pk, "sk": sk, "ttl": int((clock.now() + timedelta(days=days)).timestamp()), **attributes}
        try:
            with transient_errors():
                self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
            return True
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise

    def done_before(self, pk: str, sk: str) -> bool:
        """Whether the mark :meth:`once` writes exists."""
        with transient_errors():
            return "Item" in self.table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True)
