#!/usr/bin/env python3
"""Cold start of a Lambda `bootstrap` against a local fake Lambda Runtime API (stdlib only).

The same approach as examples/lambda/examples/cold_start.rs (bench/lambda_bench.sh): each run
starts a fresh Runtime API with one event queued, spawns the binary, and times spawn → its first
`GET /2018-06-01/runtime/invocation/next` (init) and spawn → its first posted response (init +
one invocation), then kills it. A last process serves --warm events back to back (event queued →
response posted). Prints a Markdown table of medians / min / max.

    bench/lambda_cold_start.py --bootstrap PATH --event EVENT.json [--runs 20] [--warm 200]
        [--env NAME=VALUE ...] [--label TEXT] [--init-only]
"""

import argparse
import http.server
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
import uuid

PREFIX = "/2018-06-01/runtime/"


class RuntimeApi:
    """One fake Runtime API on a loopback port: queued events out, responses in, with times."""

    def __init__(self):
        self.events = queue.Queue()
        self.first_poll = None
        self.responses = queue.Queue()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != PREFIX + "invocation/next":
                    return self.reply(404, b"{}")
                if api.first_poll is None:
                    api.first_poll = time.perf_counter()
                body = api.events.get()
                if body is None:  # shutting down
                    return self.reply(410, b"{}")
                request_id = str(uuid.uuid4())
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length) if length else b""
                if self.path.startswith(PREFIX + "invocation/"):
                    api.responses.put((time.perf_counter(), self.path.rsplit("/", 1)[1], payload))
                self.reply(202, b"{}")

            def reply(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # the function is killed mid-request at the end of each run

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.events.put(None)
        self.server.shutdown()
        self.server.server_close()


def lambda_env(address, extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_LAMBDA_RUNTIME_API=address,
        AWS_LAMBDA_FUNCTION_NAME="bench",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_LOG_STREAM_NAME="2026/01/01/[$LATEST]0123456789abcdef",
        AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/bench",
    )
    env.update(extra)
    return env


def one_cold_start(args, event, extra):
    api = RuntimeApi()
    api.events.put(event)
    start = time.perf_counter()
    proc = subprocess.Popen([args.bootstrap], env=lambda_env(api.address, extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if args.init_only:
            deadline = start + 30
            while api.first_poll is None and time.perf_counter() < deadline:
                time.sleep(0.0002)
            if api.first_poll is None:
                raise SystemExit("the function never polled for an event")
            return (api.first_poll - start) * 1000, None, None
        at, kind, payload = api.responses.get(timeout=30)
        if kind != "response":
            raise SystemExit(f"the function reported an error: {payload[:500]!r}")
        return (api.first_poll - start) * 1000, (at - start) * 1000, payload
    finally:
        proc.kill()
        proc.wait()
        api.close()


def warm(args, event, extra):
    api = RuntimeApi()
    proc = subprocess.Popen([args.bootstrap], env=lambda_env(api.address, extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        api.events.put(event)
        api.responses.get(timeout=30)  # the first one is cold
        times = []
        for _ in range(args.warm):
            queued = time.perf_counter()
            api.events.put(event)
            at, kind, _ = api.responses.get(timeout=30)
            if kind != "response":
                raise SystemExit("a warm invocation failed")
            times.append((at - queued) * 1000)
        return times
    finally:
        proc.kill()
        proc.wait()
        api.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--event", required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--label", default="")
    parser.add_argument("--init-only", action="store_true", help="time init only (the first event is never answered usefully)")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    event = open(args.event, "rb").read()

    inits, firsts = [], []
    payload = None
    for _ in range(args.runs):
        init, first, payload = one_cold_start(args, event, extra)
        inits.append(init)
        if first is not None:
            firsts.append(first)
    label = args.label or os.path.basename(args.bootstrap)
    row = lambda name, xs: f"| {label}: {name} | {statistics.median(xs):.2f} ms | {min(xs):.2f} ms | {max(xs):.2f} ms |"
    print(f"| {args.runs} cold starts | median | min | max |")
    print("|---|---:|---:|---:|")
    print(row("spawn → first poll (init)", inits))
    if firsts:
        print(row("spawn → first response", firsts))
    if not args.init_only and args.warm:
        times = sorted(warm(args, event, extra))
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print()
        print(f"| warm invocation, {args.warm} events, one process | median | p99 | max |")
        print("|---|---:|---:|---:|")
        print(f"| {label} | {statistics.median(times):.3f} ms | {p99:.3f} ms | {times[-1]:.3f} ms |")
    if payload is not None:
        print(f"\nfirst response: {payload[:200].decode(errors='replace')}", file=sys.stderr)


if __name__ == "__main__":
    main()
