"""The Chalice app (its REST API and Lambda functions, from `chalice package`), wired to the
stack's resources: event sources each with a dead-letter queue, the optimizer's own limits,
SnapStart on the API function, one IAM role, and API Gateway's throttling and own answers.

Facts this relies on (docs/ARCHITECTURE.md): the Chalice stage is named after the stack, so the
stage block of `.chalice/config.json` is passed as `stage_config`; `chalice package` imports
app.py in this process, so the environment the app reads at import is set before it runs
(packaging.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.handlers.stream import RECORD_FILTER
from infra.parts.base import (
    ROOT,
    Names,
    Part,
    StackError,
    StageOptions,
    dead_letter_queue,
    event_pattern,
)
from infra.parts.data import Data
from infra.parts.messaging import Messaging
from infra.parts.packaging import (
    app_import_environment,
    chalice_workdir,
    lambda_bundle,
    sources_without_dependencies,
)
from infra.parts.workflows import Workflows

# every function with the role it builds (a test checks none is left).
ROLE_PLACEHOLDER = "arn:aws:iam::000000000000:role/replaced-by-the-fieldline-stack"
# Actions IAM cannot scope to a resource; the only ones the stack allows on "*".
UNSCOPABLE_ACTIONS = ("dynamodb:ListStreams",)
# SAM event types that invoke a function asynchronously through an EventBridge rule.
RULE_EVENTS = ("Schedule", "CloudWatchEvent", "EventBridgeRule")
# The dispatch optimizer's own function (chalicelib/handlers/optimizer.py): 2.5 passes of the
# longest time limit (300 s: the priority fallback, a shorter re-solve on road times), reading
# the day and asking for travel times fit in Lambda's longest timeout. Memory buys CPU (one
# vCPU's worth per 1,769 MB): at 10,240 MB a 1,000-visit day is searched from 5 seeds at once,
# one process each (~150 MB each; docs/ROUTING_BENCH.md).
OPTIMIZER_TIMEOUT_SECONDS = 900
OPTIMIZER_MEMORY_MB = 10_240
# The API function runs with Lambda SnapStart: a snapshot of its initialized environment (the
# route modules imported by chalicelib/snapstart.py's before-snapshot hook) is taken when a
# version is published, and restored instead of a cold init. Only a published version has a
# snapshot, so API Gateway invokes this alias (SAM publishes a version on every code change).
API_FUNCTION = "APIHandler"
API_ALIAS = "live"


class Api(Part):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        options: StageOptions,
        config: dict[str, Any],
        data: Data,
        messaging: Messaging,
        workflows: Workflows,
        function_logs: logs.LogGroup,
        bundle_dependencies: bool,
    ):
        super().__init__(scope, construct_id)
        self.names = names
        self.options = options
        self.config = config
        self.data = data
        self.messaging = messaging
        self.workflows = workflows
        self.function_logs = function_logs
        self.stream_dlq = dead_letter_queue(self, "StreamDeadLetters")
        # Every DLQ a Lambda function itself sends to (stream on-failure, async invokes).
        self.function_dlqs: list[sqs.Queue] = [self.stream_dlq]

        self.app, sam_template = self._chalice_app(bundle_dependencies)
        self.functions = self._wire_functions(sam_template)
        self._wire_optimizer()
        self._snap_start_api(sam_template)
        self.role = self._function_role()
        for logical_id in self.functions:
            self.app.get_resource(logical_id).add_property_override("Role", self.role.role_arn)
        self._api_limits()
        self._gateway_responses()

    def function_name(self, logical_id: str) -> str:
        return self.app.get_resource(logical_id).ref

    def _environment(self) -> dict[str, str]:
        """What every function reads (chalicelib/config.py); secrets only by the secret's name."""
        env = dict(self.config.get("environment_variables", {}))
        issuer = self.data.user_pool.user_pool_provider_url
        env.update(
            {
                "FIELDLINE_STAGE": self.names.stage,
                "FIELDLINE_TABLE": self.data.table.ref,
                "FIELDLINE_EVENT_BUS": self.messaging.bus.event_bus_name,
                "FIELDLINE_WORKFLOW_QUEUE": self.names.workflow_queue,
                "FIELDLINE_OUTBOUND_EVENTS_QUEUE": self.names.outbound_events_queue,
                "FIELDLINE_DELIVERIES_QUEUE": self.names.deliveries_queue,
                "FIELDLINE_TABLE_STREAM_ARN": self.data.table.attr_stream_arn,
                "FIELDLINE_SECRETS_NAME": self.names.secret,
                "FIELDLINE_PHOTOS_BUCKET": self.data.photos.bucket_name,
                "FIELDLINE_SMS_PROVIDER": "twilio",
                # The app verifies Cognito's ID tokens itself (ARCHITECTURE.md: Who may do what).
                "FIELDLINE_JWKS_URL": f"{issuer}/.well-known/jwks.json",
                "FIELDLINE_JWT_ISSUER": issuer,
                "FIELDLINE_JWT_AUDIENCE": self.data.user_pool_client.user_pool_client_id,
                # Accepted invitations become logins here (services/team.py).
                "FIELDLINE_USER_POOL_ID": self.data.user_pool.user_pool_id,
            }
        )
        if self.options.public_base_url:
            env["FIELDLINE_PUBLIC_BASE_URL"] = self.options.public_base_url.rstrip("/")
        if self.options.twilio_account_sid:
            env["FIELDLINE_TWILIO_ACCOUNT_SID"] = self.options.twilio_account_sid
        if self.options.stripe_publishable_key:
            env["FIELDLINE_STRIPE_PUBLISHABLE_KEY"] = self.options.stripe_publishable_key
        env["FIELDLINE_TRAVEL_PROVIDER"] = self.options.travel_provider
        if self.options.application_fee_bps:
            from chalicelib.domain.tenants import MAX_APPLICATION_FEE_BPS

            if not 0 < self.options.application_fee_bps <= MAX_APPLICATION_FEE_BPS:
                raise StackError(f"application_fee_bps must be 0-{MAX_APPLICATION_FEE_BPS}")
            env["FIELDLINE_APPLICATION_FEE_BPS"] = str(self.options.application_fee_bps)
        if self.data.route_calculator is not None:
            env["FIELDLINE_ROUTE_CALCULATOR"] = self.names.route_calculator
        env["FIELDLINE_OPTIMIZER_FUNCTION"] = self.names.optimizer_function
        env["FIELDLINE_SCHEDULE_GROUP"] = self.workflows.schedule_group.ref
        env["FIELDLINE_SCHEDULER_ROLE_ARN"] = self.workflows.scheduler_role.role_arn
        env["FIELDLINE_SCHEDULER_DLQ_ARN"] = self.workflows.schedule_dlq.queue_arn
        for workflow in self.workflows.files:
            # Built from the name, not the resource: the task functions the state machine calls
            # read it too, and a reference would be a dependency cycle.
            arn = self.workflows.state_machine_arn(workflow)
            env[f"FIELDLINE_{workflow.upper()}_STATE_MACHINE_ARN"] = arn
        return env

    def _chalice_app(self, bundle_dependencies: bool):
        from chalice.cdk import Chalice

        stage_config = {
            **{k: v for k, v in self.config.items() if k != "environment_variables"},
            "environment_variables": self._environment(),
            "autogen_policy": False,
            "manage_iam_role": False,
            "iam_role_arn": ROLE_PLACEHOLDER,
            "xray": False,
        }
        # In the stack itself: Chalice names its stage after its scope (the stack's name).
        stack = Stack.of(self)
        with app_import_environment(self.names), chalice_workdir():
            if bundle_dependencies:
                with lambda_bundle():
                    api = Chalice(stack, "Api", source_dir=str(ROOT), stage_config=stage_config)
            else:
                with sources_without_dependencies() as source_dir:
                    api = Chalice(stack, "Api", source_dir=source_dir, stage_config=stage_config)
            # What `chalice package` made, read before its temporary folder goes.
            sam_template = json.loads((Path(api._sam_package_dir) / "sam.json").read_text())
        return api, sam_template

    def _wire_functions(self, sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Point every function's event sources at this stack's resources, each with a DLQ.

        An event source the stack does not know how to give a dead-letter queue stops the
        synth: no asynchronous consumer ships without one.
        """
        functions = {
            logical_id: resource
            for logical_id, resource in sam["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"
        }
        for logical_id, resource in functions.items():
            function = self.app.get_resource(logical_id)
            function.add_property_override(
                "LoggingConfig", {"LogGroup": self.function_logs.log_group_name}
            )
            async_dlq = None
            for name, source in resource["Properties"].get("Events", {}).items():
                path = f"Events.{name}.Properties"
                kind = source["Type"]
                if kind == "DynamoDB":
                    self._wire_stream(function, path)
                elif kind == "SQS":
                    self._wire_queue(function, path, source["Properties"]["Queue"])
                elif kind in RULE_EVENTS:
                    async_dlq = async_dlq or dead_letter_queue(self, f"{logical_id}DeadLetters")
                    self._rule_for(logical_id, function, name, source, async_dlq)
                else:
                    raise StackError(f"{logical_id}: no dead-letter wiring for {kind} events")
            if async_dlq is not None:
                # An invoke that failed after Lambda's own retries lands here too.
                function.add_property_override(
                    "DeadLetterQueue", {"Type": "SQS", "TargetArn": async_dlq.queue_arn}
                )
                self.function_dlqs.append(async_dlq)
        return functions

    def _wire_optimizer(self) -> None:
        """The optimizer runs in its own invocation, invoked asynchronously by the API.

        A failed solve is recorded on its proposal, so Lambda does not retry it; an event the
        function could not take (a timeout, a crash, too old to be useful) goes to a
        dead-letter queue, whose depth alarms like every other's.
        """
        from chalice.utils import to_cfn_resource_name

        from chalicelib.handlers.optimizer import FUNCTIONS

        (name,) = FUNCTIONS
        logical_id = to_cfn_resource_name(name)
        if logical_id not in self.functions:
            raise StackError(f"the app has no {name} function (app.py)")
        function = self.app.get_resource(logical_id)
        dlq = dead_letter_queue(self, "OptimizerDeadLetters")
        self.function_dlqs.append(dlq)
        function.add_property_override("FunctionName", self.names.optimizer_function)
        function.add_property_override("Timeout", OPTIMIZER_TIMEOUT_SECONDS)
        function.add_property_override("MemorySize", OPTIMIZER_MEMORY_MB)
        function.add_property_override(
            "EventInvokeConfig",
            {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": OPTIMIZER_TIMEOUT_SECONDS},
        )
        function.add_property_override(
            "DeadLetterQueue", {"Type": "SQS", "TargetArn": dlq.queue_arn}
        )

    def _snap_start_api(self, sam: dict[str, Any]) -> None:
        """SnapStart on the API function, and API Gateway invoking its alias.

        Every route's integration and the gateway's invoke permission name the alias instead of
        the function (`$LATEST` is never snapshotted); the paths are replaced whole, since
        their names hold dots an override path cannot.
        """
        if API_FUNCTION not in self.functions:
            raise StackError(f"the app has no {API_FUNCTION} (its REST API)")
        function = self.app.get_resource(API_FUNCTION)
        function.add_property_override("AutoPublishAlias", API_ALIAS)
        function.add_property_override("SnapStart", {"ApplyOn": "PublishedVersions"})
        paths = sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
        latest = f"${{{API_FUNCTION}.Arn}}"
        if latest not in json.dumps(paths):
            raise StackError(f"the REST API's integrations do not name {latest}")
        aliased = json.loads(json.dumps(paths).replace(latest, f"${{{API_FUNCTION}.Alias}}"))
        rest_api = self.app.get_resource("RestAPI")
        rest_api.add_property_override("DefinitionBody.paths", aliased)
        permission = self.app.get_resource(f"{API_FUNCTION}InvokePermission")
        permission.add_property_override("FunctionName", {"Fn::Sub": f"${{{API_FUNCTION}.Alias}}"})
        # `<Function>.Alias` is SAM's reference to the alias AutoPublishAlias makes (the
        # transform resolves it); cfn-lint checks SAM templates untransformed and knows only
        # the function's own attributes, so that one check is off on these two resources.
        for resource in (rest_api, permission):
            resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E1019"]}})

    def _optimizer_arn(self) -> str:
        return Stack.of(self).format_arn(
            service="lambda",
            resource="function",
            resource_name=self.names.optimizer_function,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _wire_stream(self, function: cdk.CfnResource, path: str) -> None:
        # The app names a placeholder stream at import; this is the table's.
        function.add_property_override(f"{path}.Stream", self.data.table.attr_stream_arn)
        function.add_property_override(f"{path}.FunctionResponseTypes", ["ReportBatchItemFailures"])
        function.add_property_override(f"{path}.MaximumRetryAttempts", 10)
        function.add_property_override(
            f"{path}.FilterCriteria", {"Filters": [{"Pattern": json.dumps(RECORD_FILTER)}]}
        )
        function.add_property_override(
            f"{path}.DestinationConfig",
            {"OnFailure": {"Type": "SQS", "Destination": self.stream_dlq.queue_arn}},
        )

    def _wire_queue(self, function: cdk.CfnResource, path: str, queue: Any) -> None:
        names = (
            self.names.workflow_queue,
            self.names.outbound_events_queue,
            self.names.deliveries_queue,
        )
        fed = [self.messaging.queue_named(name) for name in names if name in json.dumps(queue)]
        if len(fed) != 1:
            raise StackError(f"{queue}: the stack only feeds {', '.join(names)}")
        # The queue's redrive policy is this consumer's dead-letter queue.
        function.add_property_override(f"{path}.Queue", fed[0].queue_arn)
        function.add_property_override(f"{path}.FunctionResponseTypes", ["ReportBatchItemFailures"])

    def _rule_for(self, logical_id: str, function, event: str, source, dlq: sqs.Queue) -> None:
        """The rule of a Chalice schedule or event handler, made here so its target has a DLQ.

        (SAM's own DeadLetterConfig on these events fails CDK's template validation when the
        queue's ARN is a reference, and Chalice's on_cw_event knows only the default bus.)
        """
        function.add_property_deletion_override(f"Events.{event}")
        properties = source["Properties"]
        if source["Type"] == "Schedule":
            rule = events.Rule(
                self,
                f"{event}Rule",
                schedule=events.Schedule.expression(properties["Schedule"]),
                description=f"{logical_id}: {properties['Schedule']}",
            )
        else:
            pattern = properties.get("Pattern", {})
            own_events = "fieldline" in pattern.get("source", [])
            rule = events.Rule(
                self,
                f"{event}Rule",
                event_bus=self.messaging.bus if own_events else None,
                event_pattern=event_pattern(pattern),
                description=f"{logical_id}: its event pattern",
            )
        # In the stack itself: the target's path is in the logical id of the rule's permission.
        target = lambda_.Function.from_function_attributes(
            Stack.of(self),
            f"{logical_id}Target",
            function_arn=function.get_att("Arn").to_string(),
            same_environment=True,
        )
        rule.add_target(
            targets.LambdaFunction(
                target,
                dead_letter_queue=dlq,
                retry_attempts=10,
                max_event_age=Duration.hours(1),
            )
        )

    def _function_role(self) -> iam.Role:
        """One role for the app's functions; every statement names its resources.

        Inline, so nothing (an event source mapping checking stream access, say) can see the
        role before its permissions.
        """
        table_arn = self.data.table.attr_arn
        statements = [
            iam.PolicyStatement(
                sid="Table",
                # No Scan: no request path may read the whole table (ARCHITECTURE.md).
                actions=[
                    "dynamodb:BatchGetItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:ConditionCheckItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:DescribeTable",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:Query",
                    "dynamodb:UpdateItem",
                ],
                resources=[table_arn, f"{table_arn}/index/*"],
            ),
            iam.PolicyStatement(
                sid="TableStream",
                actions=[
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                ],
                resources=[self.data.table.attr_stream_arn],
            ),
            iam.PolicyStatement(
                sid="ListStreams",
                # ListStreams has no resource type in IAM: "*" is the only resource it takes.
                actions=list(UNSCOPABLE_ACTIONS),
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="TeamLogins",
                # Invitations accepted, roles changed, users deactivated (integrations/cognito.py).
                actions=[
                    "cognito-idp:AdminAddUserToGroup",
                    "cognito-idp:AdminCreateUser",
                    "cognito-idp:AdminDisableUser",
                    "cognito-idp:AdminRemoveUserFromGroup",
                    "cognito-idp:AdminUpdateUserAttributes",
                    "cognito-idp:AdminUserGlobalSignOut",
                ],
                resources=[self.data.user_pool.user_pool_arn],
            ),
            iam.PolicyStatement(
                sid="Bus",
                actions=["events:PutEvents"],
                resources=[self.messaging.bus.event_bus_arn],
            ),
            iam.PolicyStatement(
                sid="StartWorkflows",
                actions=["states:StartExecution"],
                resources=[self.workflows.state_machine_arn(w) for w in self.workflows.files],
            ),
            iam.PolicyStatement(
                sid="StopWorkflows",
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[self.workflows.execution_arns(w) for w in self.workflows.files],
            ),
            iam.PolicyStatement(
                sid="DeferWorkflows",
                # A one-time schedule per deferred execution, in the stack's group only.
                actions=["scheduler:CreateSchedule"],
                resources=[
                    Stack.of(self).format_arn(
                        service="scheduler",
                        resource="schedule",
                        resource_name=f"{self.names.schedule_group}/*",
                    )
                ],
            ),
            iam.PolicyStatement(
                sid="PassSchedulerRole",
                actions=["iam:PassRole"],
                resources=[self.workflows.scheduler_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                sid="StartOptimizer",
                actions=["lambda:InvokeFunction"],
                resources=[self._optimizer_arn()],
            ),
            iam.PolicyStatement(
                sid="Secrets",
                actions=["secretsmanager:GetSecretValue"],
                resources=[self.data.secret.secret_arn],
            ),
            iam.PolicyStatement(
                sid="Photos",
                # Get and Put: a confirmed upload is copied out of the expiring prefix; Delete:
                # the upload then, or one over the size limit when it is confirmed.
                actions=["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                resources=[self.data.photos.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="ConsumeWorkflowQueue",
                actions=[
                    "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:ReceiveMessage",
                ],
                resources=[queue.queue_arn for queue in self.messaging.work_queues],
            ),
            iam.PolicyStatement(
                # Outbound webhooks: the fan-out and the replay route put deliveries' messages.
                sid="SendDeliveries",
                actions=["sqs:GetQueueUrl", "sqs:SendMessage"],
                resources=[self.messaging.deliveries_queue.queue_arn],
            ),
            iam.PolicyStatement(
                sid="DeadLetters",
                actions=["sqs:SendMessage"],
                resources=[dlq.queue_arn for dlq in self.function_dlqs],
            ),
            iam.PolicyStatement(
                sid="Logs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.function_logs.log_group_arn],
            ),
        ]
        if self.data.route_calculator is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="TravelTimes",
                    # Describe: its data provider says how many positions one call may carry.
                    actions=["geo:CalculateRouteMatrix", "geo:DescribeRouteCalculator"],
                    resources=[self.data.route_calculator.attr_calculator_arn],
                )
            )
        return iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Fieldline's Lambda functions",
            inline_policies={"fieldline": iam.PolicyDocument(statements=statements)},
        )

    # --- workflows ----------------------------------------------------------------------------

    def _api_limits(self) -> None:
        """Throttling per stage; body size is the app's (256 KiB → 413), see DEPLOY.md."""
        rest_api = self.app.get_resource("RestAPI")
        # A name per stage keeps each stage's API Gateway metrics apart (they key on ApiName).
        rest_api.add_property_override("Name", self.names.prefix)
        rest_api.add_property_override("DefinitionBody.info.title", self.names.prefix)
        rest_api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": self.options.throttle_rate_limit,
                    "ThrottlingBurstLimit": self.options.throttle_burst_limit,
                }
            ],
        )

    def _gateway_responses(self) -> None:
        """What API Gateway answers itself (throttled, too large, timed out, or a path no
        resource has) in the API's error body, readable by the stage's browser origins.

        Routing gives the app every path and method a route does not declare (the
        `/{proxy+}` catch-all takes them, each path's OPTIONS too: chalicelib/api/routing.py),
        so 404, 405 and CORS preflights are the app's; these cover what never reaches it.
        """
        rest_api = self.app.get_resource("RestAPI")
        rest_api.add_property_override(
            "DefinitionBody.x-amazon-apigateway-gateway-responses",
            gateway_responses(self.config.get("environment_variables", {})),
        )


# API Gateway's own answers: its response type -> (status, our code); None keeps its status.
GATEWAY_ANSWERS = {
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found"),
    "THROTTLED": ("429", "too_many_requests"),
    "QUOTA_EXCEEDED": ("429", "too_many_requests"),
    "REQUEST_TOO_LARGE": ("413", "payload_too_large"),
    "UNSUPPORTED_MEDIA_TYPE": ("415", "unsupported_media_type"),
    "INTEGRATION_TIMEOUT": ("504", "gateway_timeout"),
    "DEFAULT_4XX": (None, "bad_request"),
    "DEFAULT_5XX": (None, "internal_error"),
}


def gateway_responses(environment: dict[str, str]) -> dict[str, Any]:
    """x-amazon-apigateway-gateway-responses: each in the API's error body, with Retry-After
    on a 429 and CORS headers for the stage's origins (one origin named, or any: these bodies
    say nothing but what went wrong)."""
    from chalicelib.api import cors
    from chalicelib.api.http import RETRY_AFTER_SECONDS

    origins = [o for o in environment.get("FIELDLINE_CORS_ORIGINS", "").split(",") if o]
    headers = {}
    if origins:
        exact = len(origins) == 1 and "*" not in origins[0]
        headers = {
            "Access-Control-Allow-Origin": origins[0] if exact else "*",
            "Access-Control-Expose-Headers": ", ".join(cors.EXPOSE_HEADERS),
        }
    answers = {}
    for response_type, (status, code) in GATEWAY_ANSWERS.items():
        body = '{"error": {"code": "%s", "message": $context.error.messageString, "details": []}}'
        answer: dict[str, Any] = {"responseTemplates": {"application/json": body % code}}
        if status is not None:
            answer["statusCode"] = status
        sent = {**headers, **({"Retry-After": str(RETRY_AFTER_SECONDS)} if status == "429" else {})}
        if sent:
            answer["responseParameters"] = {
                f"gatewayresponse.header.{name}": f"'{value}'" for name, value in sent.items()
            }
        answers[response_type] = answer
    return answers
