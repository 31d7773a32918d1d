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

    .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p 5000
"""

import functools
import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_DYNAMODB = threading.Lock()
_call_action = DynamoHandler.call_action


@functools.wraps(_call_action)
def _one_at_a_time(self):
    with _DYNAMODB:
        return _call_action(self)


DynamoHandler.call_action = _one_at_a_time

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
