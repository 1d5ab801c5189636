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
