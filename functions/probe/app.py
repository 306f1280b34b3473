"""The HTTP probe of sends a probe hook's requests (logic: bluegreen.probe). It may run in the VPC."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import probe
from bluegreen.domain.settings import require

logger = Logger()
# The probe calls no AWS API and no database: Tracer() would patch every library X-Ray supports (importing
# botocore and sqlite3 at cold start for nothing). Its handler segment is recorded as before (cold start).
tracer = Tracer(auto_patch=False)
require()  # cold start: a malformed variable fails here, named


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=probe.ProbeRequest)
def lambda_handler(event: probe.ProbeRequest, context: LambdaContext) -> dict:
    return probe.run(event).dump()
