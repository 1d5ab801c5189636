#!/usr/bin/python3
"""Fault scenarios for Onggi (see docs/durability.md).

    tests/faults/run.py --short    # make test: a few seconds of load per phase, < 3 minutes
    tests/faults/run.py --long     # make faults: 60 s faults, more load, < ~20 minutes
    options: --only NAME[,NAME]  --obj-kib MIN,MAX  --json PATH  (needs root; binaries from $ONGGI_BIN or build/release/bin)

Every scenario gets a fresh cluster, runs a workload before / during / after a fault, then reads
back every acknowledged write. Hard checks (exit status): no acknowledged write lost, no wrong
bytes served; and an object whose three copies were corrupted reads back once the same bytes are
PUT again. Figures (throughput, p99, recovery, --long: time until `onggi-admin replication`
reports zero under-replicated items) are reported, never asserted (speed is not a test)."""

import argparse
import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

MODES = {
    # threads: client threads; max_ops: per thread, a bound on top of the phase times.
    # probe: time one PUT and one GET alone while a node hangs (up to a minute: --long only).
    "short": {"before": 3, "during": 3, "after": 3, "threads": 4, "max_ops": 3000, "disk_mib": 256, "probe": False,
              "move_s": 240},
    "long": {"before": 20, "during": 60, "after": 20, "threads": 8, "max_ops": 100000, "disk_mib": 4096,
             "probe": True, "repair_s": 300},
}
VICTIM = "victim"  # the object whose chunk loses all three replicas


def phased(fc, cfg, fault, heal, name):
    """Load before / during / after a fault. fault() and heal() may return a dict of figures.
    Returns (ledger, load, result dict with the phase figures)."""
    ledger = h.Ledger()
    total = cfg["before"] + cfg["during"] + cfg["after"]
    load = h.Load(fc, ledger, threads=cfg["threads"], max_ops=cfg["max_ops"], max_seconds=total + 120,
                  obj_bytes=cfg.get("obj_bytes", (4096, 65536)))
    res = {"scenario": name, "notes": [], "report_only": {}}
    t0 = time.monotonic()
    load.start()
    time.sleep(cfg["before"])
    t_fault = time.monotonic()
    put_at_fault = load.put_bytes
    res["report_only"].update(fault() or {})
    time.sleep(max(0.0, cfg["during"] - (time.monotonic() - t_fault)))
    t_heal = time.monotonic()
    res["report_only"]["put_mib_during"] = round((load.put_bytes - put_at_fault) / 2**20)
    res["report_only"].update(heal() or {})
    time.sleep(max(0.0, cfg["after"] - (time.monotonic() - t_heal)))
    t_stop = time.monotonic()
    load.stop()
    ops = ledger.ops
    res["before"] = h.phase_stats(ops, t0, t_fault)
    res["during"] = h.phase_stats(ops, t_fault, t_heal)
    res["after"] = h.phase_stats(ops, t_heal, t_stop)
    res["recovery_s"] = h.recovery_seconds(ops, t_heal)
    if cfg.get("repair_s"):
        # Anti-entropy: how long after the load until every item has its three copies again
        # (onggi-admin replication), at the nodes' default rates and a 30 s pass interval.
        secs, first = fc.wait_repaired(cfg["repair_s"])
        res["report_only"]["repair_s"] = secs if secs is not None else f"> {cfg['repair_s']}"
        # ... and counted from the heal (the node back), the after phase's load included.
        res["report_only"]["repair_s_from_heal"] = round(secs + t_stop - t_heal, 1) if secs is not None else None
        res["report_only"]["under_replicated_at_heal"] = first
        # Every node should hold its full share: with 3 nodes and 3 replicas, the same bytes.
        res["report_only"]["node_chunk_mib"] = [round((fc.node_stat(i) or {}).get("chunk_bytes", 0) / 2**20, 1)
                                                for i in range(1, fc.n + 1)]
    res["report_only"]["put_mib"] = round(load.put_bytes / 2**20)
    res["wrong_during_load"] = len(load.wrong_reads)
    res["false404_during_load"] = sum(1 for o in ops if o[3] == "false404")
    return ledger, load, res


def finish(fc, cfg, ledger, res, hard=("lost", "wrong"), skip=()):
    """Reads back every acknowledged write and decides the scenario's verdict on the hard checks."""
    v = h.verify(fc, ledger, threads=cfg["threads"], skip=skip)
    res["acked"] = v["checked"]
    res["lost"] = v["lost"]
    res["wrong"] = v["wrong"] + res.get("wrong_during_load", 0)
    res["unacked_applied"] = v["unacked_applied"]
    res["verify_retried"] = v["retried"]
    if v["lost_keys"]:
        res["lost_keys"] = v["lost_keys"]
    if v["wrong_keys"]:
        res["wrong_keys"] = v["wrong_keys"]
    res["hard"] = list(hard)
    res["pass"] = res["acked"] > 0 and all(res[k] == 0 for k in hard)
    if res["acked"] == 0:
        res["notes"].append("no write was acknowledged: nothing was checked")
    return verdict(fc, res, res["pass"])


def verdict(fc, res, ok):
    """Sets the scenario's verdict; a failed one keeps its cluster's logs for inspection."""
    res["pass"] = ok
    fc.failed = fc.failed or not ok
    if not ok:
        res["logs"] = os.path.join(fc.root, "log")
    return res


# ---- scenarios: each builds its cluster and returns its result dict ----

def sc_kill_restart(cfg):
    with h.FaultCluster() as fc:
        ledger, _, res = phased(fc, cfg, lambda: fc.kill(2), lambda: {"node_ready_s": round(fc.restart(2), 2)},
                                "kill -9 node, restart")
        return finish(fc, cfg, ledger, res)


def probe(fc, cfg):
    """Seconds one PUT and then one GET of a 30 KiB object take on their own, right after the
    fault: what a single client waits while a node hangs (the load's p99 mixes many requests)."""
    if not cfg["probe"]:
        return {}
    c, data, out = fc.client(timeout=120), os.urandom(30 * 1024), {}
    for op in ("put", "get"):
        t = time.monotonic()
        try:
            if op == "put":
                c.put_object(Bucket=h.BUCKET, Key="probe", Body=data)
                outcome = "ok"
            else:
                outcome = victim_get(c, data, key="probe")
        except Exception as e:  # noqa: BLE001 - any failure is the figure
            outcome = h.classify(e)
        out[f"probe_{op}"] = f"{outcome} in {time.monotonic() - t:.1f} s"
    return out


def sc_freeze_thaw(cfg):
    with h.FaultCluster() as fc:
        def fault():
            fc.freeze(2)
            return probe(fc, cfg)

        ledger, _, res = phased(fc, cfg, fault, lambda: fc.thaw(2), "SIGSTOP node, SIGCONT")
        res["notes"].append("the gateway pays one node timeout to learn the node hangs, then skips it for a "
                            "back-off period (failure detection; p99 during: report only)")
        return finish(fc, cfg, ledger, res)


def sc_cut_heal(cfg):
    with h.FaultCluster() as fc:
        def fault():
            fc.cut(2)
            return probe(fc, cfg)

        ledger, _, res = phased(fc, cfg, fault, lambda: fc.heal(2), "cut node link, heal")
        return finish(fc, cfg, ledger, res)


def sc_disk_full(cfg):
    with h.FaultCluster(loop_mib={2: cfg["disk_mib"]}) as fc:
        seen = {}

        def fault():
            seen["at_fill"] = fc.node_stat(2) or {}
            return {"filler_mib": round(fc.fill_disk(2) / 2**20, 1)}

        def heal():
            seen["at_free"] = fc.node_stat(2) or {}
            fc.free_disk(2)

        ledger, _, res = phased(fc, cfg, fault, heal, "full disk on a node, freed")
        end = fc.node_stat(2) or {}
        ro = res["report_only"]
        ro["node_alive_after"] = fc.procs["node2"].poll() is None
        ro["chunks_stored_while_full"] = seen["at_free"].get("chunks", 0) - seen["at_fill"].get("chunks", 0)
        ro["chunks_stored_after_free"] = end.get("chunks", 0) - seen["at_free"].get("chunks", 0)
        return finish(fc, cfg, ledger, res)


def sc_corrupt_one_node(cfg):
    with h.FaultCluster() as fc:
        hit = []

        def fault():
            hit.extend(fc.corrupt(2, fraction=1.0))
            return {"chunks_corrupted": len(hit)}

        ledger, _, res = phased(fc, cfg, fault, lambda: None, "flip bytes in every chunk of a node")
        # The node must never serve a flipped chunk: it answers corrupt (and quarantines it), absent
        # (quarantined earlier) or, once a replica refilled it, the good bytes. Evidence that the
        # fault was real: some answer "corrupt", or the node counts quarantined copies.
        sample = hit[:20]
        states = [fc.node_chunk_status(2, cid) for cid in sample]
        quarantined = (fc.node_stat(2) or {}).get("quarantined", 0)
        ro = res["report_only"]
        ro["node_chunk_states"] = {s: states.count(s) for s in sorted(set(states))}
        ro["node_quarantined"] = quarantined
        res = finish(fc, cfg, ledger, res)
        if "served-bad" in states:
            verdict(fc, res, False)
            res["notes"].append("the node served a flipped chunk")
        if not sample or not ("corrupt" in states or quarantined > 0):
            verdict(fc, res, False)
            res["notes"].append("the corruption did not take: nothing flipped, or the node never saw it")
        res["notes"].append("reads quarantine the corrupted replicas they meet, the scrubber the others; reads "
                            "must still return the right bytes")
        return res


def sc_corrupt_all_replicas(cfg):
    """All three copies of one chunk corrupted, then the same bytes PUT again: the nodes verify a
    chunk they hold before answering 'already present', quarantine the bad copy and store the
    PUT's bytes, so the object must read back (hard), and never as other bytes (hard)."""
    with h.FaultCluster() as fc:
        data = os.urandom(48 * 1024)
        c = fc.client()
        c.put_object(Bucket=h.BUCKET, Key=VICTIM, Body=data)
        ro = {}

        def fault():
            cid, nodes = fc.corrupt_all_replicas(VICTIM)
            ro["chunk"], ro["replicas_corrupted"] = cid[:16], len(nodes)
            ro["get_after_corrupt"] = victim_get(c, data)

        def heal():
            try:
                c.put_object(Bucket=h.BUCKET, Key=VICTIM, Body=data)
                ro["reput"] = "200"
            except Exception as e:  # noqa: BLE001 - any failure is the figure
                ro["reput"] = h.classify(e)
            ro["get_after_reput"] = victim_get(c, data)

        ledger, _, res = phased(fc, cfg, fault, heal, "all 3 replicas of a chunk corrupted, re-PUT")
        ro["get_at_end"] = victim_get(c, data)
        ro["victim_readable_after_reput"] = ro["get_at_end"] == "ok"
        res["report_only"].update(ro)
        res = finish(fc, cfg, ledger, res)
        # A corrupted chunk must never come back as a 200 with other bytes: hard, even here.
        res["wrong"] += sum(1 for k in ("get_after_corrupt", "get_after_reput", "get_at_end") if ro[k] == "wrong")
        verdict(fc, res, res["pass"] and res["wrong"] == 0 and ro["victim_readable_after_reput"])
        if not ro["victim_readable_after_reput"]:
            res["notes"].append("victim unreadable after the same bytes were PUT again")
        return res


def victim_get(c, data, key=VICTIM):
    outcome, digest = h.get_digest(c, key)
    if outcome != "ok":
        return outcome
    return "ok" if digest == h.sha(data) else "wrong"


def sc_replace_disk(cfg):
    """A node's disk replaced by an empty one. Reads must still work (quorum). Nothing rebuilds
    the new disk but the replicators (anti-entropy): how much came back and what one more failure
    does are report only."""
    with h.FaultCluster() as fc:
        ledger, _, res = phased(fc, cfg, lambda: {"node_ready_s": round(fc.replace_disk(2), 2)}, lambda: None,
                                "replace a node's disk with an empty one")
        res = finish(fc, cfg, ledger, res)
        ro = res["report_only"]
        full, empty = fc.node_stat(1) or {}, fc.node_stat(2) or {}
        ro["chunks_node1"], ro["chunks_new_disk"] = full.get("chunks"), empty.get("chunks")
        ro["records_node1"], ro["records_new_disk"] = full.get("records"), empty.get("records")
        # One more failure while the new disk is still empty: what is readable from one old copy.
        fc.kill(3)
        v = h.verify(fc, ledger, threads=cfg["threads"], attempts=1)
        ro["readable_with_node3_down"] = f"{v['checked'] - v['lost'] - v['wrong']}/{v['checked']}"
        res["wrong"] += v["wrong"]
        verdict(fc, res, res["pass"] and v["wrong"] == 0)
        return res


def sc_kill_all(cfg):
    with h.FaultCluster() as fc:
        def fault():
            for name in ("gw",) + tuple(f"node{i}" for i in range(1, fc.n + 1)):
                fc.stop(name, h.signal.SIGKILL)

        def heal():
            t = time.monotonic()
            for i in range(1, fc.n + 1):
                fc.start_node(i)
            fc.start_gateway()
            return {"cluster_ready_s": round(time.monotonic() - t, 2)}

        ledger, _, res = phased(fc, cfg, fault, heal, "kill -9 everything, restart")
        return finish(fc, cfg, ledger, res)


def sc_add_node(cfg):
    """A fourth node joins a loaded cluster: new ring pushed, data moves in the background at the
    default rates while the load goes on. Hard checks as everywhere (nothing acknowledged lost, no
    wrong bytes, also during the move); report: time until the move is done and nothing is
    under-replicated, bytes moved against the ideal (the bytes of the partition-replicas whose
    device changed), the nodes' shares."""
    with h.FaultCluster(spare=1) as fc:
        box = {}

        def fault():
            box["stored"] = fc.repl_sum("chunk_bytes")  # every replica of every chunk so far
            box["pushed"] = fc.repl_sum("repl_bytes_pushed")
            box["t"] = time.monotonic()
            box["moved"], box["total"] = fc.add_node()
            return {"moved_part_replicas": f"{box['moved']}/{box['total']}",
                    "stored_mib_at_push": round(box["stored"] / 2**20, 1)}

        ledger, _, res = phased(fc, cfg, fault, lambda: None, "add a fourth node, push the ring, data moves")
        limit = cfg.get("move_s", 600)
        secs = fc.wait_moved(limit)
        ro = res["report_only"]
        ro["move_done_s_after_push"] = round(time.monotonic() - box["t"], 1) if secs is not None else f"> {limit}"
        ro["pushed_mib"] = round((fc.repl_sum("repl_bytes_pushed") - box["pushed"]) / 2**20, 1)
        ro["ideal_mib"] = round(box["stored"] * box["moved"] / box["total"] / 2**20, 1)
        ro["node_chunk_mib"] = [round((fc.node_stat(i) or {}).get("chunk_bytes", 0) / 2**20, 1)
                                for i in range(1, fc.n + 1)]
        res["notes"].append("pushed_mib: every replicator push after the ring push (the move, plus anti-entropy "
                            "of writes made meanwhile); ideal_mib: stored bytes x moved / all partition-replicas")
        return finish(fc, cfg, ledger, res)


def selftest(cfg):
    """The checks can fail: a key deleted behind the ledger's back must count as lost, and a
    ledger entry for other bytes as wrong. Both exactly once."""
    with h.FaultCluster() as fc:
        ledger, _, res = phased(fc, dict(cfg, before=1, during=1, after=1), lambda: None, lambda: None,
                                "harness self-test: one key deleted, one ledger entry changed")
        keys = sorted(ledger.acked)
        if len(keys) < 2:
            raise RuntimeError("self-test: fewer than 2 acknowledged writes")
        fc.client().delete_object(Bucket=h.BUCKET, Key=keys[0])
        ledger.acked[keys[1]] = h.sha(b"bytes that were never written")
        res = finish(fc, cfg, ledger, res)
        res = verdict(fc, res, res["lost"] == 1 and res["wrong"] == 1)
        fc.failed = False  # the self-test's loss is deliberate: its logs are of no interest
        res.pop("logs", None)
        res["notes"].append(f"expected lost 1 and wrong 1, measured lost {res['lost']} and wrong {res['wrong']}")
        return res


SCENARIOS = [
    ("kill", sc_kill_restart),
    ("freeze", sc_freeze_thaw),
    ("cut", sc_cut_heal),
    ("diskfull", sc_disk_full),
    ("corrupt1", sc_corrupt_one_node),
    ("corrupt3", sc_corrupt_all_replicas),
    ("replace", sc_replace_disk),
    ("killall", sc_kill_all),
    ("addnode", sc_add_node),
]
EXTRA = [("selftest", selftest)]  # run only when named with --only


# ---- report ----

def fmt(x):
    return "-" if x is None else f"{x:g}" if isinstance(x, (int, float)) else str(x)


def table(results):
    head = ("scenario", "acked", "lost", "wrong", "ok/s before", "ok/s during", "ok/s after",
            "p99 ms before", "p99 ms during", "p99 ms after", "recov s", "verdict")
    rows = [head]
    for r in results:
        if "error" in r:
            rows.append((r["name"], "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "ERROR"))
            continue
        verdict = "ok" if r["pass"] else "FAIL"
        if "lost" not in r["hard"]:
            verdict += " (loss report only)"
        rows.append((r["name"], r["acked"], r["lost"], r["wrong"],
                     r["before"]["ok_per_s"], r["during"]["ok_per_s"], r["after"]["ok_per_s"],
                     r["before"]["p99_ms"], r["during"]["p99_ms"], r["after"]["p99_ms"], r["recovery_s"], verdict))
    widths = [max(len(fmt(row[c])) for row in rows) for c in range(len(head))]
    lines = ["  ".join(fmt(v).rjust(w) if c else fmt(v).ljust(w) for c, (v, w) in enumerate(zip(row, widths)))
             for row in rows]
    return "\n".join(lines)


def markdown(report):
    """The report's table in Markdown, for docs/durability.md."""
    out = ["| scenario | acked writes | lost | wrong | ok/s before | ok/s during | ok/s after | p99 ms before "
           "| p99 ms during | p99 ms after | errors during | report only |", "|" + "---|" * 12]
    for r in report["scenarios"]:
        if "error" in r:
            out.append(f"| {r['name']} | ERROR: {r['error']} |" + " |" * 10)
            continue
        ro = ", ".join(f"{k} {v}" for k, v in r["report_only"].items()) or "-"
        errs = ", ".join(f"{k} {v}" for k, v in r["during"]["errors"].items()) or "0"
        out.append(f"| {r['name']} | {r['acked']} | {r['lost']} | {r['wrong']} | {fmt(r['before']['ok_per_s'])} | "
                   f"{fmt(r['during']['ok_per_s'])} | {fmt(r['after']['ok_per_s'])} | {fmt(r['before']['p99_ms'])} | "
                   f"{fmt(r['during']['p99_ms'])} | {fmt(r['after']['p99_ms'])} | {errs} | {ro} |")
    return "\n".join(out)


def details(r):
    if "error" in r:
        return f"[{r['name']}] ERROR: {r['error']}"
    out = [f"[{r['name']}] {r['scenario']}: errors during {r['during']['errors']}, after {r['after']['errors']}; "
           f"false 404s during load {r['false404_during_load']}; unacknowledged writes that landed "
           f"{r['unacked_applied']}; keys read again at verify {r['verify_retried']}"]
    if r["report_only"]:
        out.append(f"    report only: {r['report_only']}")
    for n in r["notes"]:
        out.append(f"    note: {n}")
    if "logs" in r:
        out.append(f"    logs kept: {r['logs']}")
    for k in ("lost_keys", "wrong_keys"):
        if k in r:
            out.append(f"    {k}: {r[k]}")
    return "\n".join(out)


def run(names, cfg):
    results = []
    for name, fn in SCENARIOS + EXTRA:
        if (names and name not in names) or (not names and (name, fn) in EXTRA):
            continue
        t = time.monotonic()
        print(f"faults: {name} ...", flush=True)
        try:
            r = fn(cfg)
        except Exception as e:  # noqa: BLE001 - a harness error is a failed scenario, reported
            traceback.print_exc()
            r = {"error": f"{type(e).__name__}: {e}", "pass": False}
        r["name"], r["seconds"] = name, round(time.monotonic() - t, 1)
        print(f"faults: {name}: {'ok' if r['pass'] else 'FAIL'} in {r['seconds']} s", flush=True)
        results.append(r)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--short", action="store_true")
    mode.add_argument("--long", action="store_true")
    mode.add_argument("--markdown", metavar="REPORT.json", help="print a report's table as Markdown and exit")
    ap.add_argument("--only", default="", help="comma-separated scenario names: " +
                    ",".join(n for n, _ in SCENARIOS + EXTRA) + " (selftest: checks that a loss and wrong bytes are caught)")
    ap.add_argument("--obj-kib", default="", metavar="MIN,MAX",
                    help="PUT sizes of the load in KiB (default 4,64); e.g. 512,1536 writes ~1 GiB in a --long "
                         "fault phase")
    ap.add_argument("--json", default=None, help="report path (default /tmp/onggi-faults-<mode>.json)")
    args = ap.parse_args()
    if args.markdown:
        with open(args.markdown) as f:
            print(markdown(json.load(f)))
        return 0
    if os.geteuid() != 0:
        print("faults: needs root (network namespaces, loop mounts)", file=sys.stderr)
        return 2
    mode_name = "short" if args.short else "long"
    cfg = dict(MODES[mode_name])
    if args.obj_kib:
        try:
            lo, hi = (int(x) * 1024 for x in args.obj_kib.split(","))
        except ValueError:
            ap.error("--obj-kib wants MIN,MAX in KiB")
        if not 0 < lo <= hi:
            ap.error("--obj-kib wants 0 < MIN <= MAX")
        cfg["obj_bytes"] = (lo, hi)
    names = [n for n in args.only.split(",") if n]
    unknown = set(names) - {n for n, _ in SCENARIOS + EXTRA}
    if unknown:
        ap.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    h.install_cleanup_handlers()
    t0 = time.monotonic()
    results = run(names, cfg)
    left = h.leftovers(os.getpid())
    elapsed = round(time.monotonic() - t0, 1)
    print()
    print(table(results))
    print()
    for r in results:
        print(details(r))
    report = {"mode": mode_name, "config": cfg, "seconds": elapsed, "bin": h.bin_dir(), "scenarios": results,
              "leftovers": left}
    path = args.json or f"/tmp/onggi-faults-{mode_name}.json"
    with open(path, "w") as f:
        json.dump(report, f, indent=1, default=str)
    print(f"\nfaults: {mode_name} run took {elapsed} s; report written to {path}")
    if left:
        print("faults: LEFT BEHIND after cleanup:\n  " + "\n  ".join(left))
    failed = [r["name"] for r in results if not r["pass"]]
    if failed:
        print(f"faults: FAILED: {', '.join(failed)}")
    return 1 if failed or left else 0


if __name__ == "__main__":
    sys.exit(main())
