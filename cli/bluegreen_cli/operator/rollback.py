"""``bluegreen rollback --to-previous``: deploy the previous release again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from bluegreen.aws.clients import error_code

from ..common import (
    CliError,
)
from .base import console_url

if TYPE_CHECKING:
    pass


class RollbackCommands:
    """The commands of this module, a mixin of :class:`Operator`."""

    # --- roll back to the previous release, delivery metrics -------------------------------
    def rollback_to_previous(self, service: str, reason: str = "", require_approval: bool = False) -> str:
        """Deploy the release before the live one again (its pinned digest); returns the execution ARN."""
        from bluegreen.domain import to_previous

        config = self.load_config(service)  # unknown service: exit 2
        chosen = to_previous.plan(self.store, service, lambda arn: self._status_of(arn) == "RUNNING")
        if isinstance(chosen, to_previous.Refusal):
            if chosen.reason == "running":
                raise CliError(
                    f"{chosen.message}; nothing was started",
                    f"wait for it (bluegreen follow {chosen.holder}); during its bake use bluegreen rollback {service}",
                )
            raise CliError(
                f"cannot roll '{service}' back to a previous release: {chosen.message}; nothing was started",
                f"see bluegreen history {service}",
            )
        live, previous = chosen.live, chosen.previous
        tag = previous.imageTag if previous.imageTag != "?" else self._tag_of(config.repository, previous.imageDigest)
        arn = to_previous.start(
            self.clients.sfn, self.state_machine_arn, service, chosen, tag, self.caller_arn, require_approval
        )
        approval = "with approval" if require_approval else "approval skipped (a rollback)"
        self.print(
            f"Rolling {service} back from {live.imageTag} to {tag} "
            f"({config.repository}@{previous.imageDigest}), {approval}" + (f": {reason}" if reason else "")
        )
        self.print(f"Execution: {arn}")
        self.print(f"Console:   {console_url(arn)}")
        return arn

    def _tag_of(self, repository: str, digest: str | None) -> str:
        """A tag of the image ``digest`` (a label only: a rollback deploys the digest), else ``previous``."""
        try:
            details = self.clients.ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])
        except ClientError as error:
            if error_code(error) in ("ImageNotFoundException", "RepositoryNotFoundException"):
                raise CliError(
                    f"the previous image {repository}@{digest} is no longer in ECR; nothing was started",
                    "deploy an existing tag with bluegreen deploy",
                ) from error
            raise
        tags = sorted((details["imageDetails"] or [{}])[0].get("imageTags") or [])
        immutable = [t for t in tags if t.lower() not in {m.lower() for m in ("latest", "main", "stable")}]
        return (immutable or tags or ["previous"])[0]
