"""onggi-bench's options for the scale benchmark (issue 16 section 4, docs/benchmarks.md "Scale"):
--first/--dirs name the keys a fill writes, --delimiter/--start-after/--pages shape the listings.
Checked against what boto3 lists, not against the tool's own counts only."""
import json
import os
import subprocess

from conftest import ACCESS, BIN, SECRET


def run_bench(cluster, bucket, *args):
    out = subprocess.run([os.path.join(BIN, "onggi-bench"), "--endpoint", cluster.endpoint(), "--access-key", ACCESS,
                          "--secret-key", SECRET, "--bucket", bucket, "--json", "--duration", "60", *args],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["total"]


def all_keys(s3, bucket):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def test_fill_names_keys_by_first_and_dirs(cluster, s3, bucket):
    t = run_bench(cluster, bucket, "--workload", "put", "--size", "0", "--conns", "4", "--dirs", "3",
                  "--first", "10", "--count", "6")
    assert (t["ops"], t["errors"]) == (6, 0)
    want = sorted(f"dir{k % 3:04d}/obj{k:09d}" for k in range(10, 16))
    assert all_keys(s3, bucket) == want
    # A second fill goes on where the first stopped: no key written twice, none missing.
    run_bench(cluster, bucket, "--workload", "put", "--size", "0", "--conns", "4", "--dirs", "3", "--first", "16",
              "--count", "3")
    assert all_keys(s3, bucket) == sorted(want + [f"dir{k % 3:04d}/obj{k:09d}" for k in range(16, 19)])


def test_list_variants(cluster, s3, bucket):
    run_bench(cluster, bucket, "--workload", "put", "--size", "0", "--conns", "8", "--dirs", "4", "--count", "2500")
    # No delimiter, the whole bucket: 3 pages of 1,000 keys at most.
    t = run_bench(cluster, bucket, "--workload", "list", "--delimiter", "")
    assert (t["ops"], t["keys"], t["errors"]) == (3, 2500, 0)
    # The default delimiter "/" rolls the keys up into the 4 directories: one page.
    t = run_bench(cluster, bucket, "--workload", "list")
    assert (t["ops"], t["keys"]) == (1, 4)
    # After a marker: what S3 says is after it, here directories 2 and 3.
    t = run_bench(cluster, bucket, "--workload", "list", "--start-after", "dir0001/")
    assert (t["ops"], t["keys"]) == (1, 2)
    after = [k for k in all_keys(s3, bucket) if k > "dir0001/obj000001000"]
    t = run_bench(cluster, bucket, "--workload", "list", "--delimiter", "", "--start-after", "dir0001/obj000001000")
    assert t["keys"] == len(after)
    # --pages: exactly that many pages, starting again at the marker when the listing ends.
    t = run_bench(cluster, bucket, "--workload", "list", "--delimiter", "", "--pages", "5")
    assert (t["ops"], t["keys"], t["errors"]) == (5, 2500 + 1000 + 1000, 0)


def test_paced_chunked_puts_are_verified(cluster, s3, bucket):
    """--rate-per-conn paces each body (48,000 B at 32,000 B/s: at least 1.5 s per PUT), --chunked
    frames it, --bind spreads the sources and --verify checks each ETag: the objects are there,
    whole, and no PUT could finish before its pace allowed."""
    t = run_bench(cluster, bucket, "--workload", "put", "--size", "48000", "--conns", "4", "--count", "4",
                  "--rate-per-conn", "32000", "--ramp", "0.5", "--chunked", "--verify",
                  "--bind", "127.0.0.2,127.0.0.3", "--prefix", "cam-")
    assert (t["ops"], t["errors"]) == (4, 0)
    assert t["lat_ms"]["p50"] >= 1400
    for k in range(4):
        body = s3.get_object(Bucket=bucket, Key=f"cam-obj-{k:08d}")["Body"].read()
        assert len(body) == 48000


def test_verify_counts_an_etag_that_is_not_the_md5(tmp_path):
    """A server whose ETag is not the MD5 of the body sent: every PUT counts as a verify failure."""
    import http.server
    import threading

    class Wrong(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_PUT(self):
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("ETag", '"00000000000000000000000000000000"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Wrong)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        out = subprocess.run([os.path.join(BIN, "onggi-bench"), "--endpoint", f"http://127.0.0.1:{srv.server_port}",
                              "--access-key", "k", "--secret-key", "s", "--bucket", "b", "--json", "--workload",
                              "put", "--size", "4096", "--conns", "2", "--count", "3", "--verify"],
                             capture_output=True, text=True, timeout=60)
    finally:
        srv.shutdown()
    assert out.returncode == 1, out.stderr  # nothing succeeded
    t = json.loads(out.stdout)["total"]
    assert (t["ops"], t["errors"], t["errors_by_type"].get("verify")) == (0, 3, 3)
