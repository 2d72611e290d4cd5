"""One call of the GPU session (issue 27) on the device tool's machine, inside its limits: one command of at most
10 minutes, at most 8 files back from one output folder, each at most 16 MiB.

Stages, in this order (``--stages`` picks some):

- ``probe``: does CUDA autocast reach the convolutions of vmapped modules (what bf16 packs rest on)? One test,
  seconds; its answer leads the summary.
- ``tests``: the CUDA tests of the fast path, packs, the scattering front end and precision.
- ``steps``: ``benchmarks/steps.py`` (reference vs fast, lone vs pack of 5; generator, baseline, ChimeraMix+Grid).
- ``runs``: the paper-budget runs, CIFAR-10, k = 10, split seed 0, ``--fast``, one method after the other
  (``--methods``, default baseline then chimeramix-grid with its generator), each a ``chimeramix sweep`` into the
  store ``gpu-store/`` (the same runs ``chimeramix run`` trains; a rerun skips finished jobs and resumes the
  others). A job that has not started is started only when the step times of ``steps`` say it fits in the time
  left; the summary says what was left and what it needs.

Every stage runs under one deadline (``--deadline-s``, default 540 s): a stage still running then is stopped
(SIGTERM: a run keeps its last checkpoint), and the call still packs its state and prints its summary before the
device tool's 600 s. The output folder ``--out`` then holds at most 8 files: ``summary.md`` (also printed last:
paste it into ``benchmarks/RESULTS.md``), ``session.log`` (everything every stage printed), ``steps.json``,
``results.json`` (the store's finished runs) and ``state.tgz.0``, ``state.tgz.1``, ...: the store, packed for a
continuation call on a fresh machine. A later call continues the store it finds on the machine (warm), else the
state parts carried back in ``gpu-state/`` (the device tool's ``carry``). What cannot travel (a classifier's
weights and checkpoints, 44 MB and 88 MB for WRN-16-8) stays behind and is listed: a run interrupted on a machine
that has gone back starts anew.

``--rehearsal`` runs the same stages on a CPU with tiny step counts (``scripts/gpu-stack-rehearsal.sh``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("probe", "tests", "steps", "runs")
METHODS = "baseline,chimeramix-grid"
STORE = "gpu-store"
CARRIED = "gpu-state"
STATE_PART = "state.tgz"
PART_BYTES = 15 * 2**20
"""Bytes per state part: under the device tool's 16 MiB per returned file."""
STATE_BYTES = 26 * 2**20
"""Most bytes of state a call packs: what a continuation can carry beside the data pack (29 MB) and the
repository (6 MB) within the device tool's 64 MiB working tree."""
STOP_GRACE_S = 15.0
"""Seconds a stopped stage gets between SIGTERM and SIGKILL."""
TABLE_S = 30.0
"""The most seconds the store's table may take."""
RESERVE_S = STOP_GRACE_S + TABLE_S + 15.0
"""Seconds the stages leave before the deadline: a stopped stage's grace, the table, packing and the summary."""
PROBE_TEST = "tests/test_precision.py::test_autocast_of_vmapped_convolutions"
CUDA_TESTS = ("-m", "cuda", "tests/test_fast_step.py", "tests/test_packed.py", "tests/test_precision.py",
              "tests/test_scattering.py")
"""The tests marked ``cuda`` (the fast path, packs, the scattering front end and precision on CUDA), from the
modules that hold them (collecting every module takes minutes on a busy CPU)."""
STAGE_SHARES = {"probe": 1 / 6, "tests": 4 / 9, "steps": 5 / 9}
"""The most each stage may take, as a share of the deadline (of 540 s: 90, 240 and 300 s; ``runs``: whatever is
left)."""
STEPS_ARGS = ("--parts", "generator,baseline,chimeramix-grid")
REHEARSAL_STEPS_ARGS = ("--device", "cpu", "--architecture", "wrn-16-2", "--steps", "10", "--generator-steps", "1",
                        "--generator-channels", "4", "--generator-batch", "16", "--pack", "2")
REHEARSAL_GENERATOR = {"epochs": 1, "repetition": 1, "base_channels": 4, "batch_size": 16}
REHEARSAL_CLASSIFIER = {"epochs": 1, "repetition": 1, "architecture": "wrn-16-2"}
"""The rehearsal's runs: one epoch of the split once (7 generator steps, 10 classifier steps), small networks (those
its steps.py times); otherwise the GPU call's sweeps."""


@dataclass
class StageResult:
    """How a stage ended: ``status`` ok, failed, stopped (at the deadline) or skipped; a line for the summary."""

    name: str
    status: str
    seconds: float = 0.0
    line: str = ""
    details: list[str] = field(default_factory=list)
    """Bullets under the line."""
    markdown: list[str] = field(default_factory=list)
    """Markdown after them as it is (tables)."""


class Session:
    """The output folder, the log every stage appends to, and the deadline."""

    def __init__(self, out: Path, deadline_s: float) -> None:
        self.out = out
        self.out.mkdir(parents=True, exist_ok=True)
        self.log = out / "session.log"
        self.started = time.monotonic()
        self.deadline_s = deadline_s
        self.deadline = self.started + deadline_s

    def limit(self, stage: str) -> float:
        """Seconds ``stage`` may take now: its share of the deadline, at most what is left."""
        return min(STAGE_SHARES[stage] * self.deadline_s, self.left())

    def left(self) -> float:
        """Seconds until the deadline, less what packing and the summary need."""
        return self.deadline - RESERVE_S - time.monotonic()

    def elapsed(self) -> str:
        return f"[{time.monotonic() - self.started:.0f} s]"

    def note(self, text: str) -> None:
        """A line on the console and in the log, after the seconds since the call started."""
        print(f"{self.elapsed()} {text}", flush=True)
        with open(self.log, "a", encoding="utf-8") as handle:
            handle.write(f"{self.elapsed()} {text}\n")

    def call(self, command: Sequence[str], limit_s: float) -> tuple[int | None, float]:
        """Run ``command`` from the repository root, its output appended to the log, for at most ``limit_s``
        seconds (then SIGTERM to its process group, SIGKILL after :data:`STOP_GRACE_S`); its exit code (``None``:
        stopped) and seconds."""
        started = time.monotonic()
        with open(self.log, "a", encoding="utf-8") as handle:
            handle.write(f"{self.elapsed()} $ {' '.join(command)}\n")
            handle.flush()
            process = subprocess.Popen(list(command), cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            try:
                code: int | None = process.wait(timeout=max(limit_s, 1.0))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                code = None
                handle.write(f"{self.elapsed()} stopped after {time.monotonic() - started:.0f} s: the call's "
                             "deadline\n")
        return code, time.monotonic() - started


# ----------------------------------------------------------------------------------------------------- stages


def pytest_outcomes(report: Path) -> dict[str, list[str]]:
    """A JUnit XML report as ``{"passed": [test, ...], "failed": [...], "skipped": ["test: reason", ...]}``."""
    outcomes: dict[str, list[str]] = {"passed": [], "failed": [], "skipped": []}
    if not report.is_file():
        return outcomes
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        skipped = case.find("skipped")
        if skipped is not None:  # a module skipped while collected says why in its text, not its message
            reason = skipped.get("message", "")
            outcomes["skipped"].append(f"{name}: {skipped.text if reason == 'collection skipped' else reason}")
        elif case.find("failure") is not None or case.find("error") is not None:
            outcomes["failed"].append(name)
        else:
            outcomes["passed"].append(name)
    return outcomes


def run_pytest(session: Session, name: str, tests: Sequence[str], limit_s: float
               ) -> tuple[StageResult, dict[str, list[str]]]:
    """pytest on ``tests`` from the source tree: the counts, every failure and skip reason; the outcomes."""
    with tempfile.TemporaryDirectory(prefix="gpu-session-") as folder:
        report = Path(folder) / "report.xml"
        code, seconds = session.call([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                                      f"--junitxml={report}", *tests], limit_s)
        outcomes = pytest_outcomes(report)
    counts = ", ".join(f"{len(names)} {kind}" for kind, names in outcomes.items())
    status = "stopped" if code is None else "ok" if code == 0 else "failed"
    details = [f"FAILED {test}" for test in outcomes["failed"]] + [f"skipped {test}" for test in outcomes["skipped"]]
    return StageResult(name, status, seconds, f"{counts} in {seconds:.0f} s (exit code {code})", details), outcomes


def probe(session: Session, args: argparse.Namespace) -> StageResult:
    """:data:`PROBE_TEST` on each device, and what its CUDA outcome means for packs."""
    result, outcomes = run_pytest(session, "probe", [PROBE_TEST], session.limit("probe"))
    devices = {kind: [test.split("[")[-1].split("]")[0] for test in tests] for kind, tests in outcomes.items()}
    said = ", ".join(f"{device} {kind}" for kind, listed in devices.items() for device in listed)
    result.line = f"autocast of vmapped convolutions: {said or 'no outcome'} ({result.line})"
    if "cuda" in devices["failed"]:
        result.line += (". CUDA autocast does NOT reach vmapped convolutions: packs compute them in fp32, their "
                        "step times are no bf16 figures, and choose_precision must give CUDA packs fp32 too")
    elif "cuda" in devices["passed"]:
        result.line += ". CUDA autocast reaches vmapped convolutions: packs compute in bf16 as choose_precision says"
    return result


def cuda_tests(session: Session, args: argparse.Namespace) -> StageResult:
    return run_pytest(session, "tests", CUDA_TESTS, session.limit("tests"))[0]


def steps(session: Session, args: argparse.Namespace) -> StageResult:
    figures = args.store / "steps.json"
    figures.parent.mkdir(parents=True, exist_ok=True)
    extra = REHEARSAL_STEPS_ARGS if args.rehearsal else ()
    code, seconds = session.call([sys.executable, "benchmarks/steps.py", *STEPS_ARGS, *extra, "--json", str(figures)],
                                 session.limit("steps"))
    status = "stopped" if code is None else "ok" if code == 0 and figures.is_file() else "failed"
    if figures.is_file():
        (session.out / "steps.json").write_bytes(figures.read_bytes())
    return StageResult("steps", status, seconds, f"benchmarks/steps.py in {seconds:.0f} s (exit code {code})",
                       markdown=step_table(figures) if figures.is_file() else [])


def step_table(figures: Path) -> list[str]:
    """steps.json as a Markdown table: ms/step of each part on both paths, run-steps/s of the fast path."""
    rows = [row for row in json.loads(figures.read_text())["rows"] if "ms_per_step" in row]
    parts = list(dict.fromkeys(row["part"] for row in rows))
    lines = ["| part | reference ms/step | fast ms/step | run-steps/s (fast) |", "|---|---|---|---|"]
    for part in parts:
        by_path = {row["path"]: row for row in rows if row["part"] == part}
        cells = [f"{by_path[path]['ms_per_step']:.2f}" if path in by_path else "-" for path in ("reference", "fast")]
        rate = f"{by_path['fast']['run_steps_per_s']:.1f}" if "fast" in by_path else "-"
        lines.append(f"| {part} | {cells[0]} | {cells[1]} | {rate} |")
    return lines


def measured_step_seconds(figures: Path, fast: bool) -> dict[str, float]:
    """Seconds per step of a lone run from steps.json: ``generator``, ``classifier baseline``, ..."""
    if not figures.is_file():
        return {}
    path = "fast" if fast else "reference"
    return {row["part"]: row["ms_per_step"] / 1000 for row in json.loads(figures.read_text())["rows"]
            if row.get("path") == path and row.get("pack") == 1 and "ms_per_step" in row}


def runs(session: Session, args: argparse.Namespace) -> StageResult:
    """Each method's sweep in turn while its jobs fit in the time left."""
    from chimeramix.checkpoint import latest_checkpoint
    from chimeramix.experiments.costs import CostBook
    from chimeramix.experiments.plan import plan_sweep
    from chimeramix.experiments.spec import SweepSpec
    from chimeramix.experiments.store import Store

    started, lines, status = time.monotonic(), [], "ok"
    measured = measured_step_seconds(args.store / "steps.json", fast=True)
    device = "cpu" if args.rehearsal else "cuda"
    for method in args.methods.split(","):
        spec = SweepSpec(["cifar10"], [method], [10], [0],
                         first_runs={"generator": REHEARSAL_GENERATOR} if args.rehearsal else {},
                         classifier=REHEARSAL_CLASSIFIER if args.rehearsal else {})
        store = Store(args.store)
        pending = [job for job in plan_sweep(spec) if not store.is_finished(job.id)]
        if not pending:
            lines.append(f"{method}: finished before this call")
            continue
        given = {job.cost_key: measured[part] for job in pending if (part := step_part(job)) in measured}
        book = CostBook(device, given, {})
        started_before = any(latest_checkpoint(store.run_dir(job.id)) is not None for job in pending)
        timed = all(step_part(job) in measured for job in pending)
        needed = sum(job.steps * book.step_seconds(job.cost_key) + book.overhead(job.cost_key) for job in pending)
        if timed and not started_before and needed > session.left():
            lines.append(f"{method}: not started, it needs about {needed:.0f} s ({', '.join(job.id for job in pending)}"
                         f"; {sum(job.steps for job in pending):,} steps) and {session.left():.0f} s are left: "
                         "continue in the next call")
            status = "stopped"
            break
        command = [sys.executable, "-m", "chimeramix", "sweep", "--datasets", "cifar10", "--methods", method,
                   "--k", "10", "--seeds", "0", "--preset", "paper", "--fast", "--store", str(args.store),
                   "--no-progress", "--yes", *(rehearsal_options() if args.rehearsal else ()),
                   *(f"--step-seconds={key}={value}" for key, value in given.items())]
        code, seconds = session.call(command, session.left())
        predicted = f", predicted {needed:.0f} s" if timed else ""
        outcome = "stopped at the deadline" if code is None else "done" if code == 0 else f"exit code {code}"
        lines.append(f"{method}: {outcome} after {seconds:.0f} s{predicted}")
        if code != 0:
            status = "stopped" if code is None else "failed"
            break
    return StageResult("runs", status, time.monotonic() - started, f"paper preset, --fast, cifar10 k = 10 seed 0 "
                       f"in {time.monotonic() - started:.0f} s", lines, table_lines(session, args.store))


def rehearsal_options() -> list[str]:
    """The sweep options of the rehearsal's runs: the CPU, :data:`REHEARSAL_GENERATOR` and
    :data:`REHEARSAL_CLASSIFIER`."""
    options = ["--device", "cpu"]
    for kind, values in (("generator", REHEARSAL_GENERATOR), ("classifier", REHEARSAL_CLASSIFIER)):
        options += [item for key, value in values.items() for item in (f"--{kind}-set", f"{key}={value}")]
    return options


def step_part(job: Any) -> str:
    """The steps.json part that times ``job``'s steps."""
    return "generator" if job.kind == "generator" else f"classifier {job.config['method']}"


def table_lines(session: Session, store: Path) -> list[str]:
    """``chimeramix table --compare paper`` of the store, its headings one level down (under the summary's)."""
    if not (store / "plan.json").is_file():
        return []
    with tempfile.TemporaryDirectory(prefix="gpu-session-") as folder:
        table = Path(folder) / "table.md"
        code, _ = session.call([sys.executable, "-m", "chimeramix", "table", "--store", str(store), "--compare",
                                "paper", "--output", str(table)], TABLE_S)
        if code != 0 or not table.is_file():
            return []
        return [f"#{line}" if line.startswith("#") else line for line in table.read_text().splitlines()]


STAGE_FUNCTIONS = {"probe": probe, "tests": cuda_tests, "steps": steps, "runs": runs}


# ------------------------------------------------------------------------------------------------------ state


@dataclass
class PackedState:
    """The state parts written, the bytes packed, and what was left out (path and bytes)."""

    parts: list[Path]
    packed_bytes: int
    left_out: list[tuple[str, int]]


def state_files(store: Path, limit: int) -> tuple[list[Path], list[tuple[str, int]]]:
    """The store's files a continuation needs, within ``limit`` bytes, and those left out.

    First every file under 1 MiB (plan, results, logs, configs, pictures; no claims or locks: a dead call holds
    no job), then the final generator weights that later classifiers load, then each unfinished run's latest
    checkpoint as a whole (its ``latest`` pointer only with it). Nothing else: a finished run's checkpoints, a
    classifier's model bundle, a discriminator's weights."""
    from chimeramix.checkpoint import latest_checkpoint
    from chimeramix.rundir import CHECKPOINTS, RunFolder

    small, weights, checkpoints, rest = [], [], [], []
    for path in sorted(p for p in store.rglob("*") if p.is_file()):
        relative = path.relative_to(store)
        if relative.parts[0] == "claims" or path.suffix == ".lock":
            continue
        run = RunFolder(store / relative.parts[0] / relative.parts[1]) if relative.parts[0] == "runs" else None
        in_checkpoints = run is not None and len(relative.parts) > 3 and relative.parts[2] == CHECKPOINTS
        if in_checkpoints:
            continue
        if path.stat().st_size < 2**20:
            small.append([path])
        elif run is not None and run.is_finished and path.name in ("generator.safetensors", "glico.safetensors"):
            weights.append([path])
        else:
            rest.append(path)
    for run_dir in sorted((store / "runs").glob("*")):
        latest = latest_checkpoint(run_dir) if not RunFolder(run_dir).is_finished else None
        if latest is not None:
            checkpoints.append([*sorted(p for p in latest.rglob("*") if p.is_file()),
                                RunFolder(run_dir).checkpoints / "latest"])
    chosen: list[Path] = []
    left_out = [(str(path.relative_to(store)), path.stat().st_size) for path in rest]
    total = 0
    for group in [*small, *weights, *checkpoints]:
        size = sum(path.stat().st_size for path in group)
        if total + size <= limit:
            chosen += group
            total += size
        else:
            left_out.append((str(group[0].parent.relative_to(store)) if len(group) > 1
                             else str(group[0].relative_to(store)), size))
    return chosen, left_out


def pack_state(store: Path, out: Path, limit: int = STATE_BYTES, part_bytes: int = PART_BYTES) -> PackedState:
    """Write :func:`state_files` of ``store`` as a gzipped tar in parts ``out/state.tgz.0``, ``.1``, ..."""
    if not store.is_dir():
        return PackedState([], 0, [])
    files, left_out = state_files(store, limit)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        for path in files:
            archive.add(path, arcname=str(path.relative_to(store)), recursive=False)
    data = buffer.getvalue()
    parts = []
    for index, offset in enumerate(range(0, len(data), part_bytes)):
        part = out / f"{STATE_PART}.{index}"
        part.write_bytes(data[offset:offset + part_bytes])
        parts.append(part)
    return PackedState(parts, len(data), left_out)


def restore_state(store: Path, carried: Path) -> str:
    """Make ``store`` the store to continue: the one on this machine (a warm machine keeps it), else the parts
    carried back in ``carried``; how it was found."""
    if store.is_dir() and any(store.iterdir()):
        return f"continuing the store left on this machine ({store})"
    parts = sorted(carried.glob(f"{STATE_PART}.*"), key=lambda path: int(path.suffix[1:]))
    if not parts:
        return f"a new store ({store})"
    if [int(path.suffix[1:]) for path in parts] != list(range(len(parts))):
        raise SystemExit(f"{carried} lacks state parts (has {[path.name for path in parts]}); copy every "
                         f"{STATE_PART}.N file of the last call there")
    data = b"".join(path.read_bytes() for path in parts)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        archive.extractall(store, filter="data")
    return f"restored from {len(parts)} carried state parts in {carried} ({len(data) / 1e6:.1f} MB)"


# ---------------------------------------------------------------------------------------------------- summary


def machine(session: Session, commit: str | None) -> dict[str, str]:
    """Python, torch, torchvision, numpy, the device and the commit, as this call's provenance."""
    code = ("import json, sys, numpy, torch, torchvision; cuda = torch.cuda.is_available(); "
            "print(json.dumps({'python': sys.version.split()[0], 'torch': torch.__version__, "
            "'torchvision': torchvision.__version__, 'numpy': numpy.__version__, "
            "'device': torch.cuda.get_device_name() if cuda else 'cpu', 'cuda': str(torch.version.cuda)}))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    info: dict[str, str] = json.loads(found.stdout)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                          check=False)
    info["commit"] = commit or (head.stdout.strip() if head.returncode == 0 else "unknown (no .git here: pass "
                                                                                 "--commit)")
    session.note(f"machine: {json.dumps(info)}")
    return info


def finished_results(store: Path) -> list[dict[str, Any]]:
    """The store's finished runs: job id, kind, method, steps, wall time, precision, accuracy."""
    rows = []
    for result_file in sorted(store.glob("runs/*/result.json")):
        result = json.loads(result_file.read_text())
        config = result.get("config", {})
        rows.append({"job": result_file.parent.name, "method": config.get("method", "generator"),
                     "steps": result.get("steps"), "wall_seconds": result.get("wall_seconds"),
                     "precision": config.get("precision"), "fast": config.get("fast"),
                     "accuracy": result.get("metrics", {}).get("accuracy"),
                     "commit": result.get("environment", {}).get("commit")})
    return rows


def summary(info: dict[str, str], stages: list[StageResult], rows: list[dict[str, Any]], state: PackedState,
            restored: str, wall: float, command: str) -> str:
    """The call as a Markdown section for ``benchmarks/RESULTS.md``."""
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [f"### {day} {info['device']}, commit {info['commit']} (benchmarks/gpu-session.sh)",
             f"Python {info['python']}, torch {info['torch']} (CUDA {info['cuda']}), torchvision "
             f"{info['torchvision']}, numpy {info['numpy']}.",
             f"Command: `{command}`; wall {wall:.0f} s; store: {restored}.", ""]
    for stage in stages:
        lines.append(f"- **{stage.name}** ({stage.status}): {stage.line}")
        lines += [f"  - {detail}" for detail in stage.details]
        lines += ["", *stage.markdown, ""] if stage.markdown else [""]
    if rows:
        lines += ["| run | steps | wall s | precision | accuracy |", "|---|---|---|---|---|"]
        lines += [f"| {row['job']} | {row['steps']} | {row['wall_seconds']} | {row['precision']} | "
                  f"{percent(row['accuracy'])} |" for row in rows]
        lines.append("")
    kept = f"{len(state.parts)} state parts, {state.packed_bytes / 1e6:.1f} MB"
    dropped = ", ".join(f"{name} ({size / 1e6:.1f} MB)" for name, size in state.left_out) or "nothing"
    lines.append(f"State for a continuation: {kept}; left out: {dropped}.")
    return "\n".join(lines)


def percent(fraction: float | None) -> str:
    return "" if fraction is None else f"{100 * fraction:.2f} %"


def main(argv: Sequence[str] | None = None) -> int:
    from chimeramix.experiments.store import Store

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=os.environ.get("OUT"),
                        help="the output folder (default: $OUT, the device tool's)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"some of {', '.join(STAGES)} (default all)")
    parser.add_argument("--methods", default=METHODS, help=f"the runs' methods, in order (default {METHODS})")
    parser.add_argument("--deadline-s", type=float, default=540.0,
                        help="seconds for the whole call, packing included (default 540: the device tool stops a "
                             "command at 600)")
    parser.add_argument("--store", type=Path, default=ROOT / STORE, help=f"the runs' store (default {STORE}/)")
    parser.add_argument("--carried", type=Path, default=ROOT / CARRIED,
                        help=f"where the last call's state parts were carried back (default {CARRIED}/)")
    parser.add_argument("--commit", default=None, help="the commit, where this copy has no .git")
    parser.add_argument("--rehearsal", action="store_true", help="a CPU and tiny step counts")
    args = parser.parse_args(argv)
    if args.out is None:
        parser.error("no output folder: pass --out or set OUT")
    stages = [name.strip() for name in args.stages.split(",") if name.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stages {unknown}; use some of {', '.join(STAGES)}")
    session = Session(args.out, args.deadline_s)
    info = machine(session, args.commit)
    restored = restore_state(args.store, args.carried)
    Store.create(args.store)  # before steps.json goes into it: a sweep refuses a folder without store.json
    session.note(f"store: {restored}")
    results = []
    for name in STAGES:
        if name not in stages:
            continue
        if session.left() <= 0:
            results.append(StageResult(name, "skipped", line="no time left before the deadline"))
            continue
        result = STAGE_FUNCTIONS[name](session, args)
        session.note(f"{name}: {result.status}: {result.line}")
        results.append(result)
    rows = finished_results(args.store)
    (session.out / "results.json").write_text(json.dumps(rows, indent=1))
    state = pack_state(args.store, session.out)
    command = "bash benchmarks/gpu-session.sh " + " ".join(sys.argv[1:] if argv is None else argv)
    text = summary(info, results, rows, state, restored, time.monotonic() - session.started, command.strip())
    (session.out / "summary.md").write_text(text + "\n")
    print("\n" + text, flush=True)
    return 0 if all(result.status in ("ok", "skipped") for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
