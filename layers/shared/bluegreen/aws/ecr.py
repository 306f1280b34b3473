"""Resolving an image tag to an immutable digest in ECR."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from bluegreen.aws.clients import error_code, transient_errors
from bluegreen.domain.errors import DigestMismatch, ImageNotFound

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient


def resolve_digest(ecr: ECRClient, repository: str, tag: str, expected_digest: str | None = None) -> tuple[str, str]:
    """Return ``(digest, repository_uri)`` for ``repository:tag``."""
    try:
        with transient_errors():
            details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
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
    return digest, uri
