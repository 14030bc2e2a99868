#!/usr/bin/env python3
"""Hostile clients against a real `promptops registry serve` (issue 21, item 3): before/after figures.

Usage:
    bench/hostile/registry_attacks.py BINARY [ATTACK ...] [-- EXTRA SERVE FLAGS]

BINARY is a `promptops` binary (e.g. target/debug/promptops). Each attack starts its own server
on a fresh SQLite store, under `prlimit --nofile=1024` (the usual default soft limit), and prints
one JSON line: wall time, the server's peak RSS (VmHWM) and CPU time, and the outcome.
Attacks (all by default): slowloris idle connections unauth_bodies huge_declared query diff
validation template_bomb. Standard library only; the client side raises its own fd limit.
"""

import hashlib
import http.client
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

READER, AUTHOR = "reader-token", "author-token"


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


class Server:
    def __init__(self, binary, extra):
        self.dir = tempfile.mkdtemp(prefix="registry-attack-")
        tokens = os.path.join(self.dir, "tokens.yaml")
        with open(tokens, "w") as f:
            f.write(
                "tokens:\n"
                f"  - {{name: reader, role: reader, sha256: {sha(READER)}}}\n"
                f"  - {{name: author, role: author, sha256: {sha(AUTHOR)}}}\n"
                f"  - {{name: bot, role: releaser, sha256: {sha('releaser-token')}}}\n"
            )
        cmd = ["prlimit", "--nofile=1024:1024", "--", binary, "registry", "serve",
               "--listen", "127.0.0.1:0", "--store", f"sqlite:{self.dir}/db",
               "--tokens", tokens] + extra
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        if "listening on http://" not in line:
            raise SystemExit(f"server did not start: {line}")
        hostport = line.split("http://")[1].split()[0]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def status(self, field):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) // 1024  # MiB
        except FileNotFoundError:
            return None

    def cpu_seconds(self):
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except FileNotFoundError:
            return None

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def request(server, method, path, token=None, body=None, content_type="application/json",
            timeout=10, headers=None):
    """(status, json body or text, seconds) or ("error: ...", None, seconds)."""
    start = time.monotonic()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        if body is not None:
            h["Content-Type"] = content_type
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        try:
            data = json.loads(data) if data else None
        except ValueError:
            data = data[:200].decode(errors="replace")
        return resp.status, data, time.monotonic() - start
    except Exception as err:  # noqa: BLE001 - every failure is an outcome here
        return f"error: {type(err).__name__}: {err}", None, time.monotonic() - start
    finally:
        conn.close()


def push(server, pid, version, content):
    return request(server, "POST", "/prompts", AUTHOR,
                   json.dumps({"prompt_id": pid, "version": version, "content": content}),
                   timeout=600)


def stable_prompt(server):
    """A stable prompt `reader.p` for production reads."""
    assert push(server, "reader.p", "1", "Hello {{ name }}")[0] == 201
    status = request(server, "POST", "/prompts/reader.p/promote", "releaser-token",
                     json.dumps({"version": "1"}))[0]
    assert status == 200, status


def read_latencies(server, stop, out):
    """Production reads in a loop until `stop`; appends (status, seconds)."""
    while not stop.is_set():
        status, _, took = request(server, "GET", "/prompts/reader.p", READER, timeout=120)
        out.append((status, round(took, 3)))
        time.sleep(0.05)


def connect(server):
    s = socket.create_connection((server.host, server.port), timeout=5)
    return s


def closed_by_server(sock, wait):
    """Seconds until the server closes `sock` (EOF/reset), or None within `wait`."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < wait:
        try:
            data = sock.recv(65536)
            if not data:
                return time.monotonic() - start
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - start
    return None


def watch_closes(socks, wait):
    """For each socket, when the server closed it (None: still open after `wait`)."""
    results = [None] * len(socks)
    start = time.monotonic()

    def one(i):
        t = closed_by_server(socks[i], wait - (time.monotonic() - start))
        results[i] = None if t is None else time.monotonic() - start

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(socks))]
    for t in threads:
        t.start()
    return threads, results


def summary(times):
    closed = sorted(t for t in times if t is not None)
    return {"closed": len(closed), "open": len(times) - len(closed),
            "closed_after_s": [round(closed[0], 1), round(closed[-1], 1)] if closed else None}


# ---------------------------------------------------------------------------------------------

def attack_slowloris(server):
    """200 connections dribble header lines (one every second) for 30 s; a normal client at 2 s."""
    socks = []
    for _ in range(200):
        s = connect(server)
        s.sendall(b"GET /prompts/reader.p HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    stop = threading.Event()

    def dribble():
        while not stop.is_set():
            for s in socks:
                try:
                    s.send(b"X-Slow: 1\r\n")
                except OSError:
                    pass
            time.sleep(1)

    threading.Thread(target=dribble, daemon=True).start()
    threads, closes = watch_closes(socks, 30)
    time.sleep(2)
    normal = request(server, "GET", "/prompts/none", READER, timeout=10)
    for t in threads:
        t.join()
    stop.set()
    for s in socks:
        s.close()
    return {"normal_client": normal[:1] + (round(normal[2], 3),), "slow_sockets": summary(closes)}


def attack_idle(server):
    """100 sockets that never send and 100 keep-alive sockets idle after one request, 30 s."""
    socks = [connect(server) for _ in range(100)]
    kept = []
    for _ in range(100):
        s = connect(server)
        s.sendall(b"GET /prompts/none HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer reader-token\r\n\r\n")
        s.settimeout(5)
        s.recv(65536)  # the answer; the connection stays open (keep-alive)
        kept.append(s)
    threads, closes = watch_closes(socks + kept, 30)
    time.sleep(2)
    normal = request(server, "GET", "/prompts/none", READER, timeout=10)
    for t in threads:
        t.join()
    for s in socks + kept:
        s.close()
    return {"normal_client": normal[:1] + (round(normal[2], 3),),
            "never_sent": summary(closes[:100]), "keep_alive_idle": summary(closes[100:])}


def attack_connections(server):
    """1,100 idle sockets at a 1,024 fd limit; a normal client; then the sockets close."""
    socks = []
    for _ in range(1100):
        try:
            socks.append(connect(server))
        except OSError:
            break
    time.sleep(1)
    during = request(server, "GET", "/prompts/none", READER, timeout=10)
    for s in socks:
        s.close()
    time.sleep(1.5)
    after = request(server, "GET", "/prompts/none", READER, timeout=10)
    return {"sockets": len(socks), "normal_client_during": during[:2] + (round(during[2], 3),),
            "normal_client_after_close": after[:1] + (round(after[2], 3),)}


def attack_unauth_bodies(server):
    """500 unauthenticated POSTs of 1 MiB that hold back their last byte."""
    rss_before = server.status("VmRSS")
    size = 1024 * 1024
    socks, answered = [], 0
    payload = b" " * (size - 1)

    def one():
        nonlocal answered
        try:
            s = connect(server)
            s.sendall(b"POST /prompts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      + f"Content-Length: {size}\r\n\r\n".encode())
            try:
                s.sendall(payload)
            except OSError:
                pass
            socks.append(s)
        except OSError:
            pass

    start = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(500)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = time.monotonic() - start
    time.sleep(2)
    statuses = {}
    for s in socks:
        s.settimeout(0.01)  # answers, if any, came during the 2 s above
        try:
            data = s.recv(200)
            key = data.split(b"\r\n", 1)[0].decode() if data else "closed"
        except socket.timeout:
            key = "no answer (waiting)"
        except OSError as err:
            key = f"error {err.errno}"
        statuses[key] = statuses.get(key, 0) + 1
    rss_held = server.status("VmRSS")
    for s in socks:
        s.close()
    return {"send_s": round(sent, 1), "rss_before_mib": rss_before, "rss_held_mib": rss_held,
            "answers": statuses}


def attack_huge_declared(server):
    """Content-Length: 10 GB with headers only: unauthenticated and as an author."""
    out = {}
    for who, token in (("unauthenticated", None), ("author", AUTHOR)):
        s = connect(server)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        start = time.monotonic()
        s.sendall(("POST /prompts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   f"{auth}Content-Length: 10000000000\r\n\r\n").encode())
        s.settimeout(10)
        try:
            data = s.recv(300)
            out[who] = [data.split(b"\r\n", 1)[0].decode() if data else "closed",
                        round(time.monotonic() - start, 3)]
        except socket.timeout:
            out[who] = ["no answer in 10 s", 10]
        s.close()
    return out


def attack_query(server):
    """A 13,001-parameter query string (one name twice), unauthenticated and as a reader."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"

    def name(i):  # distinct short names, so the URI stays under hyper's 64 KiB limit
        text = ""
        while True:
            text = digits[i % 36] + text
            i //= 36
            if not i:
                return "q" + text

    # 13,000 distinct names and one duplicate at the end (the duplicate check scans them all)
    query = "&".join(name(i) for i in range(13000)) + "&q0"
    out = {"query_bytes": len(query)}
    for who, token in (("unauthenticated", None), ("reader", READER)):
        cpu = server.cpu_seconds()
        status, body, took = request(server, "GET", f"/prompts/reader.p?{query}", token)
        out[who] = [status, (body or {}).get("code") if isinstance(body, dict) else body,
                    round(took, 3), round(server.cpu_seconds() - cpu, 2)]
    return out


def unrelated_template(seed, lines=16000):
    """16k lines no line of the other version shares, within the 256 KiB template limit."""
    return "\n".join(f"{seed}{i}" for i in range(lines))


def attack_diff(server):
    """Two concurrent diffs of two unrelated 16k-line versions while a reader polls production."""
    stable_prompt(server)
    for version, seed in (("1", "a"), ("2", "b")):
        status, body, took = push(server, "big.diff", version, unrelated_template(seed))
        assert status == 201, (status, body)
    latencies = []
    stop = threading.Event()
    reader = threading.Thread(target=read_latencies, args=(server, stop, latencies))
    reader.start()
    time.sleep(0.5)
    diffs = []

    def one():
        status, body, took = request(server, "GET", "/prompts/big.diff/diff?v1=1&v2=2", AUTHOR,
                                     timeout=300)
        diffs.append([status, body.get("code") if isinstance(body, dict) and "code" in body
                      else "diff", round(took, 1)])

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(0.5)
    stop.set()
    reader.join()
    worst = max(latencies, key=lambda x: x[1] if isinstance(x[0], int) else 1e9)
    return {"diffs": diffs, "reads": len(latencies), "slowest_read": worst,
            "reader_statuses": sorted({str(s) for s, _ in latencies})}


def attack_validation(server):
    """Two concurrent pushes whose validation is CPU-heavy (a prompt file with 1,500 undeclared
    variables) while a reader polls production."""
    stable_prompt(server)
    body = ("id: slow.push\nversion: 1\nowner: x\nmodel: nova-lite\ntags: []\n"
            "variables:\n  declared: {type: string}\ntemplate: |\n  {{ declared }}\n"
            + "".join(f"  {{{{ v{i} }}}}\n" for i in range(1500)))
    latencies = []
    stop = threading.Event()
    reader = threading.Thread(target=read_latencies, args=(server, stop, latencies))
    reader.start()
    time.sleep(0.5)
    pushes = []

    def one():
        status, answer, took = request(server, "POST", "/prompts", AUTHOR, body,
                                       content_type="application/yaml", timeout=600)
        pushes.append([status, answer.get("code") if isinstance(answer, dict) else answer,
                       round(took, 1)])

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(0.5)
    stop.set()
    reader.join()
    worst = max(latencies, key=lambda x: x[1] if isinstance(x[0], int) else 1e9)
    return {"pushes": pushes, "reads": len(latencies), "slowest_read": worst}


def attack_template_bomb(server):
    """`{{ x|upper|upper|… }}` ×2000 as a JSON push."""
    content = "{{ x" + "|upper" * 2000 + " }}"
    status, body, took = push(server, "bomb", "1", content)
    codes = [d.get("code") for d in (body or {}).get("diagnostics", [])] if isinstance(body, dict) else body
    return {"status": status, "diagnostics": codes, "s": round(took, 3)}


ATTACKS = ["slowloris", "idle", "connections", "unauth_bodies", "huge_declared", "query", "diff",
           "validation", "template_bomb"]


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        extra = args[args.index("--") + 1:]
        args = args[:args.index("--")]
    if not args:
        raise SystemExit(__doc__)
    binary, names = args[0], args[1:] or ATTACKS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    for name in names:
        server = Server(binary, extra)
        start = time.monotonic()
        try:
            outcome = globals()[f"attack_{name}"](server)
        except Exception as err:  # noqa: BLE001
            outcome = {"failed": f"{type(err).__name__}: {err}"}
        wall = time.monotonic() - start
        alive = server.alive()
        print(json.dumps({"attack": name, "wall_s": round(wall, 1),
                          "peak_rss_mib": server.status("VmHWM"), "peak_vm_mib": server.status("VmPeak"),
                          "cpu_s": server.cpu_seconds(), "alive": alive, **outcome}), flush=True)
        server.close()


if __name__ == "__main__":
    main()
