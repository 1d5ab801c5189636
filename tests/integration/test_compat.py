"""The differential compatibility harness (tests/compat) under pytest, on the suite's cluster:
the recorded anchor answers (tests/compat/expected/*.json) replayed, a short randomized run with
Onggi's own invariants, and the known differences' docs lines (`make compat` runs this file alone;
it is part of `make integration`). Recording and the live runs need the anchors: see
tests/compat/README.md."""

import json
import os
import random
import sys

import pytest

from conftest import ACCESS, ACCOUNT, SECRET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
import compat  # noqa: E402
import randomized  # noqa: E402
import run  # noqa: E402

SWIFT_KEY = "compatkey"


@pytest.fixture(scope="module")
def onggi(cluster):
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", "compat", "--key", SWIFT_KEY, "--admin")
    return {
        "swift": run.make_target("onggi", "swift", [f"{cluster.endpoint()}/auth/v1.0", f"{ACCOUNT}:compat", SWIFT_KEY]),
        "s3": run.make_target("onggi", "s3", [cluster.endpoint(), ACCESS, SECRET]),
    }


@pytest.mark.parametrize("anchor", ["swift", "rgw"])
def test_replay_matches_anchor(onggi, anchor, capsys):
    """Every recorded step answers as the anchor did, or as known_differences.json says and why;
    a known difference that is gone fails too (the list and the docs must stay true)."""
    expected = run.load_expected(anchor)
    got = run.run_all(onggi[run.API_OF[anchor]], run.API_OF[anchor], run.new_run_id())
    unexpected, known, stale = run.report(anchor, expected, got, verbose=False)
    out = capsys.readouterr().out
    assert set(got) == set(expected), "every recorded case ran"
    assert known > 0, "the known differences are exercised"
    assert unexpected == 0 and stale == 0, out


def test_known_differences_are_documented():
    with open(compat.KNOWN_FILE) as f:
        data = json.load(f)
    entries = data["differences"] + data["random"]
    for k in entries:
        assert k["reason"].strip(), k
        with open(os.path.join(compat.REPO, k["doc"]["file"])) as f:
            assert k["doc"]["line"] in f.read(), f"{k['doc']} not found for {k}"
    cases = {c["id"]: {s["id"] for s in c["steps"]} for api in run.CASES.values() for c in api}
    for k in data["differences"]:
        assert k["step"] in cases.get(k["case"], ()), f"{k['case']}/{k['step']} is no recorded step"


def test_randomized_short_onggi_invariants(onggi):
    """Random names and operations: no 5xx or dropped connection, and the account and container
    stay usable after every sequence. The seed is printed (and in the failure) for a replay."""
    seed = int(os.environ.get("COMPAT_SEED", random.SystemRandom().randrange(1 << 31)))
    lines = []
    bad, done = randomized.run(seed, 12, 90, 10, onggi, {}, log=lines.append)
    print("\n".join(lines))
    assert done > 0
    assert not bad, f"seed {seed}:\n" + "\n".join(lines)


# ---- live runs (make compat-live / compat-random-live: tests/compat/anchors.sh sets these) ----

def _anchor_args(name):
    v = os.environ.get(f"COMPAT_{name.upper()}_ANCHOR", "")
    return v.split() if v else None


@pytest.mark.parametrize("anchor", ["swift", "rgw"])
def test_live_cases(onggi, anchor, capsys):
    """The cases against the live anchor and Onggi side by side (nothing recorded)."""
    args = _anchor_args(anchor)
    if not args:
        pytest.skip(f"COMPAT_{anchor.upper()}_ANCHOR not set (tests/compat/anchors.sh live)")
    api = run.API_OF[anchor]
    run_id = run.new_run_id()
    exp = run.run_all(run.make_target(anchor, api, args), api, run_id)
    got = run.run_all(onggi[api], api, run_id)
    unexpected, _, stale = run.report(anchor, exp, got, verbose=False)
    out = capsys.readouterr().out
    print(out)
    assert unexpected == 0 and stale == 0, out


def test_live_randomized(onggi):
    """A longer randomized run against the live anchors: outcome classes compared step by step."""
    anchors = {}
    if _anchor_args("swift"):
        anchors["swift"] = ("swift", run.make_target("swift", "swift", _anchor_args("swift")))
    if _anchor_args("rgw"):
        anchors["s3"] = ("rgw", run.make_target("rgw", "s3", _anchor_args("rgw")))
    if not anchors or not os.environ.get("COMPAT_RANDOM_LIVE"):
        pytest.skip("COMPAT_RANDOM_LIVE and an anchor not set (tests/compat/anchors.sh random-live)")
    seed = int(os.environ.get("COMPAT_SEED", random.SystemRandom().randrange(1 << 31)))
    count, seconds = int(os.environ.get("COMPAT_COUNT", "100")), float(os.environ.get("COMPAT_TIME", "600"))
    lines = []
    bad, done = randomized.run(seed, count, seconds, 12, {k: onggi[k] for k in anchors}, anchors, log=lines.append)
    print("\n".join(lines))
    assert done > 0
    assert not bad, f"seed {seed}:\n" + "\n".join(lines)
