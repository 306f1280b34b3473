"""Resolving an image tag to an immutable digest in ECR."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from .aws import error_code, transient_errors
from .errors import DigestMismatch, ImageNotFound


def resolve_digest(ecr: Any, repository: str, tag: str, expected_digest: str | None = None) -> tuple[str, str]:
    """Return ``(digest, repository_uri)`` for ``repository:tag``."""
    digest, uri, _ = resolve_image(ecr, repository, tag, expected_digest)
    return digest, uri


def resolve_image(
    ecr: Any, repository: str, tag: str, expected_digest: str | None = None, pinned: bool = False
) -> tuple[str, str, datetime | None]:
    """``(digest, repository_uri, imagePushedAt)``; ``pinned``: look the image up by ``expected_digest``.

    A rollback to an earlier release is pinned: it deploys the digest that was live, even if its tag
    was moved since (issue #15).
    """
    image_id = {"imageDigest": expected_digest} if pinned and expected_digest else {"imageTag": tag}
    try:
        with transient_errors():
            details = ecr.describe_images(repositoryName=repository, imageIds=[image_id])["imageDetails"]
            uri = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    except ClientError as error:
        if error_code(error) in ("ImageNotFoundException", "RepositoryNotFoundException"):
            raise ImageNotFound(
                f"Image {repository}:{tag} was not found in ECR ({error_code(error)}). "
                f"Push the image first, or check the tag and the service's 'repository' setting."
            ) from error
        raise
    if not details:
        raise ImageNotFound(f"Image {repository}:{tag} was not found in ECR. Push the image first.")
    digest = details[0]["imageDigest"]
    if expected_digest and expected_digest != digest:
        raise DigestMismatch(
            f"Tag {tag} in {repository} points to {digest}, not to the requested {expected_digest}. "
            f"The tag was moved after the build; deploy by the right tag or omit imageDigest."
        )
    pushed = details[0].get("imagePushedAt")
    return digest, uri, pushed if isinstance(pushed, datetime) else None
