from bluegreen.models import ValidateEvent
from bluegreen.steps import validate


def test_validate_happy(world):
    event = ValidateEvent(input={"service": "demo-web", "imageTag": "v2"}, executionArn="arn:x", executionName="x")
    context = validate.run(event, world.clients, world.provider)
    assert context.imageDigest == world.demo.digests["v2"]
