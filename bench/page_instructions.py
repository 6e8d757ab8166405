"""Benchmark: instructions the app spends on a fixed mix of everyday pages, counted by callgrind.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench .venv/bin/python bench/page_instructions.py \
        [--tree PATH] [--user load03] [--rounds 2]

Timings on this machine move by half between minutes (other work on the host), so two versions of
the code are compared by instructions instead: the same pages, the same rows, counted by
`valgrind --tool=callgrind`, which gives the same total for the same work whatever else the
machine does. The database must be bench/load.py's (bench/pages.py --reuse leaves it built);
copy it first (`createdb -T bench pages_fixed`) so that runs read the very same rows.

The app of --tree (default: this checkout) signs one officer in and warms up (templates, SQL
caches); only then are instructions counted, over ROUNDS of the mix: a firm-list page ×3, a search
×2, a firm ×3, "My follow-ups" ×2, a follow-up ×2 and the import page, 13 requests a round. The
database server's work is not counted (another process). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def mix(tree: Path, user: str, rounds: int, signals: Path) -> None:
    """The measured part, run under callgrind: waits for `signals/go`, then requests the mix."""
    sys.path.insert(0, str(tree))
    os.chdir(tree)
    sys.path.insert(0, str(tree / "bench"))
    from load import PASSWORD

    from wsgi import app

    client = app.test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True))
    assert token, "no sign-in form"
    signed_in = client.post("/login", data={"csrf_token": token.group(1), "username": user, "password": PASSWORD})
    assert signed_in.status_code == 302, signed_in.status_code
    followup = re.findall(r'href="/followups/(\d+)"', client.get("/followups/?view=all").get_data(as_text=True))[0]
    firm = re.findall(r'href="/firms/(\d+)"', client.get("/firms/?page=3").get_data(as_text=True))[0]
    pages = (
        ["/firms/?page=7"] * 3
        + ["/firms/?q=基准012"] * 2
        + [f"/firms/{firm}"] * 3
        + ["/followups/?view=all"] * 2
        + [f"/followups/{followup}"] * 2
        + ["/roster/imports"]
    )
    for _ in range(2):  # warm: templates compiled, SQL compiled and cached
        for path in pages:
            assert client.get(path).status_code == 200, path
    (signals / "ready").touch()
    while not (signals / "go").exists():
        time.sleep(0.1)
    for _ in range(rounds):
        for path in pages:
            client.get(path)
    (signals / "done").touch()
    while not (signals / "exit").exists():
        time.sleep(0.1)


def wait_for(path: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    while not path.exists():
        if process.poll() is not None:
            raise SystemExit(f"the measured process ended early; see {log}:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose app is measured")
    parser.add_argument("--user", default="load03")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: the process under callgrind
    options = parser.parse_args()
    if options.measure:
        mix(options.tree.resolve(), options.user, options.rounds, options.measure)
        return
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a copy of bench/load.py's PostgreSQL database")
    valgrind, control = shutil.which("valgrind"), shutil.which("callgrind_control")
    if not (valgrind and control):
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as work:
        signals, out, log = Path(work), Path(work) / "callgrind.out", Path(work) / "measured.log"
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONMALLOC": "malloc", "SECRET_KEY": "bench"}
        command = [
            valgrind,
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--tree",
            str(options.tree),
            "--user",
            options.user,
            "--rounds",
            str(options.rounds),
            "--measure",
            str(signals),
        ]
        with log.open("wb") as output:
            process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_for(signals / "ready", process, log)
            subprocess.run([control, "--instr=on", str(process.pid)], check=True, capture_output=True)
            (signals / "go").touch()
            wait_for(signals / "done", process, log)
            subprocess.run([control, "--instr=off", str(process.pid)], check=True, capture_output=True)
            (signals / "exit").touch()
            process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
        totals = re.search(r"^totals:\s*(\d+)", out.read_text(), re.MULTILINE)
        if not totals:
            raise SystemExit(f"no totals in callgrind's output; see {log}")
    instructions = int(totals.group(1))
    requests = 13 * options.rounds
    print(
        json.dumps(
            {
                "benchmark": "page_instructions",
                "tree": str(options.tree),
                "requests": requests,
                "instructions": instructions,
                "instructions_per_request": instructions // requests,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
