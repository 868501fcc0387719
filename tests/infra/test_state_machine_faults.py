"""Every Task of every state machine survives faults (issue 17), read from the ASL files.

Each Task retries Lambda's transient errors and timeouts with jittered backoff, has a timeout
of its own, and catches everything else into its machine's failure path: a Pass naming the
state, the RecordWorkflowFailure task, then a Fail state (the stack alarms on failed
executions). No other test has to fail a task in every state for this to hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATE_MACHINES = sorted((ROOT / "infra" / "statemachines").glob("*.asl.json"))
RECORD_FAILURE = "${RecordWorkflowFailureTaskArn}"
# Lambda's transient errors (Step Functions' "Handle Lambda service exceptions") and the
# timeouts: the function's own (Sandbox.Timedout, formerly Lambda.Unknown) and the Task's.
TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.Unknown",
    "Sandbox.Timedout",
    "States.Timeout",
}
# The function's timeout (.chalice/config.json): a Task's must be longer, or it cuts a
# running invocation short.
FUNCTION_TIMEOUT_SECONDS = 30


def _machines() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in STATE_MACHINES:
        yield path.name.removesuffix(".asl.json"), json.loads(path.read_text())


def _scopes(definition: dict[str, Any]) -> Iterator[dict[str, dict[str, Any]]]:
    """The machine's states, then each Map's or Parallel's own (Next stays within a scope)."""
    yield definition["States"]
    for state in definition["States"].values():
        if "ItemProcessor" in state:
            yield from _scopes(state["ItemProcessor"])
        for branch in state.get("Branches", []):
            yield from _scopes(branch)


def _tasks() -> list[tuple[str, str, dict[str, Any], dict[str, dict[str, Any]]]]:
    found = []
    for workflow, definition in _machines():
        for states in _scopes(definition):
            for name, state in states.items():
                if state["Type"] == "Task":
                    found.append((workflow, name, state, states))
    return found


TASKS = _tasks()
BY_TASK = [pytest.param(*task, id=f"{task[0]}.{task[1]}") for task in TASKS]


def test_the_walk_finds_every_task_of_every_machine():
    names = {(workflow, name) for workflow, name, _, _ in TASKS}
    assert {w for w, _ in names} == {"reminders", "dunning", "reconciliation"}
    # The reconciliation's per-account task is inside its distributed Map
    assert ("reconciliation", "ReconcilePage") in names


@pytest.mark.parametrize(("workflow", "name", "state", "states"), BY_TASK)
def test_every_task_retries_lambdas_transient_errors_and_timeouts_with_backoff(
    workflow, name, state, states
):
    transient = [r for r in state.get("Retry", []) if TRANSIENT & set(r["ErrorEquals"])]
    assert transient, f"{workflow}.{name} retries no Lambda error"
    covered = set().union(*(r["ErrorEquals"] for r in transient))
    assert covered >= TRANSIENT, f"{workflow}.{name} misses {sorted(TRANSIENT - covered)}"
    for retrier in state["Retry"]:
        assert retrier["MaxAttempts"] >= 3, (workflow, name, retrier)
        assert retrier["IntervalSeconds"] >= 1 and retrier["BackoffRate"] >= 2, retrier
        assert retrier.get("JitterStrategy") == "FULL", (workflow, name, retrier)
        assert "States.ALL" not in retrier["ErrorEquals"], "a bug retried is a bug repeated"
    assert FUNCTION_TIMEOUT_SECONDS < state["TimeoutSeconds"] <= 300, (workflow, name)


@pytest.mark.parametrize(("workflow", "name", "state", "states"), BY_TASK)
def test_every_task_catches_the_rest_into_the_failure_path(workflow, name, state, states):
    [catcher] = [c for c in state.get("Catch", []) if c["ErrorEquals"] == ["States.ALL"]]
    # The error is kept beside the input, so the failure path still has both
    assert catcher.get("ResultPath", "$") != "$", (workflow, name)
    following = states[catcher["Next"]]
    if state["Resource"] == RECORD_FAILURE:
        # Recording failed too: fail all the same
        assert following["Type"] == "Fail", (workflow, name)
        return
    # A Pass names the workflow and the state, then the failure is recorded, then it fails
    assert following["Type"] == "Pass", (workflow, name)
    parameters = following["Parameters"]
    assert (parameters["workflow"], parameters["state"]) == (workflow, name)
    assert parameters["error.$"] == catcher["ResultPath"]
    record = states[following["Next"]]
    assert (record["Type"], record["Resource"]) == ("Task", RECORD_FAILURE), (workflow, name)
    assert record["ResultPath"] is None, "the Fail state reads the failure, not the recording"
    failed = states[record["Next"]]
    assert failed["Type"] == "Fail" and not failed["Error"].startswith("States.")


def test_a_distributed_map_catches_its_own_failure_and_tolerates_a_percentage_only():
    maps = [
        (workflow, name, state)
        for workflow, definition in _machines()
        for states in _scopes(definition)
        for name, state in states.items()
        if state["Type"] == "Map"
    ]
    assert maps, "reconciliation fans out with a Map"
    for workflow, name, state in maps:
        config = state["ItemProcessor"]["ProcessorConfig"]
        assert (config["Mode"], config["ExecutionType"]) == ("DISTRIBUTED", "STANDARD"), name
        assert 0 < state["ToleratedFailurePercentage"] < 100, name
        # The local stage's moto hook applies the percentage only (localstage/clock.py)
        assert "ToleratedFailureCount" not in state and "ToleratedFailureCountPath" not in state
        [catcher] = state["Catch"]
        assert catcher["ErrorEquals"] == ["States.ALL"], (workflow, name)


def test_a_choice_on_deferred_checks_it_is_present_first():
    # Step Functions fails the execution (States.Runtime) when a Choice reads a path the input
    # lacks; only an execution that deferred has `deferred`.
    for workflow, definition in _machines():
        for states in _scopes(definition):
            for name, state in states.items():
                for rule in state.get("Choices", []):
                    if rule.get("Variable") == "$.deferred":
                        pytest.fail(f"{workflow}.{name} reads $.deferred unguarded")
                    if any(r.get("Variable") == "$.deferred" for r in rule.get("And", [])):
                        assert rule["And"][0] == {"Variable": "$.deferred", "IsPresent": True}
