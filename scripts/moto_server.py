"""moto_server, with each DynamoDB request applied atomically, as DynamoDB does.

DynamoDB applies every item write as one atomic step: an `ADD` in UpdateItem is an
atomic counter ("incremented, unconditionally, without interfering with other
write requests"), and a conditional write checks its condition and writes in one
step, so of two writers with the same condition exactly one wins
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.AtomicCounters,
#WorkingWithItems.ConditionalUpdate). moto serves requests on many threads and
its UpdateItem is a read, a change and a store with no lock between them: two
concurrent ADDs to a new counter both start from nothing and one is lost, and two
conditional writes can both pass their check. The agent function counts budgets
and guards sessions and jobs with exactly these writes, so its tests need them
atomic.

This runs moto's own server unchanged except that DynamoDB requests are served
one at a time (stricter than DynamoDB, which serializes per item; equal for every
outcome a test can observe). Everything else stays concurrent.

One call moto lacks is added: API Gateway v2 GetAuthorizers (`GET
/v2/apis/{apiId}/authorizers`, https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-authorizers.html),
which moto answers with a 500 "not implemented" that the SDK retries for ~17 s
before claw can list an API's authorizers. It lists the API's authorizers as
GetAuthorizer shows each, in one page. (The end-to-end tests' realism proxy
serves the call itself, from what it saw; this is for the demo and the
benchmarks, which talk to moto directly.)

    .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p 5000
"""

import functools
import json
import sys
import threading

from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_DYNAMODB = threading.Lock()
_call_action = DynamoHandler.call_action


@functools.wraps(_call_action)
def _one_at_a_time(self):
    with _DYNAMODB:
        return _call_action(self)


DynamoHandler.call_action = _one_at_a_time


def _get_authorizers(self):
    api_id = self.path.split("/")[-2]
    api = self.apigatewayv2_backend.get_api(api_id)
    items = [a.to_json() for a in api.authorizers.values()]
    return 200, {}, json.dumps({"items": items})


ApiGatewayV2Response.get_authorizers = _get_authorizers

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
