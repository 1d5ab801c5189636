#!/usr/bin/python3
"""Runs the compatibility cases (tests/compat/cases.py).

  run.py record swift AUTH_URL USER KEY          the Swift anchor's answers -> expected/swift.json
  run.py record rgw ENDPOINT ACCESS SECRET        the RGW anchor's S3 answers -> expected/rgw.json
  run.py replay --swift AUTH_URL USER KEY --s3 ENDPOINT ACCESS SECRET
                                                  Onggi against the recorded answers
  run.py live swift AUTH_URL USER KEY --onggi-swift AUTH_URL USER KEY
  run.py live rgw ENDPOINT ACCESS SECRET --onggi-s3 ENDPOINT ACCESS SECRET
                                                  anchor and Onggi side by side, nothing recorded
  [-k SUBSTRING] runs only the cases whose id contains it; -v prints every compared answer.

Differences listed in known_differences.json (each with its reason and the docs line) are
reported as known; anything else, or a known difference that is gone, fails (exit 1)."""

import argparse
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402
from cases import CASES, LONG  # noqa: E402

API_OF = {"swift": "swift", "rgw": "s3", "s3api": "s3"}


def make_target(name, kind, args):
    if kind == "swift":
        u = urllib.parse.urlsplit(args[0])
        return compat.Target(name, "swift", f"{u.scheme}://{u.netloc}", auth_path=u.path, user=args[1], key=args[2])
    return compat.Target(name, "s3", args[0], access=args[1], secret=args[2], region="us-east-1")


def case_names(target, case_index, run_id):
    """Unique, valid-S3 names for a case's {c} and {c2}, plus the long object names."""
    base = f"cmp{run_id}-{case_index}"
    return compat.Names({"c": base, "c2": base + "-ok", **LONG}, target)


def run_all(target, api, run_id, only=None):
    """{case id: [(step, answer)]} for every case of api on target (each cleaned up after)."""
    out = {}
    if target.kind == "swift":
        target.swift_auth()
    for i, case in enumerate(CASES[api]):
        if only and only not in case["id"]:
            continue
        names = case_names(target, i, run_id)
        try:
            out[case["id"]] = compat.run_case(target, case, names)
        finally:
            compat.cleanup(target, [urllib.parse.quote(names.mapping[k], safe="") for k in ("c", "c2")])
    return out


def new_run_id():
    return f"{int(time.time()) % 1000000:06d}{os.getpid() % 1000:03d}"


def record(anchor, args, only):
    target = make_target(anchor, API_OF[anchor], args)
    got = run_all(target, API_OF[anchor], new_run_id(), only)
    path = compat.expected_path(anchor)
    old = {}
    if only and os.path.exists(path):
        with open(path) as f:
            old = json.load(f)["cases"]
    old.update({k: [[s, a] for s, a in v] for k, v in got.items()})
    os.makedirs(compat.EXPECTED_DIR, exist_ok=True)
    with open(path, "w") as f:
        json.dump({"anchor": anchor, "recorded": compat.utc_now(), "endpoint_kind": API_OF[anchor],
                   "cases": {k: old[k] for k in sorted(old)}}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"recorded {len(got)} cases from {target} into {path}")
    return 0


def report(anchor, expected, got, verbose):
    """Compares; prints; returns (unexpected count, known count, stale count)."""
    known = compat.load_known()
    n_unexp = n_known = n_stale = 0
    for case_id, exp in sorted(expected.items()):
        if case_id not in got:
            continue
        unexp, explained, stale = compat.compare(anchor, case_id, exp, got[case_id], known)
        for step, diff in unexp:
            print(f"DIFF  {anchor} {case_id}/{step}: " + ", ".join(sorted(diff)))
            for field, (a, o) in sorted(diff.items()):
                print(f"      {field}: anchor {json.dumps(a)[:400]}\n      {' ' * len(field)}  onggi  {json.dumps(o)[:400]}")
        for step, fields, k in explained:
            if verbose:
                print(f"known {anchor} {case_id}/{step} ({', '.join(fields)}): {k['reason']}")
        for k in stale:
            print(f"STALE {anchor} {case_id}/{k['step']}: listed as a known difference, but Onggi now answers "
                  f"like the anchor (remove it from known_differences.json and the docs)")
        if verbose:
            for (s, a) in got[case_id]:
                print(f"  {case_id}/{s}: {json.dumps(a)}")
        n_unexp += len(unexp)
        n_known += len(explained)
        n_stale += len(stale)
    steps = sum(len(v) for k, v in expected.items() if k in got)
    print(f"{anchor}: {len([k for k in expected if k in got])} cases, {steps} steps compared: "
          f"{n_unexp} unexpected differences, {n_known} known, {n_stale} stale")
    return n_unexp, n_known, n_stale


def load_expected(anchor):
    with open(compat.expected_path(anchor)) as f:
        return {k: [tuple(x) for x in v] for k, v in json.load(f)["cases"].items()}


def replay(targets, only, verbose):
    """targets: {anchor: Onggi target}. Returns the number of failures."""
    bad = 0
    run_id = new_run_id()
    for anchor, target in targets.items():
        expected = load_expected(anchor)
        got = run_all(target, API_OF[anchor], run_id, only)
        u, _, s = report(anchor, expected, got, verbose)
        bad += u + s
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["record", "replay", "live"])
    ap.add_argument("rest", nargs="*")
    ap.add_argument("--swift", nargs=3)
    ap.add_argument("--s3", nargs=3)
    ap.add_argument("--onggi-swift", nargs=3)
    ap.add_argument("--onggi-s3", nargs=3)
    ap.add_argument("-k", dest="only")
    ap.add_argument("-v", dest="verbose", action="store_true")
    a = ap.parse_args()
    if a.mode == "record":
        return record(a.rest[0], a.rest[1:4], a.only)
    if a.mode == "replay":
        targets = {}
        if a.swift:
            targets["swift"] = make_target("onggi", "swift", a.swift)
        if a.s3:
            targets["rgw"] = make_target("onggi", "s3", a.s3)
        return 1 if replay(targets, a.only, a.verbose) else 0
    anchor = a.rest[0]
    api = API_OF[anchor]
    onggi_args = a.onggi_swift if api == "swift" else a.onggi_s3
    run_id = new_run_id()
    exp = run_all(make_target(anchor, api, a.rest[1:4]), api, run_id, a.only)
    got = run_all(make_target("onggi", api, onggi_args), api, run_id, a.only)
    u, _, s = report(anchor, exp, got, a.verbose)
    return 1 if u + s else 0


if __name__ == "__main__":
    sys.exit(main())
