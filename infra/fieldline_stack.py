"""The Fieldline stack: everything one stage of Fieldline needs in an AWS account.

The Lambda functions and the REST API come from the Chalice app itself (Chalice's CDK construct
runs `chalice package` and includes its SAM template); this stack composes the parts they run
against (infra/parts/): the data (the table, from the same key-schema module the code uses;
Cognito, the photo bucket, the secret), the messaging (the event bus and its rules, the workflow
queue), the workflows (the state machines from `infra/statemachines/*.asl.json`), the app wired
to them (a dead-letter queue behind every asynchronous consumer, one IAM role whose statements
name every resource they allow) and the observability (alarms to one topic).

The parts' ids stay out of the resources' logical ids (base.PartsStack): the template is
the one the stack made before it was split, and a resource added to a part gets the logical id
it would have at the stack's top level.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from infra.parts.api import Api
from infra.parts.base import Names, PartsStack, StageOptions, stage_block
from infra.parts.data import Data
from infra.parts.messaging import Messaging
from infra.parts.observability import Observability
from infra.parts.workflows import Workflows

__all__ = ["FieldlineStack", "StageOptions"]


class FieldlineStack(PartsStack):
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

        self.observability = Observability(self, "Observability", names=self.names, options=options)
        self.data = Data(self, "Data", names=self.names, options=options)
        self.messaging = Messaging(
            self,
            "Messaging",
            names=self.names,
            alerts=self.observability.alerts,
            function_timeout_seconds=int(self.config.get("lambda_timeout", 60)),
        )
        self.workflows = Workflows(self, "Workflows", names=self.names, options=options)
        self.api = Api(
            self,
            "App",
            names=self.names,
            options=options,
            config=self.config,
            data=self.data,
            messaging=self.messaging,
            workflows=self.workflows,
            function_logs=self.observability.function_logs,
            bundle_dependencies=bundle_dependencies,
        )
        self.workflows.add_state_machines(self.api.app, self.api.functions)
        self.observability.add_alarms(
            api_stage=self.config["api_gateway_stage"],
            function_names={lid: self.api.function_name(lid) for lid in self.api.functions},
            state_machines=self.workflows.machines,
            table=self.data.table,
            not_dead_letters=self.messaging.work_queues,
        )
        self._outputs()

    def _outputs(self) -> None:
        values = {
            "TableName": self.data.table.ref,
            "EventBusName": self.messaging.bus.event_bus_name,
            "SecretName": self.names.secret,
            "PhotosBucketName": self.data.photos.bucket_name,
            "UserPoolId": self.data.user_pool.user_pool_id,
            "UserPoolClientId": self.data.user_pool_client.user_pool_client_id,
            "AlertsTopicArn": self.observability.alerts.topic_arn,
        }
        for name, value in values.items():
            cdk.CfnOutput(self, name, value=value)
