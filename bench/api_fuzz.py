"""API fuzzing: schemathesis against a running ``callhook serve``'s ``/openapi.json``.

Starts ``callhook serve`` (SQLite in a temporary folder, an API token configured), stores a few
calls so the routes have data, and runs ``schemathesis run`` on every operation and parameter
with every check (``--checks all``: no 5xx, status codes, content types, headers and bodies as
documented, ``Allow`` on 405, authentication not ignored, ...) in every phase (coverage, fuzzing,
and stateful sequences over the links it infers). ``/api/stream`` is left out: it is an endless
server-sent-events stream.

Parameters whose validity a schema cannot state (an opaque ``cursor``, a calendar date in
``since``) are answered 400 with the parameter's path, so ``positive_data_acceptance`` takes
400 (and 422 for the webhook) as expected.

Usage: ``python bench/api_fuzz.py [--max-examples 200] [--seed N]``; needs ``schemathesis``
(in the ``dev`` extra). The last line is ``RESULT cases=... failures=... server_errors=...``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import call_events, serve

TOKEN = "api-fuzz-token-0123456789"
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "403", "404", "422"]
"""


def run(max_examples: int, seed: int | None, folder: Path) -> tuple[int, int, int, str]:
    """Fuzz a fresh server; (cases, failures, 5xx responses, schemathesis's output)."""
    config = folder / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {"CALLHOOK_API_TOKEN": TOKEN}
    with serve(f"sqlite:///{folder / 'fuzz.sqlite3'}", folder, env=env) as (_, port):
        base = f"http://127.0.0.1:{port}"
        for n in range(3):
            for body in call_events(f"fuzz-{n}"):
                post = urllib.request.Request(
                    f"{base}/webhook", body, {"content-type": "application/json"}
                )
                urllib.request.urlopen(post, timeout=30).close()
        command = [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(config),
            "run",
            f"{base}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(max_examples),
            "--exclude-path",
            "/api/stream",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--max-failures=1000",
        ]
        if seed is not None:
            command += ["--seed", str(seed)]
        done = subprocess.run(  # in the temporary folder: its cache stays out of the repo
            command, capture_output=True, text=True, timeout=3600, cwd=folder
        )
    output = done.stdout + done.stderr
    generated = re.search(r"(\d+) generated", output)
    failures = re.search(r"(\d+) unique failures?", output)
    server_errors = len(re.findall(r"^\[5\d\d\]", output, re.MULTILINE))
    cases = int(generated.group(1)) if generated else 0
    failed = int(failures.group(1)) if failures else (0 if done.returncode == 0 else -1)
    return cases, failed, server_errors, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="callhook-api-fuzz-") as tmp:
        cases, failures, server_errors, output = run(args.max_examples, args.seed, Path(tmp))
    print(output)
    print(f"RESULT cases={cases} failures={failures} server_errors={server_errors}")
    if failures or server_errors or not cases:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
