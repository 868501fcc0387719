"""Where the stack tells a person: the alerts topic, the functions' log group, and an alarm on
API 5xx, every function's errors and throttles, every dead-letter queue's depth, every state
machine's failures and the table's throttling."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from chalicelib.store import keys
from infra.parts.base import Names, Part, StageOptions, camel, retention


class Observability(Part):
    def __init__(self, scope: Construct, construct_id: str, *, names: Names, options: StageOptions):
        super().__init__(scope, construct_id)
        self.names = names
        self.alerts = sns.Topic(self, "Alerts", display_name=f"{names.prefix} alarms")
        self.alerts.add_to_resource_policy(_deny_insecure_transport(self.alerts.topic_arn))
        if options.alarm_email:
            self.alerts.add_subscription(subscriptions.EmailSubscription(options.alarm_email))
        self.function_logs = logs.LogGroup(
            self,
            "FunctionLogs",
            log_group_name=names.function_log_group,
            retention=retention(options.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )

    def add_alarms(
        self,
        *,
        api_stage: str,
        function_names: dict[str, str],
        state_machines: dict[str, sfn.StateMachine],
        table: dynamodb.CfnTable,
        not_dead_letters: list[sqs.Queue],
    ) -> None:
        """Alarms on everything built so far: `function_names` maps the functions' logical ids
        to their names; every queue of the stack but `not_dead_letters` (the work queues) is a
        dead-letter queue."""
        five_minutes = Duration.minutes(5)
        api_dimensions = {"ApiName": self.names.prefix, "Stage": api_stage}
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
        for logical_id, name in function_names.items():
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
        for dlq in Stack.of(self).node.find_all():
            if isinstance(dlq, sqs.Queue) and not any(dlq is q for q in not_dead_letters):
                self._alarm(
                    f"{dlq.node.id}Depth",
                    dlq.metric_approximate_number_of_messages_visible(
                        period=five_minutes, statistic="Maximum"
                    ),
                    threshold=1,
                    alarm_description=f"{dlq.node.id}: messages are waiting for a person",
                )
        for workflow, machine in state_machines.items():
            for metric in (machine.metric_failed(), machine.metric_timed_out()):
                self._alarm(
                    f"{camel(workflow)}{metric.metric_name}",
                    metric.with_(period=five_minutes, statistic="Sum"),
                    threshold=1,
                    alarm_description=f"{workflow}: {metric.metric_name}",
                )
        indexes = [None, *(i["IndexName"] for i in keys.TABLE_SCHEMA["GlobalSecondaryIndexes"])]
        for index in indexes:
            dimensions = {"TableName": table.ref}
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


def _deny_insecure_transport(arn: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=["sns:Publish"],
        resources=[arn],
        conditions={"Bool": {"aws:SecureTransport": "false"}},
    )
