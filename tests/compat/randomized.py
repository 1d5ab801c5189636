#!/usr/bin/python3
"""Randomized compatibility runs: sequences of random operations on random names (valid and
invalid UTF-8, NUL, control characters, slashes, `.` and `..`, the longest allowed and one byte
more) against Onggi and, in the differential mode, against an anchor too.

  randomized.py --seed N --count SEQ --time SEC [--ops N] --onggi-swift AUTH USER KEY
                [--onggi-s3 ENDPOINT ACCESS SECRET] [--anchor-swift AUTH USER KEY]
                [--anchor-s3 NAME ENDPOINT ACCESS SECRET]

Every answer is reduced to an outcome class (2xx, 4xx with its status and S3 code, 5xx, no answer).
Always checked on Onggi: no 5xx and no dropped connection, and after each sequence the account
and the sequence's container still list (parseable JSON/XML), a listing with delimiter "/" read in
pages of two gives exactly the common prefixes and keys of the full listing rolled up (the nodes
group delimiter listings themselves), and a plain object can be written and read back. With an anchor, the classes of the two must be equal step by step, except where
known_differences.json lists the (api, name category, operation) with its reason. The seed is
printed first; the same seed replays the same sequences."""

import argparse
import fnmatch
import json
import os
import random
import re
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402
from run import make_target  # noqa: E402

# Name pieces by category: percent-encoded text as it goes into a path.
PIECES = {
    "ascii": ["a", "obj", "x-1", "under_score", "Mixed.Case", "9"],
    "utf8": ["%C3%A9t%C3%A9", "%E6%97%A5%E6%9C%AC", "%F0%9F%98%80", "%E2%82%AC"],
    "invalid-utf8": ["%FF", "%C0%AF", "%80", "%E2%82", "%ED%A0%80", "%F5%80%80%80"],
    "nul": ["%00"],
    "ctrl": ["%01", "%1F", "%7F", "%0A"],
    "slash": ["/", "//"],
    "dots": [".", ".."],
    "space": ["%20", "+"],
}
# What each API allows at most (Onggi: containers are buckets, 63 bytes).
LIMITS = {"swift": {"container": 256, "object": 1024}, "s3": {"container": 63, "object": 1024}}


def rand_name(rng, kind, api):
    """(percent-encoded name, category) for a container/bucket or object name."""
    cat = rng.choice(["ascii", "ascii", "utf8", "invalid-utf8", "nul", "ctrl", "slash", "dots", "space",
                      "max", "over-max", "dot-segment"])
    if cat == "max" or cat == "over-max":
        n = LIMITS[api][kind] + (1 if cat == "over-max" else 0)
        if kind == "container" and api == "swift" and cat == "max" and rng.random() < 0.5:
            n, cat = 63, "max-onggi"  # Onggi's container limit: the longest both take
        return "n" * n, cat
    if cat == "dot-segment":
        return rng.choice([".", ".."]), cat
    parts = [rng.choice(PIECES["ascii"]), rng.choice(PIECES[cat])]
    if rng.random() < 0.5:
        parts.append(rng.choice(PIECES["ascii"]))
    name = "".join(parts)
    if kind == "container":
        name = name.replace("/", "-")  # a slash ends the container segment: not a name test
    if api == "s3" and kind == "container":  # lower case, but not the escapes (S3 signs them upper case)
        name = re.sub(r"(%[0-9A-F]{2})|([^%]+)", lambda m: m.group(1) or m.group(2).lower(), name)
    return name, cat


def outcome(kind, status, body):
    if status == 0:
        return "no-answer"
    if status < 300:
        return "2xx"
    if status < 400:
        return f"{status}"
    code = compat.s3_code(body) if kind == "s3" else None
    return f"{status}:{code}" if code else f"{status}"


class Sequence:
    """One random sequence on one target; records (op label, category, class) per step."""

    def __init__(self, target, rng, base, nops):
        self.t, self.rng, self.base, self.nops = target, rng, base, nops
        self.steps = []
        self.containers = {base}

    def op(self, label, cat, method, path, query="", headers=None, body=b""):
        st, _, data = self.t.send(method, path, query, headers, body)
        self.steps.append((label, cat, outcome(self.t.kind, st, data)))
        return st

    def plan(self):
        """The operations, drawn before running so that two targets get the same plan."""
        api = self.t.kind
        plan = []
        for _ in range(self.nops):
            opname = self.rng.choice(["put", "put", "get", "head", "delete", "copy", "post", "list", "list-account",
                                      "container", "delete-container"])
            cname, ccat = rand_name(self.rng, "container", api)
            oname, ocat = rand_name(self.rng, "object", api)
            plan.append((opname, cname, ccat, oname, ocat))
        return plan

    def run(self, plan, names):
        """names: how this target spells the sequence's base container."""
        api = self.t.kind
        b = names
        self.op("create-base", "ascii", "PUT", f"/{b}")
        for opname, cname, ccat, oname, ocat in plan:
            obj = f"/{b}/{oname}"
            if opname == "put":
                self.op("put", ocat, "PUT", obj, body=b"data")
            elif opname == "get":
                self.op("get", ocat, "GET", obj)
            elif opname == "head":
                self.op("head", ocat, "HEAD", obj)
            elif opname == "delete":
                self.op("delete", ocat, "DELETE", obj)
            elif opname == "copy":
                hdr = {"X-Copy-From": f"{b}/{oname}"} if api == "swift" else {"x-amz-copy-source": f"/{b}/{oname}"}
                self.op("copy", ocat, "PUT", f"/{b}/copy-target", headers=hdr)
            elif opname == "post":
                if api == "swift":
                    self.op("post", ocat, "POST", obj, headers={"X-Object-Meta-K": "v"})
                else:
                    hdr = {"x-amz-copy-source": f"/{b}/{oname}", "x-amz-metadata-directive": "REPLACE",
                           "x-amz-meta-k": "v"}
                    self.op("post", ocat, "PUT", obj, headers=hdr)
            elif opname == "list":
                prefix = oname.split("%")[0][:3]  # never half an escape
                q = "format=json&prefix=" + prefix if api == "swift" else "list-type=2&prefix=" + prefix
                self.op("list", ocat, "GET", f"/{b}", q)
            elif opname == "list-account":
                self.op("list-account", "ascii", "GET", "" if api == "swift" else "/",
                        "format=json" if api == "swift" else "")
            elif opname == "container":
                c = f"{b}-{cname}" if ccat not in ("dot-segment", "max", "max-onggi", "over-max") else cname
                if self.op("container", ccat, "PUT", f"/{c}") < 300:
                    self.containers.add(c)
            elif opname == "delete-container":
                c = f"{b}-{cname}" if ccat not in ("dot-segment", "max", "max-onggi", "over-max") else cname
                self.op("delete-container", ccat, "DELETE", f"/{c}")

    def usable(self, b):
        """The account and container still work: list both (parseable), put and get an object."""
        bad = []
        if self.t.kind == "swift":
            st, _, body = self.t.send("GET", "", "format=json")
            if st not in (200, 204) or (st == 200 and not _parses_json(body)):
                bad.append(f"account listing answered {st}")
            st, _, body = self.t.send("GET", f"/{b}", "format=json")
            if st not in (200, 204) or (st == 200 and not _parses_json(body)):
                bad.append(f"container listing answered {st}")
        else:
            st, _, body = self.t.send("GET", "/")
            if st != 200 or not _parses_xml(body):
                bad.append(f"ListBuckets answered {st}")
            st, _, body = self.t.send("GET", f"/{b}", "list-type=2&encoding-type=url")
            if st != 200 or not _parses_xml(body):
                bad.append(f"ListObjectsV2 answered {st}")
        st, _, _ = self.t.send("PUT", f"/{b}/canary", body=b"canary-bytes")
        st2, _, body = self.t.send("GET", f"/{b}/canary")
        if st >= 300 or st2 != 200 or body != b"canary-bytes":
            bad.append(f"put+get of a plain object answered {st}/{st2}")
        return bad

    def _pages(self, b, delim):
        """Every name of b's listing (delimiter "/": common prefixes too), as bytes, read two per
        page; None when a page fails or 500 pages do not end it."""
        items, resume = [], None
        for _ in range(500):
            if self.t.kind == "swift":
                q = "format=json&limit=2" + ("&delimiter=/" if delim else "")
                q += "&marker=" + urllib.parse.quote(resume, safe="") if resume is not None else ""
                st, _, body = self.t.send("GET", f"/{b}", q)
                if st == 204:
                    return items
                if st != 200 or not _parses_json(body):
                    return None
                page = [e.get("subdir", e.get("name")) for e in json.loads(body)]
                items += [n.encode() for n in page]
                if len(page) < 2:
                    return items
                resume = page[-1]
                continue
            q = "list-type=2&max-keys=2&encoding-type=url" + ("&delimiter=%2F" if delim else "")
            q += "&continuation-token=" + urllib.parse.quote(resume, safe="") if resume is not None else ""
            st, _, body = self.t.send("GET", f"/{b}", q)
            if st != 200 or not _parses_xml(body):
                return None
            root = ET.fromstring(body)
            names = [e.text for e in root.findall("{*}Contents/{*}Key") + root.findall("{*}CommonPrefixes/{*}Prefix")]
            items += [urllib.parse.unquote_to_bytes(n) for n in names]
            more = root.find("{*}IsTruncated")
            if more is None or more.text != "true":
                return items
            resume = root.find("{*}NextContinuationToken").text
        return None

    def rolls_up(self, b):
        """A delimiter listing is the full listing rolled up (each name through its first "/"),
        with a directory whose first key is deleted added to what the sequence left."""
        for method, name in (("PUT", "grp/1"), ("PUT", "grp/2"), ("DELETE", "grp/1")):
            st, _, _ = self.t.send(method, f"/{b}/{name}", body=b"g" if method == "PUT" else b"")
            if st >= 300:
                return [f"{method} {name} answered {st}"]
        full, grouped = self._pages(b, False), self._pages(b, True)
        if full is not None and b"grp/2" not in full:
            return [f"grp/2 is missing from the full listing {full!r}"]
        if full is None or grouped is None:
            return ["a paged listing failed or did not end"]
        want = sorted({n[:n.index(b"/") + 1] if b"/" in n else n for n in full})
        if sorted(grouped) != want:
            return [f"delimiter listing {sorted(grouped)!r} is not the full listing rolled up {want!r}"]
        return []

    def cleanup(self):
        compat.cleanup(self.t, sorted(self.containers))


def _parses_json(body):
    try:
        json.loads(body)
        return True
    except ValueError:
        return False


def _parses_xml(body):
    try:
        ET.fromstring(body)
        return True
    except ET.ParseError:
        return False


def load_random_known():
    with open(compat.KNOWN_FILE) as f:
        return json.load(f).get("random", [])


def known_random(known, anchor, api, op, cat, a, o):
    """The rule (shell patterns on operation, name category and both classes) that explains it."""
    for k in known:
        if k["anchor"] == anchor and k["api"] == api and fnmatch.fnmatchcase(cat, k["category"]) and \
                fnmatch.fnmatchcase(op, k["op"]) and fnmatch.fnmatchcase(a, k["anchor_class"]) and \
                fnmatch.fnmatchcase(o, k["onggi_class"]):
            return k
    return None


def run(seed, count, seconds, nops, onggi, anchors, log=print):
    """onggi: {api: Target}; anchors: {api: (anchor name, Target)}. Returns (failures, report)."""
    rng = random.Random(seed)
    log(f"randomized: seed {seed} ({count} sequences max, {seconds} s max, {nops} operations each)")
    known = load_random_known()
    failures, mismatches, known_hits, done = [], {}, {}, 0
    run_id = f"{seed % 100000}-{os.getpid() % 1000}"
    deadline = time.monotonic() + seconds
    for t in list(onggi.values()) + [a[1] for a in anchors.values()]:
        if t.kind == "swift":
            t.swift_auth()
    for i in range(count):
        if time.monotonic() > deadline:
            break
        api = rng.choice(sorted(onggi))
        base = f"rnd{run_id}-{i}"
        plan_rng = random.Random(rng.random())
        seq = Sequence(onggi[api], plan_rng, base, nops)
        plan = seq.plan()
        try:
            seq.run(plan, base)
            for label, cat, cls in seq.steps:
                if cls.startswith("5") or cls == "no-answer":
                    failures.append(f"seq {i} ({api}) {label} [{cat}]: Onggi answered {cls}")
            failures += [f"seq {i} ({api}) afterwards: {b}" for b in seq.usable(base) + seq.rolls_up(base)]
        finally:
            seq.cleanup()
        if api in anchors:
            aname, at = anchors[api]
            aseq = Sequence(at, None, base + "a", nops)
            try:
                aseq.run(plan, base + "a")
            finally:
                aseq.cleanup()
            for (label, cat, o), (_, _, a) in zip(seq.steps, aseq.steps):
                if a == o:
                    continue
                key = (aname, api, label, cat, a, o)
                k = known_random(known, aname, api, label, cat, a, o)
                (known_hits if k else mismatches).setdefault(key, 0)
                (known_hits if k else mismatches)[key] += 1
        done += 1
    log(f"randomized: seed {seed}: {done} sequences, {len(failures)} invariant failures, "
        f"{sum(mismatches.values())} unexplained differences, {sum(known_hits.values())} known")
    for f in failures:
        log("FAIL  " + f)
    for (aname, api, op, cat, a, o), n in sorted(mismatches.items()):
        log(f"DIFF  {aname} {api} {op} [{cat}]: anchor {a}, onggi {o} (x{n})")
    return failures + [f"diff {k}" for k in mismatches], done


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--time", type=float, default=120)
    ap.add_argument("--ops", type=int, default=12)
    ap.add_argument("--onggi-swift", nargs=3)
    ap.add_argument("--onggi-s3", nargs=3)
    ap.add_argument("--anchor-swift", nargs=3)
    ap.add_argument("--anchor-s3", nargs=4, metavar=("NAME", "ENDPOINT", "ACCESS", "SECRET"))
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 31)
    onggi, anchors = {}, {}
    if a.onggi_swift:
        onggi["swift"] = make_target("onggi", "swift", a.onggi_swift)
    if a.onggi_s3:
        onggi["s3"] = make_target("onggi", "s3", a.onggi_s3)
    if a.anchor_swift:
        anchors["swift"] = ("swift", make_target("swift", "swift", a.anchor_swift))
    if a.anchor_s3:
        anchors["s3"] = (a.anchor_s3[0], make_target(a.anchor_s3[0], "s3", a.anchor_s3[1:]))
    bad, _ = run(seed, a.count, a.time, a.ops, onggi, anchors)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
