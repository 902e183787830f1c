"""Benchmark of a rerun's memory: `cronops rerun` of a job printing 50 MB on a real sshd host.

From the repo root, as root: `python bench/bench_rerun.py [--mb 50] [--keep]`. Not a test. It
starts a one-host fleet (tests/fleet.py) whose job prints MB megabytes of numbered lines, runs
`cronops rerun ID --yes` as a subprocess with its stdout to a file, and prints the peak RSS of
that process (wait4) against the target, 300 MB, with the wall time and the bytes received."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_MB = 300
# Lines of 100 bytes, so the output is exactly MB megabytes (no % in it: in a crontab that is a
# newline).
JOB = "yes " + "x" * 99 + " | head -n {lines}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50, help="megabytes the job prints (default 50)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    from tests.fleet import Fleet, require_fleet_tools

    problem = require_fleet_tools()
    if problem:
        print(f"cannot start a fleet: {problem}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="cronops-bench-rerun-"))
    try:
        with Fleet(work / "fleet") as fleet:
            return rerun_loud_job(fleet, work, args.mb)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def rerun_loud_job(fleet, work: Path, mb: int) -> int:
    """Start the host, rerun its job as a subprocess, print the figures; 0 when on target."""
    from cronops.store import Store
    from tests.fleet import HostSpec

    lines = mb * 1_000_000 // 100
    fleet.start([HostSpec(name="loud", crontabs={"root": f"@daily {JOB.format(lines=lines)}\n"})])
    inventory, db = work / "hosts.toml", work / "history.db"
    inventory.write_text(fleet.inventory_toml())
    common = ["--inventory", str(inventory), "--db", str(db)]
    env = os.environ | {"PYTHONPATH": str(REPO)}
    cronops = [sys.executable, "-m", "cronops"]
    subprocess.run([*cronops, "scan", *common], check=True, capture_output=True, env=env)
    store = Store(db)
    try:
        (job,) = [e.id for e in store.entries() if e.command.startswith("yes ")]
    finally:
        store.close()

    out = work / "rerun.out"
    with out.open("wb") as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*cronops, "rerun", job, "--yes", *common],
            stdout=sink,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        assert proc.stderr is not None
        said = proc.stderr.read().decode(errors="replace").strip()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    received = out.stat().st_size
    peak = usage.ru_maxrss / 1024
    print(f"rerun of a job printing {mb} MB: exit {code} ({said.splitlines()[-1]})")
    print(f"  received {received / 1e6:.1f} MB of {lines * 100 / 1e6:.1f} MB in {wall:.1f} s")
    verdict = "ok" if peak <= TARGET_MB else "MISSED"
    print(f"  peak RSS {peak:.0f} MB (target <= {TARGET_MB} MB: {verdict})")
    return 0 if code == 0 and received == lines * 100 and peak <= TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
