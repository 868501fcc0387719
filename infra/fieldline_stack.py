"""The Fieldline stack: everything one stage of Fieldline needs in an AWS account.

The Lambda functions and the REST API come from the Chalice app itself (Chalice's CDK construct
runs `chalice package` and includes its SAM template); this stack builds what they run against
and wires the functions to it: the table (from the same key-schema module the code uses), the
event bus and its rules, queues with a dead-letter queue behind every asynchronous consumer, the
state machines from `infra/statemachines/*.asl.json`, Cognito, the photo bucket, the secret,
alarms, and one IAM role whose statements name every resource they allow.

Facts this relies on (DESIGN §7): the Chalice stage is named after the stack, so the stage
block of `.chalice/config.json` is passed as `stage_config`; `chalice package` imports app.py in
this process, so the environment the app reads at import is set before it runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import (
    ArnFormat,
    Duration,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_location as location
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from chalicelib.handlers.stream import RECORD_FILTER
from chalicelib.store import keys

ROOT = Path(__file__).resolve().parents[1]
STATE_MACHINES = ROOT / "infra" / "statemachines"
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# Chalice wants an IAM role ARN when it does not manage the role; the stack replaces it on
# every function with the role it builds (a test checks none is left).
ROLE_PLACEHOLDER = "arn:aws:iam::000000000000:role/replaced-by-the-fieldline-stack"
# Actions IAM cannot scope to a resource; the only ones the stack allows on "*".
UNSCOPABLE_ACTIONS = ("dynamodb:ListStreams",)
# SAM event types that invoke a function asynchronously through an EventBridge rule.
RULE_EVENTS = ("Schedule", "CloudWatchEvent", "EventBridgeRule")
# The dispatch optimizer's own function (chalicelib/handlers/optimizer.py): two passes of the
# longest time limit (300 s) and reading the day fit in Lambda's longest timeout, on one full
# vCPU (PyVRP solves on one core; Lambda gives a vCPU per 1,769 MB).
OPTIMIZER_TIMEOUT_SECONDS = 900
OPTIMIZER_MEMORY_MB = 1769
# The API function runs with Lambda SnapStart: a snapshot of its initialized environment (the
# route modules imported by chalicelib/snapstart.py's before-snapshot hook) is taken when a
# version is published, and restored instead of a cold init. Only a published version has a
# snapshot, so API Gateway invokes this alias (SAM publishes a version on every code change).
API_FUNCTION = "APIHandler"
API_ALIAS = "live"


class StackError(Exception):
    """The app and the stack disagree (an unknown event source, an unresolved ASL name…)."""


class MissingLambdaWheels(StackError):
    def __init__(self, packages: list[str]):
        super().__init__(
            "no wheel for the Lambda runtime (python3.12, glibc 2.34, x86_64) for: "
            + ", ".join(packages)
            + ". Deploying without them breaks whatever imports them: pin versions that ship "
            "such wheels (docs/DEPLOY.md)."
        )
        self.packages = packages


# Installed with a requirement but never imported by the functions: pyvrp requires matplotlib
# for its plotting module only (`import pyvrp` and solving load none of it). 75 MB unzipped.
NOT_DEPLOYED = (
    "matplotlib",
    "contourpy",
    "cycler",
    "fonttools",
    "kiwisolver",
    "pillow",
    "pyparsing",
)


@dataclass(frozen=True)
class StageOptions:
    """What may differ between deployments, from `cdk ... -c name=value` context."""

    stage: str
    public_base_url: str | None = None
    twilio_account_sid: str | None = None
    alarm_email: str | None = None
    # The customer's pay page loads Stripe.js with it (not a secret: pk_live_… / pk_test_…).
    stripe_publishable_key: str | None = None
    # "amazon_location" (road travel times from a route calculator) or "straight_line".
    travel_provider: str = "amazon_location"
    # The platform's fee on each card payment, in basis points (0: none; at most 1000).
    application_fee_bps: int = 0
    cors_origins: tuple[str, ...] = ("*",)
    throttle_rate_limit: float = 50.0
    throttle_burst_limit: int = 100
    log_retention_days: int = 90

    @classmethod
    def from_context(cls, node) -> StageOptions:
        def value(name: str):
            found = node.try_get_context(name)
            return None if found in (None, "") else found

        stage = value("stage") or "dev"
        origins = value("cors_origins")
        return cls(
            stage=stage,
            public_base_url=value("public_base_url"),
            twilio_account_sid=value("twilio_account_sid"),
            alarm_email=value("alarm_email"),
            stripe_publishable_key=value("stripe_publishable_key"),
            travel_provider=value("travel_provider") or cls.travel_provider,
            application_fee_bps=int(value("application_fee_bps") or cls.application_fee_bps),
            cors_origins=tuple(origins.split(",")) if origins else cls.cors_origins,
            throttle_rate_limit=float(value("throttle_rate_limit") or cls.throttle_rate_limit),
            throttle_burst_limit=int(value("throttle_burst_limit") or cls.throttle_burst_limit),
            log_retention_days=int(value("log_retention_days") or cls.log_retention_days),
        )


@dataclass(frozen=True)
class Names:
    """Physical names the app must know before the stack exists (it reads them at import)."""

    stage: str

    @property
    def prefix(self) -> str:
        return f"fieldline-{self.stage}"

    @property
    def table(self) -> str:
        return self.prefix

    @property
    def bus(self) -> str:
        return self.prefix

    @property
    def workflow_queue(self) -> str:
        return f"{self.prefix}-workflow-events"

    @property
    def secret(self) -> str:
        return f"fieldline/{self.stage}/integrations"

    @property
    def function_log_group(self) -> str:
        return f"/aws/lambda/{self.prefix}"

    @property
    def route_calculator(self) -> str:
        return f"{self.prefix}-routes"

    @property
    def optimizer_function(self) -> str:
        """Named, so the API function can invoke it without a reference to it (a cycle)."""
        return f"{self.prefix}-optimize_day"

    def state_machine(self, workflow: str) -> str:
        return f"{self.prefix}-{workflow}"

    @property
    def schedule_group(self) -> str:
        return self.prefix


def stage_block(stage: str) -> dict[str, Any]:
    """The stage's block of .chalice/config.json: memory, timeout, its static environment."""
    stages = json.loads(CHALICE_CONFIG.read_text())["stages"]
    if stage == "local" or stage not in stages:
        deployable = sorted(name for name in stages if name != "local")
        raise StackError(f"unknown stage '{stage}'; .chalice/config.json has {deployable}")
    return stages[stage]


def workflow_files() -> dict[str, Path]:
    """Every state machine of the app: `<workflow>.asl.json` → its workflow name."""
    return {
        path.name.removesuffix(".asl.json"): path
        for path in sorted(STATE_MACHINES.glob("*.asl.json"))
    }


def placeholders(asl_text: str) -> list[str]:
    return sorted(set(PLACEHOLDER.findall(asl_text)))


def has_distributed_map(definition: dict[str, Any]) -> bool:
    for state in definition.get("States", {}).values():
        processor = state.get("ItemProcessor") or {}
        if processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
            return True
        if has_distributed_map(processor):
            return True
    return False


class FieldlineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: StageOptions,
        bundle_dependencies: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.options = options
        self.names = Names(options.stage)
        self.config = stage_block(options.stage)
        self.timeout_seconds = int(self.config.get("lambda_timeout", 60))

        self.alerts = sns.Topic(self, "Alerts", display_name=f"{self.names.prefix} alarms")
        self.alerts.add_to_resource_policy(_deny_insecure_transport(self.alerts.topic_arn))
        if options.alarm_email:
            self.alerts.add_subscription(subscriptions.EmailSubscription(options.alarm_email))

        self.table = self._table()
        self.bus = self._bus()
        self.stream_dlq = self._dlq("StreamDeadLetters")
        self.workflow_queue = self._workflow_queue()
        self.secret = self._secret()
        self.photos = self._photos_bucket()
        self.route_calculator = self._route_calculator()
        self.user_pool, self.user_pool_client = self._user_pool()
        self.function_logs = logs.LogGroup(
            self,
            "FunctionLogs",
            log_group_name=self.names.function_log_group,
            retention=_retention(options.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.workflows = workflow_files()
        self.schedule_group, self.scheduler_role, self.schedule_dlq = self._deferred_starts()
        # Every DLQ a Lambda function itself sends to (stream on-failure, async invokes).
        self.function_dlqs: list[sqs.Queue] = [self.stream_dlq]

        self.api, sam_template = self._chalice_app(bundle_dependencies)
        self.functions = self._wire_functions(sam_template)
        self._wire_optimizer()
        self._snap_start_api(sam_template)
        self.role = self._function_role()
        for logical_id in self.functions:
            self.api.get_resource(logical_id).add_property_override("Role", self.role.role_arn)
        self.state_machines = self._state_machines()
        self._api_limits()
        self._gateway_responses()
        self._alarms()
        self._outputs()

    # --- data ---------------------------------------------------------------------------------

    def _table(self) -> dynamodb.CfnTable:
        """The one table, from keys.TABLE_SCHEMA: the same schema the code and the tests use."""
        schema = keys.TABLE_SCHEMA
        table = dynamodb.CfnTable(
            self,
            "Table",
            table_name=self.names.table,
            attribute_definitions=[
                dynamodb.CfnTable.AttributeDefinitionProperty(
                    attribute_name=a["AttributeName"], attribute_type=a["AttributeType"]
                )
                for a in schema["AttributeDefinitions"]
            ],
            key_schema=_key_schema(schema["KeySchema"]),
            global_secondary_indexes=[
                dynamodb.CfnTable.GlobalSecondaryIndexProperty(
                    index_name=index["IndexName"],
                    key_schema=_key_schema(index["KeySchema"]),
                    projection=dynamodb.CfnTable.ProjectionProperty(
                        projection_type=index["Projection"]["ProjectionType"]
                    ),
                )
                for index in schema["GlobalSecondaryIndexes"]
            ],
            billing_mode=schema["BillingMode"],
            stream_specification=dynamodb.CfnTable.StreamSpecificationProperty(
                stream_view_type=schema["StreamSpecification"]["StreamViewType"]
            ),
            point_in_time_recovery_specification=(
                dynamodb.CfnTable.PointInTimeRecoverySpecificationProperty(
                    point_in_time_recovery_enabled=True
                )
            ),
            deletion_protection_enabled=True,
            time_to_live_specification=dynamodb.CfnTable.TimeToLiveSpecificationProperty(
                attribute_name=keys.TTL_ATTRIBUTE, enabled=True
            ),
        )
        table.apply_removal_policy(RemovalPolicy.RETAIN)
        return table

    def _secret(self) -> secretsmanager.Secret:
        """Stripe, Twilio and link secrets; the operator fills all but the link secret
        (DEPLOY.md): Stripe's key, the signing secrets of its two webhook endpoints (the
        platform's and the Connect endpoint for the tenants' accounts), Twilio's token."""
        return secretsmanager.Secret(
            self,
            "IntegrationSecrets",
            secret_name=self.names.secret,
            description="Fieldline: Stripe and Twilio credentials and the link-signing key",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(
                    {
                        "stripe_secret_key": "",
                        "stripe_webhook_secret": "",
                        "stripe_connect_webhook_secret": "",
                        "twilio_auth_token": "",
                    }
                ),
                generate_string_key="link_secret",
                exclude_punctuation=True,
                password_length=64,
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _route_calculator(self) -> location.CfnRouteCalculator | None:
        """Road travel times for dispatch optimization (CalculateRouteMatrix)."""
        if self.options.travel_provider == "straight_line":
            return None
        if self.options.travel_provider != "amazon_location":
            raise StackError(
                f"travel_provider must be amazon_location or straight_line, "
                f"not '{self.options.travel_provider}'"
            )
        return location.CfnRouteCalculator(
            self,
            "RouteCalculator",
            calculator_name=self.names.route_calculator,
            data_source="Here",
            description="Fieldline: drive times between technicians' homes and visits",
        )

    def _photos_bucket(self) -> s3.Bucket:
        """Private and encrypted; clients upload straight to it with presigned POST forms,
        under a prefix whose objects expire: an upload nobody confirms does not stay."""
        from chalicelib.integrations.s3 import UPLOAD_PREFIX

        return s3.Bucket(
            self,
            "Photos",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.GET],
                    allowed_origins=list(self.options.cors_origins),
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=3000,
                )
            ],
            lifecycle_rules=[
                s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(1)),
                # Confirming a photo copies its upload out of the prefix (services/photos.py).
                s3.LifecycleRule(
                    id="ExpireUnconfirmedUploads",
                    prefix=UPLOAD_PREFIX,
                    expiration=Duration.days(1),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _user_pool(self) -> tuple[cognito.UserPool, cognito.UserPoolClient]:
        """Staff sign in here; the ID token carries custom:tenant_id and custom:role.

        Only an administrator (IAM) may set those two: the app client can read them but not
        write them, so nobody can move themselves to another tenant or role.
        """
        pool = cognito.UserPool(
            self,
            "Users",
            user_pool_name=self.names.prefix,
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            custom_attributes={
                "tenant_id": cognito.StringAttribute(min_len=1, max_len=64, mutable=True),
                "role": cognito.StringAttribute(min_len=1, max_len=32, mutable=True),
            },
            password_policy=cognito.PasswordPolicy(
                min_length=12, require_digits=True, require_lowercase=True, require_uppercase=True
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        client = pool.add_client(
            "AppClient",
            user_pool_client_name=f"{self.names.prefix}-app",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            prevent_user_existence_errors=True,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            read_attributes=cognito.ClientAttributes()
            .with_standard_attributes(email=True, email_verified=True, fullname=True)
            .with_custom_attributes("tenant_id", "role"),
            write_attributes=cognito.ClientAttributes().with_standard_attributes(fullname=True),
        )
        return pool, client

    # --- events and queues --------------------------------------------------------------------

    def _bus(self) -> events.EventBus:
        bus = events.EventBus(self, "Bus", event_bus_name=self.names.bus)
        # Every event the timeline sent, replayable for a month (a consumer that was down).
        bus.archive(
            "Archive",
            event_pattern=events.EventPattern(source=["fieldline"]),
            retention=Duration.days(30),
        )
        # Reconciliation mismatches need a person: they go where the alarms go.
        events.Rule(
            self,
            "MismatchRule",
            event_bus=bus,
            description="Reconciliation mismatches to the alerts topic",
            event_pattern=events.EventPattern(
                source=["fieldline"], detail_type=["ReconciliationMismatch"]
            ),
            targets=[
                targets.SnsTopic(
                    self.alerts,
                    dead_letter_queue=self._dlq("MismatchRuleDeadLetters"),
                    retry_attempts=10,
                    max_event_age=Duration.hours(24),
                )
            ],
        )
        # A workflow task that failed past its retries (services/workflow_failures.py): a
        # reminder or dunning text that did not go out, an account left unreconciled.
        events.Rule(
            self,
            "WorkflowFailedRule",
            event_bus=bus,
            description="Workflow failures to the alerts topic",
            event_pattern=events.EventPattern(source=["fieldline"], detail_type=["WorkflowFailed"]),
            targets=[
                targets.SnsTopic(
                    self.alerts,
                    dead_letter_queue=self._dlq("WorkflowFailedRuleDeadLetters"),
                    retry_attempts=10,
                    max_event_age=Duration.hours(24),
                )
            ],
        )
        return bus

    def _workflow_queue(self) -> sqs.Queue:
        """Bus → queue → the workflow consumer; the event pattern is the consumer's own."""
        from chalicelib.handlers.consumer import EVENT_PATTERN

        consumer_dlq = self._dlq("WorkflowDeadLetters")
        queue = sqs.Queue(
            self,
            "WorkflowQueue",
            queue_name=self.names.workflow_queue,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # Lambda needs the visibility timeout at least as long as the function's (6x: AWS).
            visibility_timeout=Duration.seconds(6 * self.timeout_seconds),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=consumer_dlq),
        )
        events.Rule(
            self,
            "WorkflowRule",
            event_bus=self.bus,
            description="Timeline events that start or stop workflows, to the consumer's queue",
            event_pattern=_event_pattern(EVENT_PATTERN),
            targets=[
                targets.SqsQueue(
                    queue,
                    dead_letter_queue=self._dlq("WorkflowRuleDeadLetters"),
                    retry_attempts=185,
                    max_event_age=Duration.hours(24),
                )
            ],
        )
        return queue

    def _dlq(self, construct_id: str) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )

    # --- the Chalice app ----------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        """What every function reads (chalicelib/config.py); secrets only by the secret's name."""
        env = dict(self.config.get("environment_variables", {}))
        issuer = self.user_pool.user_pool_provider_url
        env.update(
            {
                "FIELDLINE_STAGE": self.names.stage,
                "FIELDLINE_TABLE": self.table.ref,
                "FIELDLINE_EVENT_BUS": self.bus.event_bus_name,
                "FIELDLINE_WORKFLOW_QUEUE": self.names.workflow_queue,
                "FIELDLINE_TABLE_STREAM_ARN": self.table.attr_stream_arn,
                "FIELDLINE_SECRETS_NAME": self.names.secret,
                "FIELDLINE_PHOTOS_BUCKET": self.photos.bucket_name,
                "FIELDLINE_SMS_PROVIDER": "twilio",
                # The app verifies Cognito's ID tokens itself (DESIGN §6).
                "FIELDLINE_JWKS_URL": f"{issuer}/.well-known/jwks.json",
                "FIELDLINE_JWT_ISSUER": issuer,
                "FIELDLINE_JWT_AUDIENCE": self.user_pool_client.user_pool_client_id,
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
        if self.route_calculator is not None:
            env["FIELDLINE_ROUTE_CALCULATOR"] = self.names.route_calculator
        env["FIELDLINE_OPTIMIZER_FUNCTION"] = self.names.optimizer_function
        env["FIELDLINE_SCHEDULE_GROUP"] = self.schedule_group.ref
        env["FIELDLINE_SCHEDULER_ROLE_ARN"] = self.scheduler_role.role_arn
        env["FIELDLINE_SCHEDULER_DLQ_ARN"] = self.schedule_dlq.queue_arn
        for workflow in self.workflows:
            # Built from the name, not the resource: the task functions the state machine calls
            # read it too, and a reference would be a dependency cycle.
            env[f"FIELDLINE_{workflow.upper()}_STATE_MACHINE_ARN"] = self._state_machine_arn(
                workflow
            )
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
        with _app_import_environment(self.names), _chalice_workdir():
            if bundle_dependencies:
                with _lambda_bundle():
                    api = Chalice(self, "Api", source_dir=str(ROOT), stage_config=stage_config)
            else:
                with _sources_without_dependencies() as source_dir:
                    api = Chalice(self, "Api", source_dir=source_dir, stage_config=stage_config)
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
            function = self.api.get_resource(logical_id)
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
                    async_dlq = async_dlq or self._dlq(f"{logical_id}DeadLetters")
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
        function = self.api.get_resource(logical_id)
        dlq = self._dlq("OptimizerDeadLetters")
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
        function = self.api.get_resource(API_FUNCTION)
        function.add_property_override("AutoPublishAlias", API_ALIAS)
        function.add_property_override("SnapStart", {"ApplyOn": "PublishedVersions"})
        paths = sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
        latest = f"${{{API_FUNCTION}.Arn}}"
        if latest not in json.dumps(paths):
            raise StackError(f"the REST API's integrations do not name {latest}")
        aliased = json.loads(json.dumps(paths).replace(latest, f"${{{API_FUNCTION}.Alias}}"))
        rest_api = self.api.get_resource("RestAPI")
        rest_api.add_property_override("DefinitionBody.paths", aliased)
        permission = self.api.get_resource(f"{API_FUNCTION}InvokePermission")
        permission.add_property_override("FunctionName", {"Fn::Sub": f"${{{API_FUNCTION}.Alias}}"})
        # `<Function>.Alias` is SAM's reference to the alias AutoPublishAlias makes (the
        # transform resolves it); cfn-lint checks SAM templates untransformed and knows only
        # the function's own attributes, so that one check is off on these two resources.
        for resource in (rest_api, permission):
            resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E1019"]}})

    def _optimizer_arn(self) -> str:
        return self.format_arn(
            service="lambda",
            resource="function",
            resource_name=self.names.optimizer_function,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _wire_stream(self, function: cdk.CfnResource, path: str) -> None:
        # The app names a placeholder stream at import; this is the table's (DESIGN §7).
        function.add_property_override(f"{path}.Stream", self.table.attr_stream_arn)
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
        if self.names.workflow_queue not in json.dumps(queue):
            raise StackError(f"{queue}: the stack only feeds {self.names.workflow_queue}")
        # The queue's redrive policy is this consumer's dead-letter queue.
        function.add_property_override(f"{path}.Queue", self.workflow_queue.queue_arn)
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
                event_bus=self.bus if own_events else None,
                event_pattern=_event_pattern(pattern),
                description=f"{logical_id}: its event pattern",
            )
        target = lambda_.Function.from_function_attributes(
            self,
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
        table_arn = self.table.attr_arn
        statements = [
            iam.PolicyStatement(
                sid="Table",
                # No Scan: no request path may read the whole table (DESIGN §3).
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
                resources=[self.table.attr_stream_arn],
            ),
            iam.PolicyStatement(
                sid="ListStreams",
                # ListStreams has no resource type in IAM: "*" is the only resource it takes.
                actions=list(UNSCOPABLE_ACTIONS),
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="Bus", actions=["events:PutEvents"], resources=[self.bus.event_bus_arn]
            ),
            iam.PolicyStatement(
                sid="StartWorkflows",
                actions=["states:StartExecution"],
                resources=[self._state_machine_arn(w) for w in self.workflows],
            ),
            iam.PolicyStatement(
                sid="StopWorkflows",
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[self._execution_arns(w) for w in self.workflows],
            ),
            iam.PolicyStatement(
                sid="DeferWorkflows",
                # A one-time schedule per deferred execution, in the stack's group only.
                actions=["scheduler:CreateSchedule"],
                resources=[
                    self.format_arn(
                        service="scheduler",
                        resource="schedule",
                        resource_name=f"{self.names.schedule_group}/*",
                    )
                ],
            ),
            iam.PolicyStatement(
                sid="PassSchedulerRole",
                actions=["iam:PassRole"],
                resources=[self.scheduler_role.role_arn],
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
                resources=[self.secret.secret_arn],
            ),
            iam.PolicyStatement(
                sid="Photos",
                # Get and Put: a confirmed upload is copied out of the expiring prefix; Delete:
                # the upload then, or one over the size limit when it is confirmed.
                actions=["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                resources=[self.photos.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="ConsumeWorkflowQueue",
                actions=[
                    "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:ReceiveMessage",
                ],
                resources=[self.workflow_queue.queue_arn],
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
        if self.route_calculator is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="TravelTimes",
                    # Describe: its data provider says how many positions one call may carry.
                    actions=["geo:CalculateRouteMatrix", "geo:DescribeRouteCalculator"],
                    resources=[self.route_calculator.attr_calculator_arn],
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

    def _state_machine_arn(self, workflow: str) -> str:
        return self.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.names.state_machine(workflow),
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _execution_arns(self, workflow: str) -> str:
        return self.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.names.state_machine(workflow)}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _deferred_starts(self) -> tuple[scheduler.CfnScheduleGroup, iam.Role, sqs.Queue]:
        """EventBridge Scheduler's side of a moment past an execution's year (DESIGN §4,
        integrations/workflows.py): the group the app's one-time schedules go in, the role they
        start executions as, and where a start that failed every retry is parked."""
        group = scheduler.CfnScheduleGroup(self, "Schedules", name=self.names.schedule_group)
        dead_letters = self._dlq("DeferredStartDeadLetters")
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
            description="EventBridge Scheduler starting Fieldline's deferred executions",
            inline_policies={
                "deferred-starts": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["states:StartExecution"],
                            resources=[self._state_machine_arn(w) for w in self.workflows],
                        ),
                        iam.PolicyStatement(
                            actions=["sqs:SendMessage"], resources=[dead_letters.queue_arn]
                        ),
                    ]
                )
            },
        )
        return group, role, dead_letters

    def _distributed_map_policy(self, workflow: str) -> list[iam.PolicyStatement]:
        """A distributed Map starts its child executions as the state machine's own role, and
        watches and stops them (their ARNs: execution:<machine>/<map run>:<id>)."""
        name = self.names.state_machine(workflow)
        children = self.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{name}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        return [
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[self._state_machine_arn(workflow)]
            ),
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"], resources=[children]
            ),
        ]

    def _state_machines(self) -> dict[str, sfn.StateMachine]:
        """One state machine per ASL file; `${Name}` placeholders become task function ARNs.

        The mapping of names to functions is the app's (chalicelib/handlers/tasks.py); the
        definition stays a string so the template holds the file as it is (DESIGN §7).
        """
        from chalice.utils import to_cfn_resource_name

        from chalicelib.handlers.tasks import SUBSTITUTIONS

        machines = {}
        for workflow, path in self.workflows.items():
            text = path.read_text()
            substitutions: dict[str, str] = {}
            invoked: list[str] = []
            for name in placeholders(text):
                function_name = SUBSTITUTIONS.get(name)
                logical_id = function_name and to_cfn_resource_name(function_name)
                if logical_id not in self.functions:
                    raise StackError(
                        f"{path.name}: ${{{name}}} names no Lambda function of the app "
                        f"(chalicelib/handlers/tasks.py SUBSTITUTIONS: {sorted(SUBSTITUTIONS)})"
                    )
                arn = self.api.get_resource(logical_id).get_att("Arn").to_string()
                substitutions[name] = arn
                invoked.append(arn)
            log_group = logs.LogGroup(
                self,
                f"{_camel(workflow)}Logs",
                log_group_name=f"/aws/vendedlogs/states/{self.names.state_machine(workflow)}",
                retention=_retention(self.options.log_retention_days),
                removal_policy=RemovalPolicy.RETAIN,
            )
            machine = sfn.StateMachine(
                self,
                f"{_camel(workflow)}StateMachine",
                state_machine_name=self.names.state_machine(workflow),
                state_machine_type=sfn.StateMachineType.STANDARD,
                definition_body=sfn.DefinitionBody.from_string(text),
                definition_substitutions=substitutions,
                # Errors only, without execution data: inputs carry customers' details.
                logs=sfn.LogOptions(
                    destination=log_group, level=sfn.LogLevel.ERROR, include_execution_data=False
                ),
            )
            if invoked:
                machine.add_to_role_policy(
                    iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=invoked)
                )
            if has_distributed_map(json.loads(text)):
                for statement in self._distributed_map_policy(workflow):
                    machine.add_to_role_policy(statement)
            machines[workflow] = machine
        return machines

    # --- API, alarms, outputs -----------------------------------------------------------------

    def _api_limits(self) -> None:
        """Throttling per stage; body size is the app's (256 KiB → 413), see DEPLOY.md."""
        rest_api = self.api.get_resource("RestAPI")
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
        rest_api = self.api.get_resource("RestAPI")
        rest_api.add_property_override(
            "DefinitionBody.x-amazon-apigateway-gateway-responses",
            gateway_responses(self.config.get("environment_variables", {})),
        )

    def _alarm(self, construct_id: str, metric: cloudwatch.IMetric, threshold: float, **kwargs):
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=kwargs.pop("evaluation_periods", 1),
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            **kwargs,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alerts))
        alarm.add_ok_action(cloudwatch_actions.SnsAction(self.alerts))
        return alarm

    def _alarms(self) -> None:
        five_minutes = Duration.minutes(5)
        api_dimensions = {"ApiName": self.names.prefix, "Stage": self.config["api_gateway_stage"]}
        # 5XXError is 0 or 1 per request, so its average is the rate.
        self._alarm(
            "Api5xxRate",
            cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name="5XXError",
                dimensions_map=api_dimensions,
                statistic="Average",
                period=five_minutes,
            ),
            threshold=0.05,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            alarm_description="More than 5% of API requests answered 5xx",
        )
        for logical_id in self.functions:
            name = self.api.get_resource(logical_id).ref
            for metric_name in ("Errors", "Throttles"):
                self._alarm(
                    f"{logical_id}{metric_name}",
                    cloudwatch.Metric(
                        namespace="AWS/Lambda",
                        metric_name=metric_name,
                        dimensions_map={"FunctionName": name},
                        statistic="Sum",
                        period=five_minutes,
                    ),
                    threshold=1,
                    alarm_description=f"{logical_id}: {metric_name.lower()}",
                )
        for dlq in self.node.find_all():
            if isinstance(dlq, sqs.Queue) and dlq is not self.workflow_queue:
                self._alarm(
                    f"{dlq.node.id}Depth",
                    dlq.metric_approximate_number_of_messages_visible(
                        period=five_minutes, statistic="Maximum"
                    ),
                    threshold=1,
                    alarm_description=f"{dlq.node.id}: messages are waiting for a person",
                )
        for workflow, machine in self.state_machines.items():
            for metric in (machine.metric_failed(), machine.metric_timed_out()):
                self._alarm(
                    f"{_camel(workflow)}{metric.metric_name}",
                    metric.with_(period=five_minutes, statistic="Sum"),
                    threshold=1,
                    alarm_description=f"{workflow}: {metric.metric_name}",
                )
        indexes = [None, *(i["IndexName"] for i in keys.TABLE_SCHEMA["GlobalSecondaryIndexes"])]
        for index in indexes:
            dimensions = {"TableName": self.table.ref}
            if index:
                dimensions["GlobalSecondaryIndexName"] = index
            for metric_name in ("ReadThrottleEvents", "WriteThrottleEvents"):
                self._alarm(
                    f"Table{index or ''}{metric_name}",
                    cloudwatch.Metric(
                        namespace="AWS/DynamoDB",
                        metric_name=metric_name,
                        dimensions_map=dimensions,
                        statistic="Sum",
                        period=five_minutes,
                    ),
                    threshold=1,
                    alarm_description=f"DynamoDB {index or 'table'}: {metric_name}",
                )

    def _outputs(self) -> None:
        values = {
            "TableName": self.table.ref,
            "EventBusName": self.bus.event_bus_name,
            "SecretName": self.names.secret,
            "PhotosBucketName": self.photos.bucket_name,
            "UserPoolId": self.user_pool.user_pool_id,
            "UserPoolClientId": self.user_pool_client.user_pool_client_id,
            "AlertsTopicArn": self.alerts.topic_arn,
        }
        for name, value in values.items():
            cdk.CfnOutput(self, name, value=value)


# --- helpers --------------------------------------------------------------------------------


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


def _key_schema(elements: list[dict[str, str]]) -> list[dynamodb.CfnTable.KeySchemaProperty]:
    return [
        dynamodb.CfnTable.KeySchemaProperty(
            attribute_name=k["AttributeName"], key_type=k["KeyType"]
        )
        for k in elements
    ]


def _event_pattern(pattern: dict[str, Any]) -> events.EventPattern:
    allowed = {"source", "detail-type", "detail", "account", "region", "resources"}
    unknown = set(pattern) - allowed
    if unknown:
        raise StackError(f"event pattern fields the stack does not map: {sorted(unknown)}")
    return events.EventPattern(**{k.replace("-", "_"): v for k, v in pattern.items()})


RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
}


def _retention(days: int) -> logs.RetentionDays:
    if days not in RETENTION:
        raise StackError(f"log_retention_days must be one of {sorted(RETENTION)}, not {days}")
    return RETENTION[days]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name))


def _deny_insecure_transport(arn: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=["sns:Publish"],
        resources=[arn],
        conditions={"Bool": {"aws:SecureTransport": "false"}},
    )


@contextmanager
def _app_import_environment(names: Names) -> Iterator[None]:
    """`chalice package` imports app.py here: it must see the deployed stage, not local.

    (Imported as the local stage it would register the /dev routes; the queue its consumer
    subscribes to is named at import.)
    """
    from chalicelib.config import get_settings

    wanted = {
        "FIELDLINE_STAGE": names.stage,
        "FIELDLINE_TABLE": names.table,
        "FIELDLINE_EVENT_BUS": names.bus,
        "FIELDLINE_WORKFLOW_QUEUE": names.workflow_queue,
    }
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    get_settings.cache_clear()
    try:
        settings = get_settings()
        if settings.stage != names.stage or settings.workflow_queue_name != names.workflow_queue:
            raise StackError("the app's settings were read before the stage's environment was set")
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _chalice_workdir() -> Iterator[None]:
    """The construct writes its `chalice.out/` under the working directory: use a temporary one.

    Everything in it is read (the SAM template) or copied into the cloud assembly (the code
    zip) while the construct is built.
    """
    previous = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="fieldline-chalice-") as workdir:
        os.chdir(workdir)
        try:
            yield
        finally:
            os.chdir(previous)


@contextmanager
def _sources_without_dependencies() -> Iterator[str]:
    """A copy of the app without requirements: the same template, no wheels downloaded.

    For checking the template offline (tests); `make synth` and `cdk deploy` bundle them.
    """
    with tempfile.TemporaryDirectory(prefix="fieldline-app-") as copy:
        target = Path(copy)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copy2(ROOT / "app.py", target / "app.py")
        shutil.copytree(ROOT / "chalicelib", target / "chalicelib", ignore=ignore)
        (target / ".chalice").mkdir()
        shutil.copy2(CHALICE_CONFIG, target / ".chalice" / "config.json")
        (target / "requirements.txt").write_text("")
        yield str(target)


@contextmanager
def _lambda_bundle() -> Iterator[None]:
    """Bundle wheels only, fail when one is missing, and leave out what the app never imports.

    Chalice's fallback compiles sdists of what has no Lambda-compatible wheel (numpy: minutes)
    and then, if that fails too, deploys without the package and only prints a warning: here
    a missing wheel stops the synth. The distributions in NOT_DEPLOYED are removed from the
    bundle (by their RECORD): without that it is over Lambda's 250 MB unzipped limit. Chalice
    keeps the bundle in .chalice/deployments/, keyed by the requirements: after changing
    NOT_DEPLOYED, delete that folder.
    """
    from chalice.deploy import packager

    builder = packager.DependencyBuilder
    original_build = builder._build_sdists
    original_site_packages = builder.build_site_packages

    def no_sdist_builds(self, sdists, directory, compile_c=True):
        return None

    def strict_site_packages(self, abi, requirements_filepath, target_directory):
        try:
            original_site_packages(self, abi, requirements_filepath, target_directory)
        except packager.MissingDependencyError as exc:
            raise MissingLambdaWheels(sorted(p.identifier for p in exc.missing)) from exc
        for distribution in NOT_DEPLOYED:
            _remove_distribution(Path(target_directory), distribution)

    builder._build_sdists = no_sdist_builds
    builder.build_site_packages = strict_site_packages
    try:
        yield
    finally:
        builder._build_sdists = original_build
        builder.build_site_packages = original_site_packages


def _remove_distribution(site_packages: Path, distribution: str) -> None:
    """Delete an installed distribution's files, as `pip uninstall` would (its RECORD)."""
    normalized = distribution.lower().replace("-", "_")
    for dist_info in site_packages.glob("*.dist-info"):
        if dist_info.name.lower().split("-")[0] != normalized:
            continue
        for line in (dist_info / "RECORD").read_text().splitlines():
            path = site_packages / line.split(",")[0]
            path.unlink(missing_ok=True)
        shutil.rmtree(dist_info, ignore_errors=True)
    for folder in sorted(site_packages.rglob("*"), reverse=True):  # what the RECORDs emptied
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
