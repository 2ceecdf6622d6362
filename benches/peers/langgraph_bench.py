#!/usr/bin/env python3
"""LangGraph peer benchmark: in-process StateGraph runs of oxify's benchmark shapes.

Every node is a no-op (returns an empty update, or passes the payload along).
Each size runs in its own child process, so a hung or huge run can be killed
cleanly (LangGraph runs parallel nodes on threads that cannot be interrupted)
and one size's garbage does not slow the next. The parent prints one JSON
object per size on stdout; see README.md for the fields.

    python langgraph_bench.py --shape chain --n 10,100 --repeat 3
    python langgraph_bench.py --shape lattice --n 100x100
"""
import argparse
import gc
import itertools
import json
import os
import queue
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from importlib.metadata import version

SHAPES = ("chain", "fanout", "lattice", "sequential", "payload")
DEFAULT_N = {"chain": "100", "fanout": "100", "lattice": "100x100",
             "sequential": "1000", "payload": "1K"}


def parse_n(shape, text):
    """'100', '1K'/'1M' (payload bytes, binary units) or 'RxC' (lattice)."""
    text = text.strip().upper()
    if shape == "lattice":
        rows, _, cols = text.partition("X")
        return int(rows), int(cols or rows)
    mult = {"K": 1024, "M": 1024 * 1024}.get(text[-1:], 1)
    return int(text.rstrip("KM")) * mult


# ---------------------------------------------------------------- child side

def build(shape, n, use_async):
    """Returns (StateGraph builder, input, nodes per invocation, invocations per run, counter)."""
    from typing_extensions import TypedDict
    from langgraph.graph import END, START, StateGraph  # imported (untimed) by child() first

    class State(TypedDict, total=False):
        data: str

    # itertools.count is atomic under the GIL, so it counts node executions
    # correctly even when LangGraph runs parallel nodes on threads.
    counter = itertools.count()
    if use_async:
        async def noop(state):
            next(counter)
            return {}

        async def carry(state):
            next(counter)
            return {"data": state["data"]}
    else:
        def noop(state):
            next(counter)
            return {}

        def carry(state):
            next(counter)
            return {"data": state["data"]}

    g = StateGraph(State)
    inp, calls = {"data": ""}, 1
    if shape in ("chain", "sequential", "payload"):
        length = {"chain": n, "sequential": 3, "payload": 10}[shape]
        fn = carry if shape == "payload" else noop
        names = [f"n{i}" for i in range(length)]
        for name in names:
            g.add_node(name, fn)
        g.add_edge(START, names[0])
        for a, b in zip(names, names[1:]):
            g.add_edge(a, b)
        g.add_edge(names[-1], END)
        nodes = length
        if shape == "sequential":
            calls = n
        if shape == "payload":
            inp = {"data": "x" * n}
    elif shape == "fanout":
        g.add_node("start", noop)
        g.add_node("join", noop)
        g.add_edge(START, "start")
        branches = [f"p{i}" for i in range(n)]
        for b in branches:
            g.add_node(b, noop)
            g.add_edge("start", b)
        # A list of sources is LangGraph's "wait for ALL of them" edge (a barrier),
        # the same join semantics as oxify's; the branches write nothing, so no
        # reducer is needed on the state.
        g.add_edge(branches, "join")
        g.add_edge("join", END)
        nodes = n + 2
    elif shape == "lattice":
        rows, cols = n
        for r in range(rows):
            for c in range(cols):
                g.add_node(f"r{r}c{c}", noop)
                preds = ([f"r{r - 1}c{c}"] if r else []) + ([f"r{r}c{c - 1}"] if c else [])
                g.add_edge(preds if len(preds) > 1 else (preds[0] if preds else START),
                           f"r{r}c{c}")
        g.add_edge(f"r{rows - 1}c{cols - 1}", END)
        nodes = rows * cols
    else:
        raise ValueError(shape)
    return g, inp, nodes, calls, counter


def child(args):
    """Runs one size; reports progress as JSON lines so the parent can time it out."""
    def emit(**kv):
        print(json.dumps(kv), flush=True)

    if args.max_mem_gb > 0:  # keep a runaway graph from starving the machine
        lim = int(args.max_mem_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    n = parse_n(args.shape, args.n)
    try:
        import langgraph.graph  # noqa: F401  (so build_s does not include the import)
        t0 = time.perf_counter()
        g, inp, nodes, calls, counter = build(args.shape, n, args.api == "async")
        t1 = time.perf_counter()
        app = g.compile()
        t2 = time.perf_counter()
        emit(event="compiled", build_s=t1 - t0, compile_s=t2 - t1, nodes=nodes, calls=calls)
        # A chain of N nodes takes N supersteps; every shape takes at most `nodes`.
        config = {"recursion_limit": nodes + 10}
        if args.api == "async":
            import asyncio

            async def invoke_all(k):
                for _ in range(k):
                    await app.ainvoke(inp, config)

            def run(k):
                asyncio.run(invoke_all(k))
        else:
            def run(k):
                for _ in range(k):
                    app.invoke(inp, config)

        # Warm-up: one invocation (or up to 100 for `sequential`), not timed.
        warm = min(calls, 100)
        for phase in ["warmup"] + ["run"] * args.repeat:
            k = warm if phase == "warmup" else calls
            before = next(counter)
            gc.collect()
            t = time.perf_counter()
            run(k)
            s = time.perf_counter() - t
            ran = next(counter) - before - 1
            if ran != k * nodes:  # every node must have run exactly once
                emit(event="error", error="wrong_node_count", detail=f"{ran} != {k * nodes}")
                return
            emit(event=phase, s=s)
    except MemoryError:
        emit(event="error", error="memory", detail=f"over --max-mem-gb {args.max_mem_gb}")
    except Exception as e:  # reported as data: the parent turns it into a JSON line
        emit(event="error", error="exception", detail=f"{type(e).__name__}: {e}"[:500])


# --------------------------------------------------------------- parent side

def measure(args, n_text):
    n = parse_n(args.shape, n_text)
    out = {"peer": "langgraph", "version": version("langgraph"), "api": args.api,
           "python": sys.version.split()[0], "shape": args.shape}
    if args.shape == "lattice":
        out.update(rows=n[0], cols=n[1], n=n[0] * n[1])
    elif args.shape == "payload":
        out.update(n=n, bytes=n)
    else:
        out.update(n=n)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--shape", args.shape,
           "--n", n_text, "--repeat", str(args.repeat), "--api", args.api,
           "--max-mem-gb", str(args.max_mem_gb)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout] + [lines.put(None)],
                     daemon=True).start()
    runs, phase = [], "start+compile"
    try:
        while True:
            # The budget applies to each phase: compile, warm-up, and each repeat.
            try:
                line = lines.get(timeout=args.timeout_s)
            except queue.Empty:
                out.update(error="timeout", phase=phase, timeout_s=args.timeout_s)
                break
            if line is None:
                if len(runs) < args.repeat and "error" not in out:
                    out.update(error="crashed", phase=phase, exit_code=proc.wait())
                break
            ev = json.loads(line)
            kind = ev.pop("event")
            if kind == "compiled":
                out.update(ev)
                phase = "warmup"
            elif kind == "warmup":
                out["warmup_s"] = ev["s"]
                phase = "run 1"
            elif kind == "run":
                runs.append(ev["s"])
                phase = f"run {len(runs) + 1}"
            elif kind == "error":
                out.update(ev, phase=phase)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    out["run_s"] = runs
    if runs:
        med = statistics.median(runs)
        out["median_s"] = med
        out["us_per_node"] = med / (out["nodes"] * out["calls"]) * 1e6
        if args.shape == "sequential":
            out["executions_per_s"] = out["calls"] / med
    print(json.dumps(out), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=SHAPES, required=True)
    p.add_argument("--n", help="comma-separated sizes: nodes (chain, fanout branches), "
                   "invocations (sequential), bytes with K/M suffix (payload), RxC (lattice)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs after one warm-up run")
    p.add_argument("--timeout-s", type=float, default=60, help="budget for each phase of a size")
    p.add_argument("--api", choices=("sync", "async"), default="sync",
                   help="invoke() with def nodes, or ainvoke() with async def nodes")
    p.add_argument("--max-mem-gb", type=float, default=8, help="address-space cap of the child; 0: none")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if args.child:
        return child(args)
    sizes = (args.n or DEFAULT_N[args.shape]).split(",")
    for n_text in sizes:  # reject bad sizes before running anything
        try:
            assert min(parse_n(args.shape, n_text) if args.shape == "lattice"
                       else [parse_n(args.shape, n_text)]) >= 1
        except (ValueError, AssertionError):
            p.error(f"bad --n {n_text!r} for shape {args.shape}")
    for n_text in sizes:
        measure(args, n_text)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # measure()'s finally has already killed the child
        sys.exit(130)
