"""Amazon ECR: pushes publish their EventBridge event."""

from __future__ import annotations

import json

from moto.ecr.models import ECRBackend
from moto.events.models import events_backends

from bluegreen.domain import clock

from .core import Patcher


def publish_ecr_pushes(patcher: Patcher) -> None:
    # moto gap: moto's ECR publishes nothing to EventBridge; AWS sends ``ECR Image Action`` for a push,
    # and stamps the image's imagePushedAt with the (here simulated) time of the push.
    original_put_image = ECRBackend.put_image

    def put_image(self, repository_name, image_manifest, image_tag, *args, **kwargs):  # noqa: ANN001 - moto's
        image = original_put_image(self, repository_name, image_manifest, image_tag, *args, **kwargs)
        # Nor is imagePushedAt on the simulated clock (moto stamps the real time); the reconciler compares it
        # with the deployments' simulated start times.
        image.image_pushed_at = int(clock.now().timestamp())
        detail = {
            "result": "SUCCESS",
            "repository-name": repository_name,
            "image-digest": image.get_image_digest(),
            "action-type": "PUSH",
            "image-tag": image_tag,
        }
        events_backends[self.account_id][self.region_name].put_events(
            [{"Source": "aws.ecr", "DetailType": "ECR Image Action", "Detail": json.dumps(detail), "Resources": []}]
        )
        return image

    patcher.replace(ECRBackend, "put_image", put_image)
