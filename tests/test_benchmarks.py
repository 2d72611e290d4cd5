"""The CPU benchmarks still drive the trainers' code: one timed step of each network, as their child processes
run it (a change of a step's signature breaks the benchmark, not only its numbers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("network", ["wrn-16-2", "generator-32px"])
def test_cpu_precision_times_a_real_training_step(network: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cpu_precision.py"), "--child", "--network",
                           network, "--precision", "fp32", "--steps", "1"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["seconds"] > 0
