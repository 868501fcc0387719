"""The workflow tests and the local stage's clock patch moto's internals (ARCHITECTURE.md:
emulators). This test fails, loudly and first, if a moto upgrade moves them."""

from __future__ import annotations

import inspect

import moto
import pytest

from localstage import clock as stage_clock


def test_the_moto_internals_the_workflow_hooks_rely_on_are_where_they_were():
    # moto is pinned (requirements-dev.txt); an upgrade must re-check every hook below
    assert moto.__version__ == "5.2.5", "re-verify localstage/clock.py's hooks for this moto"
    assert stage_clock.moto_internals() == {
        # Lambda tasks in executing mode: the invoke we route to the app's handlers
        "invoke": ["self", "function_name", "qualifier", "body", "headers", "response_headers"],
        # Wait states: the sleep we record and skip (or scale, locally)
        "wait_interval": ["self", "env", "wait_seconds"],
        # Timestamp waits keep their timestamp expression in `string`
        "timestamp_string": True,
        # Retry intervals sleep through the module's `time`
        "retrier_time": True,
        # A distributed Map's run: what enforce_tolerated_failures wraps and reads
        "map_run": ["self", "env", "eval_input"],
        "map_run_input": ["map_run_record", "tolerated_failure_percentage"],
    }


def test_moto_task_invocations_find_the_server_through_moto_port():
    from moto.stepfunctions.parser.asl.eval.states import ContextObject
    from moto.stepfunctions.parser.asl.utils import boto_client

    # An executing state machine's Lambda client calls http://localhost:<moto_server_port()>,
    # a name of its module that enable_execution points at the session's server
    assert "moto_server_port()" in inspect.getsource(boto_client.boto_client_for)
    assert callable(boto_client.moto_server_port)
    # Waits are named by the execution and state the context object carries
    assert "context_object_data" in inspect.getsource(ContextObject.__init__)


def test_every_task_of_the_state_machines_is_a_lambda_function_of_the_stage(stage):
    import json

    import boto3

    from chalicelib.handlers.tasks import TASKS

    lambdas = boto3.client("lambda", endpoint_url=stage.endpoint, region_name="us-east-1")
    for arn in stage.machines.values():
        definition = json.loads(stage.sfn.describe_state_machine(stateMachineArn=arn)["definition"])
        states = dict(definition["States"])
        for state in definition["States"].values():
            states.update(state.get("ItemProcessor", {}).get("States", {}))
        for state in states.values():
            if state["Type"] == "Task":
                function = lambdas.get_function(FunctionName=state["Resource"])["Configuration"]
                assert function["FunctionName"].rsplit("-", 1)[-1] in TASKS


PROBE = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ToleratedFailurePercentage": 50.0,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Check",
                "States": {
                    "Check": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Fine"}],
                        "Default": "Broken",
                    },
                    "Fine": {"Type": "Succeed"},
                    "Broken": {"Type": "Fail", "Error": "Broken"},
                },
            },
            "End": True,
        }
    },
}


def _probe(stage, items: list[bool]) -> dict:
    import json
    import time

    machines = {
        m["name"]: m["stateMachineArn"] for m in stage.sfn.list_state_machines()["stateMachines"]
    }
    arn = (
        machines.get("fieldline-test-map-probe")
        or stage.sfn.create_state_machine(
            name="fieldline-test-map-probe",
            definition=json.dumps(PROBE),
            roleArn="arn:aws:iam::123456789012:role/probe",
        )["stateMachineArn"]
    )
    started = stage.sfn.start_execution(
        stateMachineArn=arn,
        name=f"probe-{time.time_ns()}",
        input=json.dumps({"items": [{"ok": ok} for ok in items]}),
    )
    for _ in range(200):
        described = stage.sfn.describe_execution(executionArn=started["executionArn"])
        if described["status"] != "RUNNING":
            return {**described, "machine": arn}
        time.sleep(0.05)
    raise AssertionError("the probe did not finish")


def test_moto_runs_a_distributed_map_in_process_and_the_hook_applies_its_threshold(stage):
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (  # noqa: E501
        DistributedIterationComponent,
    )

    # One item of two failing is within 50%: the Map succeeds
    within = _probe(stage, [True, False])
    assert within["status"] == "SUCCEEDED"
    # Two of three is past it: Step Functions fails the Map Run, and so does the hook
    past = _probe(stage, [False, False, True])
    assert (past["status"], past["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    # moto's own Map Run tolerates every failure: that is what the hook is for
    hooked = DistributedIterationComponent._map_run
    DistributedIterationComponent._map_run = stage_clock._moto_map_run
    try:
        assert _probe(stage, [False, False, True])["status"] == "SUCCEEDED"
    finally:
        DistributedIterationComponent._map_run = hooked
    # And the items ran in this process: no child executions were started
    listed = stage.sfn.list_executions(stateMachineArn=past["machine"])["executions"]
    assert len(listed) == 3


def test_moto_reads_a_tolerated_failure_percentage_only_as_a_decimal(stage):
    import json

    from botocore.exceptions import ClientError

    # The ASL files write 50 (statelint wants an integer; Step Functions takes any number)
    whole = json.dumps(PROBE).replace('Percentage": 50.0', 'Percentage": 50')
    assert '"ToleratedFailurePercentage": 50,' in whole
    role = "arn:aws:iam::123456789012:role/probe"
    # moto's grammar refuses it: once it stops refusing, `for_moto` can go
    with pytest.raises(ClientError, match="ToleratedFailurePercentage"):
        stage.sfn.create_state_machine(name="fieldline-test-whole", definition=whole, roleArn=role)
    # and takes it spelled as the decimal the local stage hands it
    created = stage.sfn.create_state_machine(
        name="fieldline-test-whole", definition=stage_clock.for_moto(whole), roleArn=role
    )
    stage.sfn.delete_state_machine(stateMachineArn=created["stateMachineArn"])
