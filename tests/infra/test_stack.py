"""What the deployed stage will be, read from the synthesized template (issue 7).

Each test reads the one template the session synthesized; none talks to AWS.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.handlers.stream import RECORD_FILTER
from chalicelib.integrations import s3
from chalicelib.services import dispatch
from chalicelib.store import keys
from tests.infra.conftest import PUBLISHABLE_KEY

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
STAGE = "prod"  # the stage the session synthesizes (conftest)
STATE_MACHINES = ROOT / "infra" / "statemachines"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")

# The only actions allowed on Resource "*", each because IAM cannot name a resource for it.
UNSCOPABLE = {
    # DynamoDB Streams: ListStreams has no resource type; Lambda's stream poller calls it.
    "dynamodb:ListStreams",
    # Step Functions logging: CloudWatch Logs' vended-log delivery APIs take only "*"
    # (the policy AWS documents for state machine logging; CDK adds it with `logs=`).
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
# cfn-lint findings that are CDK's own style, not a defect of the stack.
CFN_LINT_IGNORED = {
    # CDK makes a state machine DependsOn its role although RoleArn's GetAtt already does.
    "W3005",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every Allow statement of every identity and resource policy, with where it lives."""
    found = []
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        documents = [properties.get("PolicyDocument")]
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in properties.get("Policies", [])]
        for document in filter(None, documents):
            for statement in document["Statement"]:
                if statement.get("Effect") == "Allow":
                    found.append((logical_id, statement))
    return found


def _ref_id(value: Any) -> str | None:
    """The logical id a Ref or GetAtt points at."""
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    return None


# --- the table ------------------------------------------------------------------------------


def test_table_keys_and_indexes_are_the_key_schema_modules(synthesized):
    # Given the key-schema module the code and the tests build the table from
    schema = keys.TABLE_SCHEMA

    # When the stack is synthesized
    (table,) = synthesized.resources("AWS::DynamoDB::Table").values()
    properties = table["Properties"]

    # Then the deployed table has exactly those keys, attributes and indexes
    assert properties["KeySchema"] == schema["KeySchema"]
    assert sorted(properties["AttributeDefinitions"], key=str) == sorted(
        schema["AttributeDefinitions"], key=str
    )
    assert properties["GlobalSecondaryIndexes"] == schema["GlobalSecondaryIndexes"]
    assert properties["BillingMode"] == schema["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TableName"] == f"fieldline-{STAGE}"


def test_table_survives_mistakes_and_streams_new_images(synthesized, template):
    (table,) = synthesized.resources("AWS::DynamoDB::Table").values()

    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "DeletionProtectionEnabled": True,
            "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
            "TimeToLiveSpecification": {"AttributeName": keys.TTL_ATTRIBUTE, "Enabled": True},
        },
    )
    # A stack deleted by mistake leaves the data behind
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


# --- asynchronous consumers -----------------------------------------------------------------


def test_every_asynchronous_consumer_has_a_dead_letter_queue(synthesized, app_declarations):
    functions = synthesized.resources("AWS::Serverless::Function")
    queues = synthesized.resources("AWS::SQS::Queue")

    # Every event source the app declares is wired in the template
    declared = {tuple(source) for source in app_declarations["event_sources"]}
    assert declared, "the app declares no event source: nothing here would be checked"
    rule_targets = {
        _ref_id(target["Arn"]): target
        for rule in synthesized.resources("AWS::Events::Rule").values()
        for target in rule["Properties"]["Targets"]
    }
    for logical_id, kind in declared:
        events = functions[logical_id]["Properties"].get("Events", {})
        if kind == "DynamoDBEventConfig":
            (source,) = [e["Properties"] for e in events.values() if e["Type"] == "DynamoDB"]
            destination = source["DestinationConfig"]["OnFailure"]["Destination"]
            assert _ref_id(destination) in queues
            assert source["MaximumRetryAttempts"] <= 10
        elif kind == "SQSEventConfig":
            (source,) = [e["Properties"] for e in events.values() if e["Type"] == "SQS"]
            consumed = queues[_ref_id(source["Queue"])]["Properties"]
            assert _ref_id(consumed["RedrivePolicy"]["deadLetterTargetArn"]) in queues
        else:  # a schedule or an event rule invokes it asynchronously
            assert logical_id in rule_targets, f"{logical_id} has no rule"
            assert _ref_id(functions[logical_id]["Properties"]["DeadLetterQueue"]["TargetArn"])

    # And nothing asynchronous exists without one
    for rule_id, rule in synthesized.resources("AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            assert _ref_id(target["DeadLetterConfig"]["Arn"]) in queues, rule_id
    for logical_id, function in functions.items():
        for name, event in function["Properties"].get("Events", {}).items():
            assert event["Type"] in ("DynamoDB", "SQS"), f"{logical_id}.{name}: {event['Type']}"
    assert not synthesized.resources("AWS::Lambda::EventSourceMapping")


def test_stream_handler_reads_the_tables_stream_and_reports_partial_failures(synthesized):
    functions = synthesized.resources("AWS::Serverless::Function")
    streams = [
        event["Properties"]
        for function in functions.values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "DynamoDB"
    ]

    # The app's placeholder stream ARN is gone: the handler reads this stack's table
    assert streams
    for source in streams:
        assert source["Stream"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        # Only new timeline events invoke it (the filter the local stage's poller applies)
        (only,) = source["FilterCriteria"]["Filters"]
        assert json.loads(only["Pattern"]) == RECORD_FILTER
    queue_sources = [
        event["Properties"]
        for function in functions.values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]
    for source in queue_sources:
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_workflow_rule_routes_the_consumers_events_from_the_apps_bus(synthesized):
    bus_id = next(iter(synthesized.resources("AWS::Events::EventBus")))
    rules = synthesized.resources("AWS::Events::Rule")
    queues = synthesized.resources("AWS::SQS::Queue")
    workflow_queue = next(
        lid
        for lid, q in queues.items()
        if q["Properties"].get("QueueName") == f"fieldline-{STAGE}-workflow-events"
    )

    (rule,) = [
        r
        for r in rules.values()
        if any(_ref_id(t["Arn"]) == workflow_queue for t in r["Properties"]["Targets"])
    ]

    assert _ref_id(rule["Properties"]["EventBusName"]) == bus_id
    assert rule["Properties"]["EventPattern"]["source"] == ["fieldline"]
    assert "VisitScheduled" in rule["Properties"]["EventPattern"]["detail-type"]
    # SQS gives Lambda the message for as long as its consumers may run, and more
    timeout = max(
        f["Properties"]["Timeout"]
        for f in synthesized.resources("AWS::Serverless::Function").values()
        if any(e["Type"] == "SQS" for e in f["Properties"].get("Events", {}).values())
    )
    assert queues[workflow_queue]["Properties"]["VisibilityTimeout"] >= timeout


# --- state machines -------------------------------------------------------------------------


def _rendered(definition: str, substitutions: dict[str, str]) -> Any:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        assert name in substitutions, f"${{{name}}} has no substitution"
        return substitutions[name]

    return json.loads(PLACEHOLDER.sub(replace, definition))


def test_every_state_machine_is_its_asl_file_after_substitution(synthesized, app_declarations):
    machines = {
        m["Properties"]["StateMachineName"]: m["Properties"]
        for m in synthesized.resources("AWS::StepFunctions::StateMachine").values()
    }
    files = sorted(STATE_MACHINES.glob("*.asl.json"))
    assert files
    assert sorted(machines) == [f"fieldline-{STAGE}-{f.name[: -len('.asl.json')]}" for f in files]
    functions = synthesized.resources("AWS::Serverless::Function")

    for path in files:
        machine = machines[f"fieldline-{STAGE}-{path.name[: -len('.asl.json')]}"]
        # Given the ASL file with each ${Name} replaced by the function the app maps it to
        expected = _rendered(
            path.read_text(),
            {name: f"arn-of:{fn}" for name, fn in app_declarations["substitutions"].items()},
        )
        # When the template's definition gets the template's substitutions
        substitutions = {}
        for name, value in machine.get("DefinitionSubstitutions", {}).items():
            assert _ref_id(value) in functions and value["Fn::GetAtt"][1] == "Arn", name
            substitutions[name] = f"arn-of:{_ref_id(value)}"
        actual = _rendered(machine["DefinitionString"], substitutions)

        # Then they are the same state machine (nulls such as "ResultPath": null included)
        assert actual == expected, path.name
        assert machine["DefinitionString"] == path.read_text(), "the template holds the file"


def test_every_asl_file_is_valid_states_language():
    from statelint.config import Config
    from statelint.linter import Linter
    from statelint.problem import ProblemType

    for path in sorted(STATE_MACHINES.glob("*.asl.json")):
        arn = "arn:aws:lambda:us-east-1:123456789012:function:fieldline-task"
        definition = PLACEHOLDER.sub(arn, path.read_text())
        # FLOAT: statelint wants "BackoffRate": 2.0; Step Functions takes any JSON number.
        problems = Linter.validate(definition, Config({ProblemType.FLOAT}))
        assert problems == [], f"{path.name}: {problems}"


def test_state_machines_log_errors_without_customer_data(synthesized):
    for machine in synthesized.resources("AWS::StepFunctions::StateMachine").values():
        logging = machine["Properties"]["LoggingConfiguration"]
        assert logging["Level"] == "ERROR"
        assert logging["IncludeExecutionData"] is False


def test_every_log_group_has_a_retention(synthesized):
    groups = synthesized.resources("AWS::Logs::LogGroup")
    names = {g["Properties"]["LogGroupName"] for g in groups.values()}

    assert f"/aws/lambda/fieldline-{STAGE}" in names
    assert all(g["Properties"]["RetentionInDays"] >= 30 for g in groups.values())
    # Every function logs to the stack's group, not to one Lambda makes without a retention
    for function in synthesized.resources("AWS::Serverless::Function").values():
        assert function["Properties"]["LoggingConfig"]["LogGroup"] == {
            "Ref": next(
                lid
                for lid, g in groups.items()
                if g["Properties"]["LogGroupName"] == f"/aws/lambda/fieldline-{STAGE}"
            )
        }


# --- IAM ------------------------------------------------------------------------------------


def test_no_policy_allows_every_action_or_every_resource_it_could_name(synthesized):
    statements = _statements(synthesized.template)
    assert statements

    for where, statement in statements:
        actions = _as_list(statement.get("Action", []))
        assert "*" not in actions, where
        assert not [a for a in actions if isinstance(a, str) and a.endswith(":*")], where
        assert "NotAction" not in statement and "NotResource" not in statement, where
        if "*" in _as_list(statement.get("Resource", [])):
            assert set(actions) <= UNSCOPABLE, f"{where}: {sorted(set(actions) - UNSCOPABLE)}"


def test_functions_run_as_the_stacks_role_and_may_not_scan(synthesized):
    roles = synthesized.resources("AWS::IAM::Role")
    functions = synthesized.resources("AWS::Serverless::Function")
    assert functions

    role_ids = {_ref_id(f["Properties"]["Role"]) for f in functions.values()}
    assert len(role_ids) == 1 and role_ids <= set(roles)
    (role,) = [roles[r] for r in role_ids]
    actions = {
        action
        for policy in role["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in _as_list(statement["Action"])
    }
    assert "dynamodb:Scan" not in actions  # ARCHITECTURE.md: no request reads the whole table
    assert {"events:PutEvents", "states:StartExecution", "secretsmanager:GetSecretValue"} <= actions


def test_functions_read_secrets_only_through_the_secrets_name(synthesized):
    (secret_id, secret) = next(iter(synthesized.resources("AWS::SecretsManager::Secret").items()))
    name = secret["Properties"]["Name"]
    functions = synthesized.resources("AWS::Serverless::Function")

    for function in functions.values():
        variables = function["Properties"]["Environment"]["Variables"]
        # Then the secret is named, never carried
        assert variables["FIELDLINE_SECRETS_NAME"] == name
        for forbidden in (
            "FIELDLINE_LINK_SECRET",
            "FIELDLINE_STRIPE_SECRET_KEY",
            "FIELDLINE_STRIPE_WEBHOOK_SECRET",
            "FIELDLINE_STRIPE_CONNECT_WEBHOOK_SECRET",
            "FIELDLINE_TWILIO_AUTH_TOKEN",
        ):
            assert forbidden not in variables
    grants = [
        s
        for _, s in _statements(synthesized.template)
        if "secretsmanager:GetSecretValue" in _as_list(s["Action"])
    ]
    assert [_ref_id(r) for s in grants for r in _as_list(s["Resource"])] == [secret_id]
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert not re.search(r"sk_live|whsec_|AC[0-9a-f]{32}", json.dumps(config))


def test_the_secret_holds_a_signing_secret_for_each_stripe_webhook_endpoint(synthesized):
    (secret,) = synthesized.resources("AWS::SecretsManager::Secret").values()
    template = json.loads(secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"])
    # The platform's endpoint and the Connect endpoint (tenants' accounts) sign apart
    assert {"stripe_webhook_secret", "stripe_connect_webhook_secret"} <= set(template)
    assert secret["Properties"]["GenerateSecretString"]["GenerateStringKey"] == "link_secret"


# --- users, API, bucket ---------------------------------------------------------------------


def test_the_api_runs_with_snapstart_and_api_gateway_invokes_its_snapshotted_alias(synthesized):
    functions = synthesized.resources("AWS::Serverless::Function")
    api = functions["APIHandler"]["Properties"]
    # A snapshot of the initialized function is taken for each published version
    assert api["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert api["AutoPublishAlias"] == "live"
    # Only the API's function: the others are invoked rarely or for long (and $LATEST)
    assert [i for i, f in functions.items() if "SnapStart" in f["Properties"]] == ["APIHandler"]
    # Every route's integration invokes the alias ($LATEST has no snapshot), as may the gateway
    (rest_api,) = synthesized.resources("AWS::Serverless::Api").values()
    operations = [
        operation["x-amazon-apigateway-integration"]["uri"]
        for methods in rest_api["Properties"]["DefinitionBody"]["paths"].values()
        for operation in methods.values()
    ]
    assert operations and all("${APIHandler.Alias}" in json.dumps(uri) for uri in operations)
    assert "APIHandler.Arn" not in json.dumps(rest_api)
    permission = synthesized.template["Resources"]["APIHandlerInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Fn::Sub": "${APIHandler.Alias}"}
    # SnapStart takes no ephemeral storage above 512 MB (nor EFS, nor provisioned concurrency)
    assert api.get("EphemeralStorage", {"Size": 512})["Size"] <= 512
    assert "FileSystemConfigs" not in api and "ProvisionedConcurrencyConfig" not in api


def test_staff_tokens_carry_a_tenant_and_a_role_that_users_cannot_change(synthesized):
    (pool,) = synthesized.resources("AWS::Cognito::UserPool").values()
    (client,) = synthesized.resources("AWS::Cognito::UserPoolClient").values()

    custom = {a["Name"] for a in pool["Properties"]["Schema"]}
    assert {"tenant_id", "role"} <= custom
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"
    claims = {"custom:tenant_id", "custom:role", "custom:user_id"}
    assert "user_id" in custom and claims <= set(client["Properties"]["ReadAttributes"])
    assert not claims & set(client["Properties"]["WriteAttributes"])
    groups = synthesized.resources("AWS::Cognito::UserPoolGroup").values()
    assert sorted(g["Properties"]["GroupName"] for g in groups) == ["office", "owner", "technician"]


def test_the_app_verifies_tokens_against_the_user_pool(synthesized):
    pool_id = next(iter(synthesized.resources("AWS::Cognito::UserPool")))
    client_id = next(iter(synthesized.resources("AWS::Cognito::UserPoolClient")))

    for function in synthesized.resources("AWS::Serverless::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["FIELDLINE_JWT_ISSUER"] == {"Fn::GetAtt": [pool_id, "ProviderURL"]}
        assert variables["FIELDLINE_JWKS_URL"] == {
            "Fn::Join": ["", [{"Fn::GetAtt": [pool_id, "ProviderURL"]}, "/.well-known/jwks.json"]]
        }
        assert variables["FIELDLINE_JWT_AUDIENCE"] == {"Ref": client_id}
        assert variables["FIELDLINE_USER_POOL_ID"] == {"Ref": pool_id}
        assert variables["FIELDLINE_STAGE"] == STAGE


def test_api_is_throttled_and_serves_no_local_stage_routes(synthesized):
    (api,) = synthesized.resources("AWS::Serverless::Api").values()
    properties = api["Properties"]

    (settings,) = properties["MethodSettings"]
    assert settings["ResourcePath"] == "/*" and settings["HttpMethod"] == "*"
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
    assert properties["Name"] == f"fieldline-{STAGE}"
    paths = properties["DefinitionBody"]["paths"]
    assert "/jobs/{job_id}" in paths
    assert not [p for p in paths if p.startswith("/dev")]


def test_photo_bucket_is_private_encrypted_and_takes_presigned_uploads(template):
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )
    buckets = template.find_resources("AWS::S3::Bucket")
    (bucket,) = buckets.values()
    (rule,) = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
    assert "POST" in rule["AllowedMethods"]
    policies = template.find_resources("AWS::S3::BucketPolicy")
    (policy,) = policies.values()
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }


def test_uploads_nobody_confirms_expire_and_confirmed_photos_do_not(synthesized):
    (bucket,) = synthesized.resources("AWS::S3::Bucket").values()
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = [r for r in rules if "ExpirationInDays" in r]

    # One rule expires objects, only under the prefix uploads land in, a day after
    (rule,) = expiring
    assert rule["Status"] == "Enabled"
    assert rule["Prefix"] == s3.UPLOAD_PREFIX == "pending/"
    assert rule["ExpirationInDays"] == 1
    # Photos are kept outside it (services/photos.py copies a confirmed upload out)
    assert not keys.photo_object("t", "j", "p", "jpg").startswith(rule["Prefix"])


def test_functions_may_remove_oversized_photos(synthesized):
    bucket_id = next(iter(synthesized.resources("AWS::S3::Bucket")))
    allowed = {
        action
        for _, statement in _statements(synthesized.template)
        if any(bucket_id in json.dumps(r) for r in _as_list(statement["Resource"]))
        for action in _as_list(statement["Action"])
    }
    # chalicelib/integrations/s3.py deletes an upload that turns out larger than allowed
    assert {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"} <= allowed


def test_dispatch_gets_road_travel_times_from_the_stacks_route_calculator(synthesized):
    (calculator_id, calculator) = next(
        iter(synthesized.resources("AWS::Location::RouteCalculator").items())
    )
    grants = [
        s
        for _, s in _statements(synthesized.template)
        if "geo:CalculateRouteMatrix" in _as_list(s["Action"])
    ]
    assert [_ref_id(r) for s in grants for r in _as_list(s["Resource"])] == [calculator_id]
    for function in synthesized.resources("AWS::Serverless::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["FIELDLINE_TRAVEL_PROVIDER"] == "amazon_location"
        assert variables["FIELDLINE_ROUTE_CALCULATOR"] == calculator["Properties"]["CalculatorName"]


def test_the_optimizer_solves_in_its_own_invocation_with_time_for_two_passes(synthesized):
    functions = synthesized.resources("AWS::Serverless::Function")
    queues = synthesized.resources("AWS::SQS::Queue")
    name = f"fieldline-{STAGE}-optimize_day"
    (optimizer_id,) = [
        i for i, f in functions.items() if f["Properties"].get("FunctionName") == name
    ]
    optimizer = functions[optimizer_id]["Properties"]

    # Long enough for the passes of the longest time limit and reading the day; the CPU of
    # five searches at once (one vCPU's worth per 1,769 MB)
    passes = dispatch.SOLVE_PASSES * dispatch.MAX_TIME_LIMIT_SECONDS
    assert passes + dispatch.SOLVE_OVERHEAD.total_seconds() <= optimizer["Timeout"] <= 900
    assert optimizer["MemorySize"] // 1769 >= 5
    # A failed solve is recorded, not retried; a lost event lands in a watched queue
    assert optimizer["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    assert _ref_id(optimizer["DeadLetterQueue"]["TargetArn"]) in queues
    # Every function knows it by name, and may invoke that function and no other
    for function in functions.values():
        assert (
            function["Properties"]["Environment"]["Variables"]["FIELDLINE_OPTIMIZER_FUNCTION"]
            == name
        )
    invokers = [
        statement
        for _, statement in _statements(synthesized.template)
        if "lambda:InvokeFunction" in _as_list(statement["Action"])
        and "states.amazonaws.com" not in json.dumps(statement)
    ]
    granted = [json.dumps(r) for s in invokers for r in _as_list(s["Resource"])]
    assert any(f"function:{name}" in r for r in granted)
    # The API's own functions stay within API Gateway's 29 s; the solve is not theirs
    others = [f["Properties"] for i, f in functions.items() if i != optimizer_id]
    assert all(f.get("Timeout", 30) <= 30 for f in others)


def test_pay_pages_load_stripe_js_with_the_publishable_key_from_context(synthesized):
    for function in synthesized.resources("AWS::Serverless::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["FIELDLINE_STRIPE_PUBLISHABLE_KEY"] == PUBLISHABLE_KEY


# --- alarms ---------------------------------------------------------------------------------


def test_alarms_watch_errors_throttles_dead_letters_workflows_and_the_table(synthesized):
    alarms = list(synthesized.resources("AWS::CloudWatch::Alarm").values())
    watched = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms}

    assert ("AWS/ApiGateway", "5XXError") in watched
    for metric in ("Errors", "Throttles"):
        functions_watched = {
            _ref_id(a["Properties"]["Dimensions"][0]["Value"])
            for a in alarms
            if a["Properties"]["MetricName"] == metric
        }
        assert functions_watched == set(synthesized.resources("AWS::Serverless::Function"))
    dead_letter_queues = {
        lid
        for lid, q in synthesized.resources("AWS::SQS::Queue").items()
        if "RedrivePolicy" not in q["Properties"]
    }
    depth_watched = {
        _ref_id(a["Properties"]["Dimensions"][0]["Value"])
        for a in alarms
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    }
    assert depth_watched == dead_letter_queues
    machines_watched = {
        _ref_id(a["Properties"]["Dimensions"][0]["Value"])
        for a in alarms
        if a["Properties"]["MetricName"] == "ExecutionsFailed"
    }
    assert machines_watched == set(synthesized.resources("AWS::StepFunctions::StateMachine"))
    assert ("AWS/DynamoDB", "ReadThrottleEvents") in watched
    assert ("AWS/DynamoDB", "WriteThrottleEvents") in watched
    # Every alarm tells someone
    assert all(a["Properties"]["AlarmActions"] for a in alarms)


# --- linters --------------------------------------------------------------------------------


def test_cfn_lint_passes_on_the_synthesized_template(synthesized):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cfnlint.runner import main; sys.exit(main())",
            "--format",
            "parseable",
            "--ignore-checks",
            *sorted(CFN_LINT_IGNORED),
            "--",
            str(synthesized.template_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
