#!/usr/bin/env python3
"""Issue 21, the pipeline's local bucket mode under attack: `promptops pipeline run` (the real
binary, debug build) over a directory standing in for the bucket, each case under
`prlimit --as` and `/usr/bin/time -v`. Prints one line per case: outcome, wall time, peak RSS.

Usage: bench/hostile/pipeline_local.py PROMPTOPS_BIN [--runs N] [--case NAME]...
Cases: chain (5,000-link filter chain among 200 good inputs), big (400 KB template among 200),
environ (template -> /proc/self/environ), outside (template -> a file outside the bucket),
outputs-dir (beta/outputs -> a directory outside), temp (a planted temp-file symlink at the
name a write uses), slug (2,000 inputs on one slug: publish failures and inconsistent
output/sidecar pairs, over N runs).
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

AS_LIMIT = 2 * 1024**3  # bytes of address space for the binary
CANARY = "PROMPTOPS_CANARY_9f1c2e"
GOOD = "Item {{ n }}: hello"


def bucket(root, goods=200):
    os.makedirs(f"{root}/prompt_inputs")
    os.makedirs(f"{root}/prompt_templates")
    with open(f"{root}/prompt_templates/good.txt", "w") as f:
        f.write(GOOD)
    for i in range(goods):
        write_input(root, f"beta-good-{i:04}", {"template": "good.txt", "variables": {"n": str(i)}})


def write_input(root, name, config):
    config.setdefault("output_format", "md")
    with open(f"{root}/prompt_inputs/{name}.json", "w") as f:
        json.dump(config, f)


def run(binary, root, shell_prefix=None):
    """Runs `promptops pipeline run`; returns (exit code or signal, seconds, peak RSS KiB, stdout)."""
    cmd = ["prlimit", f"--as={AS_LIMIT}", "--", binary, "pipeline", "run", "--bucket-dir", root, "--env", "beta"]
    if shell_prefix:
        # `exec` keeps the shell's pid, so `$$` is the binary's pid.
        cmd = ["sh", "-c", shell_prefix + ' exec "$@"', "sh"] + cmd
    env = {CANARY: "leaked-secret-value", **os.environ}  # first, where the local model echoes it
    proc = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env, timeout=600)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    seconds = (int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))) if wall else -1
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    status = re.search(r"Command terminated by signal (\d+)", proc.stderr)
    code = f"signal {status.group(1)}" if status else f"exit {proc.returncode}"
    if "stack overflow" in proc.stderr or "has overflowed its stack" in proc.stderr:
        code += " (stack overflow)"
    return code, seconds, int(rss.group(1)) if rss else -1, proc.stdout


def count(root, sub, suffix):
    path = f"{root}/beta/{sub}"
    if not os.path.isdir(path):
        return 0
    return sum(1 for n in os.listdir(path)
               if n.endswith(suffix) and not n.endswith(".meta.json") and not n.startswith("."))


def line(case, code, secs, rss, outcome):
    print(f"{case:12} {code:28} {secs:7.2f}s {rss / 1024:8.1f} MiB  {outcome}", flush=True)


def case_bad_template(binary, tmp, case):
    root = f"{tmp}/{case}"
    bucket(root)
    if case == "chain":
        text = "{{ x" + "|upper" * 5000 + " }}"
    else:
        text = "{{ x" + " ~ x" * (400 * 1024 // 4) + " }}"
    with open(f"{root}/prompt_templates/bad.txt", "w") as f:
        f.write(text)
    write_input(root, "beta-bad", {"template": "bad.txt", "variables": {"x": "a"}})
    code, secs, rss, _ = run(binary, root)
    outs, errs = count(root, "outputs", ".md"), count(root, "errors", ".json")
    line(case, code, secs, rss, f"{outs}/200 outputs, {errs} error records ({len(text)} B template)")


def case_symlink_template(binary, tmp, case):
    root = f"{tmp}/{case}"
    bucket(root, goods=1)
    if case == "environ":
        target = "/proc/self/environ"
    else:
        target = f"{tmp}/{case}-outside.txt"
        with open(target, "w") as f:
            f.write("OUTSIDE_SECRET {{ n }}")
    os.symlink(target, f"{root}/prompt_templates/evil.txt")
    variables = {} if case == "environ" else {"n": "1"}
    write_input(root, "beta-evil", {"template": "evil.txt", "variables": variables})
    code, secs, rss, _ = run(binary, root)
    leaked = False
    for sub in ("outputs", "errors"):
        d = f"{root}/beta/{sub}"
        for name in os.listdir(d) if os.path.isdir(d) else []:
            if os.path.isdir(f"{d}/{name}"):
                continue
            with open(f"{d}/{name}", errors="replace") as f:
                body = f.read()
            leaked |= CANARY in body or "OUTSIDE_SECRET" in body
    record = f"{root}/beta/errors/evil.json"
    error = json.load(open(record))["error"] if os.path.exists(record) else "(no error record)"
    line(case, code, secs, rss, f"read outside the bucket: {'YES' if leaked else 'no'}; evil: {error[:90]}")


def case_outputs_dir(binary, tmp):
    root = f"{tmp}/outputs-dir"
    bucket(root, goods=3)
    outside = f"{tmp}/outputs-dir-outside"
    os.makedirs(outside)
    os.makedirs(f"{root}/beta")
    os.symlink(outside, f"{root}/beta/outputs")
    code, secs, rss, _ = run(binary, root)
    written = len(os.listdir(outside))
    line("outputs-dir", code, secs, rss, f"files written outside: {written}; error records: {count(root, 'errors', '.json')}")


def case_temp(binary, tmp):
    root = f"{tmp}/temp"
    bucket(root, goods=0)
    write_input(root, "beta-victim", {"template": "good.txt", "variables": {"n": "1"}})
    victim = f"{tmp}/temp-victim.txt"
    with open(victim, "w") as f:
        f.write("precious")
    os.makedirs(f"{root}/beta/outputs")
    # The name main's write_atomically uses: `.{name}.{pid}.tmp`, for the output and its sidecar.
    plant = (f'ln -s {victim} "{root}/beta/outputs/.victim.md.$$.tmp"; '
             f'ln -s {victim} "{root}/beta/outputs/.victim.md.meta.json.$$.tmp";')
    code, secs, rss, _ = run(binary, root, shell_prefix=plant)
    with open(victim) as f:
        body = f.read()
    state = "overwritten" if body != "precious" else "intact"
    line("temp", code, secs, rss, f"victim outside the bucket: {state}; outputs {count(root, 'outputs', '.md')}, errors {count(root, 'errors', '.json')}")


def case_slug(binary, tmp, runs):
    failed_runs, inconsistent_runs, worst = 0, 0, (0, 0, 0)
    for r in range(runs):
        root = f"{tmp}/slug-{r}"
        bucket(root, goods=0)
        for i in range(2000):
            write_input(root, f"beta-in-{i:04}", {"template": "good.txt", "variables": {"n": f"N{i:04}"}, "output_slug": "same"})
        code, secs, rss, stdout = run(binary, root)
        publish_failures = stdout.count("(publish:")
        consistent = pair_consistent(root, "same.md")
        failed_runs += publish_failures > 0
        inconsistent_runs += not consistent
        worst = max(worst, (secs, rss, publish_failures))
        line(f"slug run {r}", code, secs, rss, f"publish failures {publish_failures}/2000; pair consistent: {consistent}")
        shutil.rmtree(root)
    print(f"slug: runs with publish failures {failed_runs}/{runs}, runs with an inconsistent pair {inconsistent_runs}/{runs}")


def pair_consistent(root, name):
    out = f"{root}/beta/outputs/{name}"
    if not os.path.exists(out):
        return False
    body = open(out, "rb").read()
    meta = json.load(open(out + ".meta.json"))
    n = re.search(rb"Item (N\d{4})", body)
    source = meta.get("source-key", "")
    return (hashlib.sha256(body).hexdigest() == meta.get("content-hash")
            and n is not None and source == f"prompt_inputs/beta-in-{n.group(1)[1:].decode()}.json")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--case", action="append")
    args = parser.parse_args()
    cases = args.case or ["chain", "big", "environ", "outside", "outputs-dir", "temp", "slug"]
    tmp = tempfile.mkdtemp(prefix="promptops-hostile-pipeline-", dir=os.environ.get("HOSTILE_TMP"))
    print(f"{'case':12} {'outcome':28} {'wall':>8} {'peak RSS':>12}  details (prlimit --as={AS_LIMIT})")
    try:
        for case in cases:
            if case in ("chain", "big"):
                case_bad_template(args.binary, tmp, case)
            elif case in ("environ", "outside"):
                case_symlink_template(args.binary, tmp, case)
            elif case == "outputs-dir":
                case_outputs_dir(args.binary, tmp)
            elif case == "temp":
                case_temp(args.binary, tmp)
            elif case == "slug":
                case_slug(args.binary, tmp, args.runs)
            else:
                sys.exit(f"unknown case {case}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
