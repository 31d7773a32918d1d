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

Two Lambda behaviours a rollout (`rollout:`) depends on are made AWS's:

- Version numbers are never reused. "Lambda doesn't reuse version numbers"
  (https://docs.aws.amazon.com/lambda/latest/dg/configuration-versions.html);
  moto numbers a new version len(versions) + 1, so after an old version is
  deleted it publishes a number that already exists.
- An alias has its own resource-based policy. "You can grant permissions to
  ... an alias" and a permission added with `Qualifier` applies to that alias
  only (https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html,
  AddPermission `Qualifier`); moto puts it on the version the alias points
  at (so it vanishes when the alias moves) and RemovePermission ignores the
  qualifier.
- An alias has its own function URL ("You can create a function URL for a
  function alias or for $LATEST",
  https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html); moto
  ignores `Qualifier` on the URL calls and keeps one URL per function.
- An event source mapping on an alias invokes the alias and reports its ARN as
  FunctionArn (CreateEventSourceMapping `FunctionName`: "Version or Alias
  ARN"); moto records the version the alias pointed at then.

    .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p 5000
"""

import functools
import json
import sys
import threading

from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.awslambda import models as lambda_models
from moto.awslambda.policy import Policy
from moto.awslambda.responses import LambdaResponse
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

_publish_version = lambda_models.LambdaStorage.publish_version


def _publish_never_reusing(self, name_or_arn, description=""):
    function = self.get_function_by_name_or_arn_forbid_qualifier(name_or_arn)
    before = list(self._functions.get(function.function_name, {}).get("versions", []))
    fn = _publish_version(self, name_or_arn, description)
    if fn is None or not before or any(fn is v for v in before):
        return fn
    number = max(int(v.version) for v in before) + 1
    if int(fn.version) != number:
        # moto filed it under an existing version's ARN: give that back.
        for v in before:
            if v.function_arn == fn.function_arn:
                self._arns[v.function_arn] = v
        fn.set_version(number)
        self._arns[fn.function_arn] = fn
    return fn


lambda_models.LambdaStorage.publish_version = _publish_never_reusing


def _alias_of(backend, function_name, qualifier):
    """The alias a qualifier names (not a version number, not $LATEST)."""
    if not qualifier or qualifier == "$LATEST" or qualifier.isdigit():
        return None
    name = function_name.split(":")[-1] if function_name.startswith("arn:") else function_name
    alias = backend.get_alias(qualifier, name)
    if not hasattr(alias, "claw_policy"):
        fn = backend.get_function(name)
        alias.claw_policy = Policy(fn)
    return alias


_add_permission = lambda_models.LambdaBackend.add_permission
_get_policy = lambda_models.LambdaBackend.get_policy


def _add_permission_per_alias(self, function_name, qualifier, raw):
    alias = _alias_of(self, function_name, qualifier)
    if alias is None:
        return _add_permission(self, function_name, qualifier, raw)
    statement, _ = alias.claw_policy.add_statement(raw, qualifier)
    return statement


def _get_policy_per_alias(self, function_name, qualifier=None):
    alias = _alias_of(self, function_name, qualifier)
    if alias is None:
        return _get_policy(self, function_name, qualifier)
    return alias.claw_policy.wire_format()


def _remove_permission_per_alias(self):
    function_name = self.path.split("/")[-3]
    sid = self.path.split("/")[-1].split("?")[0]
    qualifier = self.querystring.get("Qualifier", [None])[0]
    alias = _alias_of(self.backend, function_name, qualifier)
    if alias is None:
        return _remove_permission(self)
    alias.claw_policy.del_statement(sid, "")
    return 204, {"status": 204}, "{}"


_remove_permission = LambdaResponse.remove_permission


def _url_call(original, status):
    @functools.wraps(original)
    def call(self):
        qualifier = self.querystring.get("Qualifier", [None])[0]
        function_name = self.path.split("/")[-2]
        alias = _alias_of(self.backend, function_name, qualifier)
        if alias is None:
            return original(self)
        current = getattr(alias, "claw_url", None)
        missing = (
            404,
            {"status": 404, "x-amzn-errortype": "ResourceNotFoundException"},
            json.dumps({"Type": "User", "Message": "The resource you requested does not exist."}),
        )
        if self.method == "POST":
            fn = self.backend.get_function(function_name)
            alias.claw_url = lambda_models.FunctionUrlConfig(function=fn, config=self.json_body)
        elif current is None:
            return missing
        elif self.method == "PUT":
            current.update(self.json_body)
        elif self.method == "DELETE":
            alias.claw_url = None
            return 204, {"status": 204}, "{}"
        body = alias.claw_url.to_dict()
        body["FunctionArn"] = f"{alias.claw_url.function.function_arn}:{qualifier}"
        return status, {"status": status}, json.dumps(body)

    return call


LambdaResponse.create_function_url_config = _url_call(
    LambdaResponse.create_function_url_config, 201
)
LambdaResponse.get_function_url_config = _url_call(LambdaResponse.get_function_url_config, 200)
LambdaResponse.update_function_url_config = _url_call(
    LambdaResponse.update_function_url_config, 200
)
LambdaResponse.delete_function_url_config = _url_call(
    LambdaResponse.delete_function_url_config, 204
)

_create_esm = lambda_models.LambdaBackend.create_event_source_mapping
_update_esm = lambda_models.LambdaBackend.update_event_source_mapping


def _alias_arn(backend, name_or_arn):
    """The alias ARN a FunctionName names, when it names an alias."""
    parts = name_or_arn.split(":")
    name, qualifier = (parts[6], parts[7] if len(parts) > 7 else None) if name_or_arn.startswith("arn:") else (parts[0], parts[1] if len(parts) > 1 else None)
    if _alias_of(backend, name, qualifier) is None:
        return None
    return f"{backend.get_function(name).function_arn}:{qualifier}"


def _create_esm_on_alias(self, spec):
    alias = _alias_arn(self, spec.get("FunctionName", ""))
    esm = _create_esm(self, spec)
    if alias:
        esm.function_arn = alias
    return esm


def _update_esm_on_alias(self, uuid, spec):
    esm = _update_esm(self, uuid, spec)
    alias = _alias_arn(self, spec.get("FunctionName", "")) if spec.get("FunctionName") else None
    if esm is not None and alias:
        esm.function_arn = alias
    return esm


lambda_models.LambdaBackend.create_event_source_mapping = _create_esm_on_alias
lambda_models.LambdaBackend.update_event_source_mapping = _update_esm_on_alias
lambda_models.LambdaBackend.add_permission = _add_permission_per_alias
lambda_models.LambdaBackend.get_policy = _get_policy_per_alias
LambdaResponse.remove_permission = _remove_permission_per_alias

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
