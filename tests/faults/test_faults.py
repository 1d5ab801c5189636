"""pytest wrapper for the fault harness (tests/faults/run.py), for `make test`:

    ONGGI_BIN=build/asan/bin /usr/bin/python3 -m pytest -q tests/faults

Runs the --short scenarios and fails with the harness's report when an acknowledged write was
lost or wrong bytes were served (or the harness left something behind); a second test checks
that the harness does catch a loss and wrong bytes. Needs root (network namespaces, loop mounts)."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "run.py")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the fault harness needs root (ip netns, mount)")


def run_harness(tmp_path, *args, timeout):
    report = tmp_path / "faults.json"
    r = subprocess.run([sys.executable, RUN, *args, "--json", str(report)], capture_output=True, text=True,
                       timeout=timeout)
    return r, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"


def test_short_scenarios_lose_nothing(tmp_path):
    r, out = run_harness(tmp_path, "--short", timeout=600)
    assert r.returncode == 0, out


def test_harness_catches_loss_and_wrong_bytes(tmp_path):
    r, out = run_harness(tmp_path, "--short", "--only", "selftest", timeout=300)
    assert r.returncode == 0, out
    assert "measured lost 1 and wrong 1" in r.stdout, out
