"""Drives a running oxify-api server through a client generated from its OpenAPI document by
openapi-python-client: create, execute, get, list and cancel, with typed models throughout.

Usage: python3 drive_python_client.py <base_url> <example.json>   (the client package on PYTHONPATH)
"""

import json
import sys
import time

from oxify_client import Client
from oxify_client.api.executions import (
    cancel_execution,
    execute_workflow,
    get_execution,
    list_executions,
)
from oxify_client.api.workflows import create_workflow, get_workflow, list_workflows
from oxify_client.models import (
    CancelResponse,
    ErrorBody,
    ExecuteRequest,
    ExecuteResponse,
    ExecutionList,
    ExecutionResponse,
    ExecutionState,
    IfElseKind,
    NodeStatus,
    WorkflowCreated,
    WorkflowRequest,
    WorkflowResponse,
)
from oxify_client.models.execute_request_variables import ExecuteRequestVariables


def check(condition, message):
    if not condition:
        sys.exit(f"FAILED: {message}")


def finished(client, execution_id):
    for _ in range(500):
        run = get_execution.sync(client=client, id=execution_id)
        check(isinstance(run, ExecutionResponse), f"get_execution returned {run!r}")
        if run.state in (ExecutionState.COMPLETED, ExecutionState.FAILED, ExecutionState.CANCELLED):
            return run
        time.sleep(0.02)
    sys.exit(f"FAILED: execution {execution_id} did not finish")


def main():
    base_url, example_path = sys.argv[1], sys.argv[2]
    client = Client(base_url=base_url, raise_on_unexpected_status=True)
    with open(example_path) as f:
        example = json.load(f)

    # Create: the document's own example, through the typed model and back.
    request = WorkflowRequest.from_dict(example)
    check(isinstance(request.workflow.nodes[1].kind, IfElseKind), "node kinds parse into named classes")
    created = create_workflow.sync(client=client, body=request)
    check(isinstance(created, WorkflowCreated), f"create_workflow returned {created!r}")
    got = get_workflow.sync(client=client, id=created.id)
    check(isinstance(got, WorkflowResponse), f"get_workflow returned {got!r}")
    check(got.workflow.metadata.name == "greeter", "the stored workflow reads back")
    check(got.workflow.nodes[0].position == [0, 0], "position is [x, y]")

    # Execute with variables, and without a body at all.
    variables = ExecuteRequestVariables.from_dict({"name": "Ada", "orders": 12})
    started = execute_workflow.sync(client=client, id=created.id, body=ExecuteRequest(variables=variables))
    check(isinstance(started, ExecuteResponse), f"execute_workflow returned {started!r}")
    run = finished(client, started.execution_id)
    check(run.state == ExecutionState.COMPLETED, f"the run completed: {run.state}")
    thanked = [r for r in run.node_results if r.node_id == "thank_vip"][0]
    check(thanked.status == NodeStatus.SUCCEEDED, f"thank_vip succeeded: {thanked.status}")
    check(
        thanked.output["results"]["message"]["value"] == "Thank you, Ada, for 12 orders!",
        f"the output: {thanked.output}",
    )
    bare = execute_workflow.sync(client=client, id=created.id)
    check(isinstance(bare, ExecuteResponse), f"execute_workflow without a body returned {bare!r}")
    finished(client, bare.execution_id)

    # List, filtered by an enum.
    listed = list_executions.sync(client=client, state=ExecutionState.COMPLETED, workflow_id=created.id, limit=1)
    check(isinstance(listed, ExecutionList), f"list_executions returned {listed!r}")
    check(listed.total >= 1 and len(listed.executions) == 1, f"one page of completed runs: {listed.total}")
    if listed.next_cursor:
        after = list_executions.sync(client=client, cursor=listed.next_cursor, limit=1)
        check(isinstance(after, ExecutionList), "the next page")
    check(list_workflows.sync(client=client).total >= 1, "workflows are listed")

    # Cancel: a slow run is stopped; a finished one is a typed 409.
    slow = {"workflow": {
        "metadata": {"name": "slow"},
        "nodes": [
            {"id": "start", "name": "Start", "kind": {"type": "Start"}},
            {"id": "work", "name": "Work", "kind": {"type": "Code", "config": {"runtime": "rhai", "code": "sleep 30000", "output": "out"}}},
            {"id": "end", "name": "End", "kind": {"type": "End"}},
        ],
        "edges": [{"from": "start", "to": "work"}, {"from": "work", "to": "end"}],
    }}
    slow_id = create_workflow.sync(client=client, body=WorkflowRequest.from_dict(slow)).id
    running = execute_workflow.sync(client=client, id=slow_id)
    cancelled = cancel_execution.sync(client=client, id=running.execution_id)
    check(isinstance(cancelled, CancelResponse), f"cancel_execution returned {cancelled!r}")
    check(cancelled.state == ExecutionState.CANCELLED, f"cancelled: {cancelled.state}")
    again = cancel_execution.sync(client=client, id=started.execution_id)
    check(isinstance(again, ErrorBody) and again.error.value == "InvalidState", f"cancelling a finished run: {again!r}")
    print("python client: create, execute, get, list and cancel all passed")


if __name__ == "__main__":
    main()
