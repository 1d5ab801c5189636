"""Prometheus metrics and health endpoints (docs/operations.md, "Metrics" and "Health"): the text
parses strictly as exposition format 0.0.4, the counters move by what a boto3 client did, the
gateway's /health/ready follows a write quorum for the buckets table, and a real bucket named
"metrics" or "health" still works for S3 clients."""

import math
import re
import time

import pytest

from conftest import free_ports, http_request, uniq

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? (\S+)$")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_exposition(text):
    """Strict parser for the text format 0.0.4 as Onggi writes it: every family has HELP and TYPE
    before its samples, samples of a family are contiguous, values are floats, labels well formed
    and unique per series, histograms have cumulative buckets ending in +Inf = _count and a _sum.
    Returns {(name, frozenset(labels.items())): value} and {family: type}."""
    assert text.endswith("\n"), "the text must end with a newline"
    samples, types, done, current = {}, {}, set(), None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        assert line, f"line {n}: empty line"
        if line.startswith("#"):
            m = re.match(rf"^# (HELP|TYPE) ({NAME}) (.*)$", line)
            assert m, f"line {n}: bad comment {line!r}"
            kind, fam, rest = m.groups()
            if kind == "TYPE":
                assert rest in TYPES, f"line {n}: bad type {rest}"
                assert fam not in types, f"line {n}: second TYPE for {fam}"
                types[fam] = rest
            if current is not None and fam != current:
                done.add(current)
            assert fam not in done, f"line {n}: family {fam} split"
            current = fam
            continue
        m = SAMPLE.match(line)
        assert m, f"line {n}: bad sample {line!r}"
        name, value = m.group(1), m.group(m.lastindex)
        labels = dict(re.findall(LABEL, m.group(2) or ""))
        assert len(labels) == len(re.findall(LABEL, m.group(2) or "")), f"line {n}: repeated label"
        fam = re.sub(r"_(bucket|sum|count)$", "", name) if re.sub(r"_(bucket|sum|count)$", "", name) in types \
            else name
        assert fam in types, f"line {n}: sample before its TYPE: {name}"
        assert fam == current, f"line {n}: {name} outside its family block"
        v = float(value)  # raises on garbage
        assert not math.isnan(v)
        key = (name, frozenset(labels.items()))
        assert key not in samples, f"line {n}: duplicate series {line!r}"
        samples[key] = v
    check_histograms(samples, types)
    return samples, types


def check_histograms(samples, types):
    for fam, t in types.items():
        if t != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == fam + "_bucket":
                d = dict(labels)
                le = d.pop("le")
                series.setdefault(frozenset(d.items()), []).append((math.inf if le == "+Inf" else float(le), v))
        for labels, buckets in series.items():
            buckets.sort()
            assert buckets[-1][0] == math.inf, f"{fam}{dict(labels)}: no +Inf bucket"
            counts = [c for _, c in buckets]
            assert counts == sorted(counts), f"{fam}{dict(labels)}: buckets not cumulative"
            assert samples[(fam + "_count", labels)] == counts[-1]
            assert (fam + "_sum", labels) in samples


def scrape(port):
    status, headers, body = http_request(port, "GET", "/metrics", timeout=30)
    assert status == 200, body
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse_exposition(body.decode())[0]


def val(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def sum_nodes(scrapes, name, **labels):
    return sum(val(s, name, device=f"d{i}", **labels) for i, s in enumerate(scrapes, 1))


def test_parser_refuses_malformed_text():
    good = "# HELP a_total x\n# TYPE a_total counter\na_total{op=\"x\"} 1\n"
    parse_exposition(good)
    for bad in (good.replace(" 1\n", " one\n"), good + 'a_total{op="x"} 2\n', good.replace("# TYPE a_total counter\n", ""),
                good.replace('op="x"', 'op=x'), good[:-1]):
        with pytest.raises((AssertionError, ValueError)):
            parse_exposition(bad)


def test_counters_move_with_requests(cluster):
    gw = cluster.port()
    s3 = cluster.client()
    b = uniq("met")
    s3.create_bucket(Bucket=b)
    before = scrape(gw)
    nodes_before = [scrape(p) for p in cluster.node_metrics_ports]
    body = bytes(range(256)) * 80  # 20480 bytes: stored as a chunk, not inline
    for k in ("a", "b", "c", "d"):  # the same bytes four times: dedup on the nodes
        s3.put_object(Bucket=b, Key=k, Body=body)
    for k in ("a", "b"):
        assert s3.get_object(Bucket=b, Key=k)["Body"].read() == body
    status = http_request(gw, "GET", "/info")[0]  # an unsigned Swift request
    assert status == 200
    after = scrape(gw)
    nodes_after = [scrape(p) for p in cluster.node_metrics_ports]

    def moved(name, **labels):
        return val(after, name, **labels) - val(before, name, **labels)

    assert moved("onggi_gateway_requests_total", api="s3", op="PutObject", status="200") == 4
    assert moved("onggi_gateway_requests_total", api="s3", op="GetObject", status="200") == 2
    assert moved("onggi_gateway_requests_total", api="swift", op="info", status="200") == 1
    assert moved("onggi_gateway_request_duration_seconds_count", api="s3", op="GetObject") == 2
    assert moved("onggi_gateway_request_ttfb_seconds_count", api="s3", op="PutObject") == 4
    assert moved("onggi_gateway_request_duration_seconds_sum", api="s3", op="PutObject") > 0
    assert moved("onggi_gateway_sent_bytes_total", api="s3", op="GetObject") == 2 * len(body)
    # boto3 may frame the body (aws-chunked with a checksum trailer): at least the bytes themselves
    assert moved("onggi_gateway_received_bytes_total", api="s3", op="PutObject") >= 4 * len(body)
    assert val(after, "onggi_gateway_requests_in_flight") >= 1  # the scrape itself
    assert val(after, "onggi_gateway_connections_open") >= 1
    assert moved("onggi_gateway_connections_accepted_total") >= 1
    for p in cluster.node_ports:
        assert val(after, "onggi_gateway_node_up", node=f"127.0.0.1:{p}") == 1
    # Nodes: the chunk was stored once per device, the three later writes found it there.
    assert sum_nodes(nodes_after, "onggi_node_chunks") - sum_nodes(nodes_before, "onggi_node_chunks") >= 2
    saved = sum_nodes(nodes_after, "onggi_node_dedup_saved_bytes_total") - \
        sum_nodes(nodes_before, "onggi_node_dedup_saved_bytes_total")
    assert saved >= 3 * 2 * len(body), "three rewrites of the chunk, each on at least a quorum of devices"
    for s in nodes_after:
        dev = [dict(l)["device"] for (n, l) in s if n == "onggi_node_device_total_bytes"]
        assert len(dev) == 1
        assert val(s, "onggi_node_device_total_bytes", device=dev[0]) >= \
            val(s, "onggi_node_device_free_bytes", device=dev[0]) > 0
        assert val(s, "onggi_node_device_writable", device=dev[0]) == 1
        assert val(s, "onggi_node_records", device=dev[0]) >= 1


def test_health_endpoints_and_real_buckets_named_like_them(cluster):
    gw = cluster.port()
    assert http_request(gw, "GET", "/health/live")[:3:2] == (200, b"ok\n")
    status, _, body = http_request(gw, "GET", "/health/ready")
    assert status == 200 and body.startswith(b"ready"), body
    assert http_request(gw, "HEAD", "/health/ready")[0] == 200
    for p in cluster.node_metrics_ports:
        assert http_request(p, "GET", "/health/live")[0] == 200
        assert http_request(p, "GET", "/health/ready")[:3:2] == (200, b"ready\n")
        assert http_request(p, "PUT", "/metrics")[0] == 405  # read-only
    # Buckets called "metrics" and "health" stay usable for signed S3 requests.
    s3 = cluster.client()
    for name in ("metrics", "health"):
        s3.create_bucket(Bucket=name)
        try:
            s3.put_object(Bucket=name, Key="live", Body=b"x")
            assert [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]] == ["live"]
            assert [o["Key"] for o in s3.list_objects(Bucket=name)["Contents"]] == ["live"]
            assert s3.get_object(Bucket=name, Key="live")["Body"].read() == b"x"
            s3.head_bucket(Bucket=name)
            assert name in [x["Name"] for x in s3.list_buckets()["Buckets"]]
        finally:
            s3.delete_object(Bucket=name, Key="live")
            s3.delete_bucket(Bucket=name)
    # ... while the anonymous GETs of the exact paths still answer the operator's endpoints.
    assert http_request(gw, "GET", "/metrics")[0] == 200
    assert http_request(gw, "GET", "/health/live")[0] == 200
    # An anonymous request with a query is S3's: an S3 error (404 NoSuchBucket now that anonymous
    # requests are authorized by ACLs: the bucket is gone), never the metrics text.
    r = http_request(gw, "GET", "/metrics?list-type=2")
    assert r[0] == 404 and b"<Code>NoSuchBucket</Code>" in r[-1], r


def test_gateway_metrics_listen_moves_metrics_off_the_main_port(cluster):
    mport = free_ports(1)[0]
    port = cluster.start_gateway("gwmet", extra=("--metrics-listen", f"127.0.0.1:{mport}", "--log-level", "debug"))
    try:
        s = scrape(mport)
        assert ("onggi_gateway_requests_in_flight", frozenset()) in s
        assert http_request(mport, "GET", "/health/ready")[0] == 200
        # the main port keeps the health checks; /metrics is an S3 path again (no such bucket: 404)
        assert http_request(port, "GET", "/health/live")[0] == 200
        assert http_request(port, "GET", "/metrics")[0] == 404  # S3's: no bucket "metrics"
    finally:
        cluster.stop("gwmet")
    with open(cluster.log_path("gwmet"), errors="replace") as f:
        log = f.read()
    assert re.search(r"\d{4}-\d\d-\d\dT\S+Z info onggi-gateway: metrics and health on 127\.0\.0\.1:", log), log
    assert " debug onggi-gateway: /health/ready: ready: 3 of 3 replicas" in log  # --log-level debug


def poll(fn, want, bound):
    """fn() until it returns want, at most `bound` seconds (a generous bound, not a timing claim)."""
    deadline = time.monotonic() + bound
    got = fn()
    while got != want and time.monotonic() < deadline:
        time.sleep(0.2)
        got = fn()
    return got


def test_ready_follows_the_write_quorum(own_cluster):
    c = own_cluster
    gw = c.port()

    def ready():
        return http_request(gw, "GET", "/health/ready", timeout=30)[0]

    assert poll(ready, 200, 30) == 200
    c.stop("node2")
    c.stop("node3")
    try:
        assert poll(ready, 503, 60) == 503
        status, _, body = http_request(gw, "GET", "/health/ready", timeout=30)
        assert status == 503 and body.startswith(b"not ready: 1 of 3 replicas"), body
        assert http_request(gw, "GET", "/health/live")[0] == 200
        assert http_request(c.node_metrics_ports[0], "GET", "/health/ready")[0] == 200  # node1 itself is fine
        s = scrape(gw)
        assert val(s, "onggi_gateway_node_errors_total", node=f"127.0.0.1:{c.node_ports[1]}") >= 1
    finally:
        c.start_node(2)
        c.start_node(3)
    assert poll(ready, 200, 60) == 200
    assert http_request(gw, "GET", "/health/live")[0] == 200
    cl = c.client()
    b = uniq("ready")
    cl.create_bucket(Bucket=b)  # the quorum it reported is really there
    cl.delete_bucket(Bucket=b)
