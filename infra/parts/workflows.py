"""The state machines (one per `infra/statemachines/*.asl.json`) and EventBridge Scheduler's
side of the deferred starts. The ARNs are built from names, before the machines exist: the
app's functions read them and the machines invoke those functions (a reference would be a
cycle)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.parts.base import (
    ROOT,
    Names,
    Part,
    StackError,
    StageOptions,
    camel,
    dead_letter_queue,
    retention,
)

STATE_MACHINES = ROOT / "infra" / "statemachines"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


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


class Workflows(Part):
    def __init__(self, scope: Construct, construct_id: str, *, names: Names, options: StageOptions):
        super().__init__(scope, construct_id)
        self.names = names
        self.options = options
        self.files = workflow_files()
        self.machines: dict[str, sfn.StateMachine] = {}
        self.schedule_group, self.scheduler_role, self.schedule_dlq = self._deferred_starts()

    def state_machine_arn(self, workflow: str) -> str:
        return Stack.of(self).format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.names.state_machine(workflow),
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def execution_arns(self, workflow: str) -> str:
        return Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.names.state_machine(workflow)}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _deferred_starts(self) -> tuple[scheduler.CfnScheduleGroup, iam.Role, sqs.Queue]:
        """EventBridge Scheduler's side of a moment past an execution's year (ARCHITECTURE.md,
        integrations/workflows.py): the group the app's one-time schedules go in, the role they
        start executions as, and where a start that failed every retry is parked."""
        group = scheduler.CfnScheduleGroup(self, "Schedules", name=self.names.schedule_group)
        dead_letters = dead_letter_queue(self, "DeferredStartDeadLetters")
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description="EventBridge Scheduler starting Fieldline's deferred executions",
            inline_policies={
                "deferred-starts": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["states:StartExecution"],
                            resources=[self.state_machine_arn(w) for w in self.files],
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
        children = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{name}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        return [
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[self.state_machine_arn(workflow)]
            ),
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"], resources=[children]
            ),
        ]

    def add_state_machines(self, app, functions: dict[str, Any]) -> None:
        """One state machine per ASL file; `${Name}` placeholders become task function ARNs
        (of the Chalice app's `functions`, by logical id).

        The mapping of names to functions is the app's (chalicelib/handlers/tasks.py); the
        definition stays a string so the template holds the file as it is.
        """
        from chalice.utils import to_cfn_resource_name

        from chalicelib.handlers.tasks import SUBSTITUTIONS

        for workflow, path in self.files.items():
            text = path.read_text()
            substitutions: dict[str, str] = {}
            invoked: list[str] = []
            for name in placeholders(text):
                function_name = SUBSTITUTIONS.get(name)
                logical_id = function_name and to_cfn_resource_name(function_name)
                if logical_id not in functions:
                    raise StackError(
                        f"{path.name}: ${{{name}}} names no Lambda function of the app "
                        f"(chalicelib/handlers/tasks.py SUBSTITUTIONS: {sorted(SUBSTITUTIONS)})"
                    )
                arn = app.get_resource(logical_id).get_att("Arn").to_string()
                substitutions[name] = arn
                invoked.append(arn)
            log_group = logs.LogGroup(
                self,
                f"{camel(workflow)}Logs",
                log_group_name=f"/aws/vendedlogs/states/{self.names.state_machine(workflow)}",
                retention=retention(self.options.log_retention_days),
                removal_policy=RemovalPolicy.RETAIN,
            )
            machine = sfn.StateMachine(
                self,
                f"{camel(workflow)}StateMachine",
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
            self.machines[workflow] = machine
