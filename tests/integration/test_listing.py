"""Listings: prefix/delimiter, pagination over >= 2,500 keys with v1 and v2 (boto3 paginators and
aws s3api), max-keys, start-after, encoding-type=url with odd keys."""

import concurrent.futures
import json
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from conftest import S3NS, signed_request, uniq

N_FLAT = 2500
N_DIRS = 30


@pytest.fixture(scope="module")
def big_bucket(cluster):
    """A bucket with 2,500 flat keys f00000.. and 30 'directories' p00/ .. p29/ (2 keys each)."""
    s3 = cluster.client()
    name = uniq("many")
    s3.create_bucket(Bucket=name)
    keys = [f"f{i:05d}" for i in range(N_FLAT)] + [f"p{j:02d}/{x}" for j in range(N_DIRS) for x in ("a", "b")]

    def put(k):
        s3.put_object(Bucket=name, Key=k, Body=k.encode())

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, keys, timeout=600))
    return name, sorted(keys)


def test_v2_paginator_all_keys_in_order(s3, big_bucket):
    name, keys = big_bucket
    seen, pages = [], 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name, PaginationConfig={"PageSize": 1000}):
        pages += 1
        assert page["KeyCount"] == len(page.get("Contents", []))
        assert page["MaxKeys"] == 1000
        seen += [o["Key"] for o in page.get("Contents", [])]
        for o in page.get("Contents", []):
            assert o["Size"] == len(o["Key"]) and o["ETag"].startswith('"')
    assert seen == keys
    assert pages == 3


def test_v1_paginator_all_keys_in_order(s3, big_bucket):
    name, keys = big_bucket
    seen, pages = [], 0
    for page in s3.get_paginator("list_objects").paginate(Bucket=name, PaginationConfig={"PageSize": 700}):
        pages += 1
        assert len(page.get("Contents", [])) <= 700
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == keys
    assert pages == 4


def test_default_max_keys_is_1000(s3, big_bucket):
    name, keys = big_bucket
    r = s3.list_objects_v2(Bucket=name)
    assert r["KeyCount"] == 1000 and r["IsTruncated"] and r["NextContinuationToken"]
    r1 = s3.list_objects(Bucket=name)
    assert len(r1["Contents"]) == 1000 and r1["IsTruncated"]


def test_aws_cli_page_size(cluster, big_bucket):
    name, keys = big_bucket
    out = cluster.aws("s3api", "list-objects-v2", "--bucket", name, "--page-size", "400", "--output", "json").stdout
    got = [o["Key"] for o in json.loads(out)["Contents"]]
    assert got == keys
    out = cluster.aws("s3api", "list-objects", "--bucket", name, "--page-size", "900", "--output", "json").stdout
    assert [o["Key"] for o in json.loads(out)["Contents"]] == keys


def test_max_keys_and_continuation(s3, big_bucket):
    name, keys = big_bucket
    r = s3.list_objects_v2(Bucket=name, MaxKeys=7)
    assert [o["Key"] for o in r["Contents"]] == keys[:7]
    assert r["IsTruncated"] and r["KeyCount"] == 7
    r2 = s3.list_objects_v2(Bucket=name, MaxKeys=7, ContinuationToken=r["NextContinuationToken"])
    assert [o["Key"] for o in r2["Contents"]] == keys[7:14]
    assert r2["ContinuationToken"] == r["NextContinuationToken"]
    last = s3.list_objects_v2(Bucket=name, StartAfter=keys[-3])
    assert [o["Key"] for o in last["Contents"]] == keys[-2:] and not last["IsTruncated"]


def test_start_after(s3, big_bucket):
    name, keys = big_bucket
    r = s3.list_objects_v2(Bucket=name, StartAfter="f01000", MaxKeys=5)
    assert [o["Key"] for o in r["Contents"]] == ["f01001", "f01002", "f01003", "f01004", "f01005"]
    assert r["StartAfter"] == "f01000"
    r = s3.list_objects_v2(Bucket=name, StartAfter="f01000x", MaxKeys=1)  # not a key itself
    assert [o["Key"] for o in r["Contents"]] == ["f01001"]
    r = s3.list_objects(Bucket=name, Marker="f02498", MaxKeys=2)
    assert [o["Key"] for o in r["Contents"]] == ["f02499", "p00/a"]


def test_max_keys_zero(s3, big_bucket):
    name, _ = big_bucket
    r = s3.list_objects_v2(Bucket=name, MaxKeys=0)
    assert r["KeyCount"] == 0 and not r.get("Contents")


def test_delimiter_pagination_counts_prefixes(s3, big_bucket):
    """Common prefixes count toward max-keys and are never repeated across pages."""
    name, keys = big_bucket
    contents, prefixes = [], []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name, Delimiter="/", StartAfter="f02480",
                                                              PaginationConfig={"PageSize": 10}):
        c = [o["Key"] for o in page.get("Contents", [])]
        p = [x["Prefix"] for x in page.get("CommonPrefixes", [])]
        assert len(c) + len(p) <= 10
        contents += c
        prefixes += p
    assert contents == [f"f{i:05d}" for i in range(2481, N_FLAT)]
    assert prefixes == [f"p{j:02d}/" for j in range(N_DIRS)]
    # v1: NextMarker is set when a delimiter is used and the listing is truncated
    r = s3.list_objects(Bucket=name, Delimiter="/", Marker="f02495", MaxKeys=6)
    assert [o["Key"] for o in r["Contents"]] == ["f02496", "f02497", "f02498", "f02499"]
    assert [x["Prefix"] for x in r["CommonPrefixes"]] == ["p00/", "p01/"]
    assert r["IsTruncated"] and r["NextMarker"] == "p01/"
    r = s3.list_objects(Bucket=name, Delimiter="/", Marker=r["NextMarker"], MaxKeys=1)
    assert [x["Prefix"] for x in r["CommonPrefixes"]] == ["p02/"]


def test_prefix_and_delimiter(s3, bucket):
    for k in ["a/b/c", "a/b/d", "a/e", "f", "g/h", "ab"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["ab", "f"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "g/"]
    assert r["KeyCount"] == 4 and r["Delimiter"] == "/"
    r = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a/e"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/b/"]
    assert r["Prefix"] == "a/"
    r = s3.list_objects(Bucket=bucket, Prefix="a", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["ab"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/"]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="a/b/")
    assert [o["Key"] for o in r["Contents"]] == ["a/b/c", "a/b/d"]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="zzz")
    assert r["KeyCount"] == 0 and not r.get("Contents")
    # a delimiter other than '/'
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="b")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/b", "ab"]


def test_s3cmd_and_aws_listing(cluster, bucket, s3):
    for k in ["x/1", "x/2", "y"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"12")
    out = cluster.s3cmd("ls", f"s3://{bucket}/").stdout
    assert "DIR" in out and f"s3://{bucket}/x/" in out and f"s3://{bucket}/y" in out
    out = cluster.s3cmd("ls", "--recursive", f"s3://{bucket}").stdout
    assert all(f"s3://{bucket}/{k}" in out for k in ["x/1", "x/2", "y"])
    out = cluster.aws("s3", "ls", f"s3://{bucket}/").stdout
    assert "PRE x/" in out and " y" in out


ODD_KEYS = ["with space", "plus+sign", "per%cent", "unicode-ключ-鍵-🙂", "amp&lt<gt>", "q?uery#hash",
            "tab\tand\nnewline", "trailing/", "//double//slash", "~tilde*star'quote\""]


def test_odd_keys_round_trip_and_listing(s3, bucket):
    for k in ODD_KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    for k in ODD_KEYS:
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode(), k
    # botocore asks for encoding-type=url and decodes the answer itself
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == sorted(ODD_KEYS, key=str.encode)
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == sorted(ODD_KEYS, key=str.encode)
    r = s3.list_objects_v2(Bucket=bucket, Prefix="unicode-ключ")
    assert [o["Key"] for o in r["Contents"]] == ["unicode-ключ-鍵-🙂"]


def raw_list(cluster, bucket, **params):
    q = urllib.parse.urlencode(sorted(params.items()), quote_via=urllib.parse.quote, safe="-_.~")
    status, _, body = signed_request(cluster.port(), "GET", f"/{bucket}", query=q)
    assert status == 200, body
    return ET.fromstring(body)


def test_encoding_type_url_raw(cluster, s3, bucket):
    for k in ODD_KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    root = raw_list(cluster, bucket, **{"list-type": "2", "encoding-type": "url"})
    assert root.findtext(f"{S3NS}EncodingType") == "url"
    raw = [c.findtext(f"{S3NS}Key") for c in root.findall(f"{S3NS}Contents")]
    for r in raw:
        assert " " not in r and "\t" not in r and "\n" not in r and not any(ord(ch) > 127 for ch in r), r
    assert [urllib.parse.unquote_plus(r) for r in raw] == sorted(ODD_KEYS, key=str.encode)
    # without encoding-type the keys come back literally (XML-escaped by the serializer)
    root = raw_list(cluster, bucket, **{"list-type": "2"})
    assert [c.findtext(f"{S3NS}Key") for c in root.findall(f"{S3NS}Contents")] == sorted(ODD_KEYS, key=str.encode)
    # prefix and delimiter are encoded too
    root = raw_list(cluster, bucket, **{"list-type": "2", "encoding-type": "url", "prefix": "with",
                                        "delimiter": " "})
    assert root.findtext(f"{S3NS}Prefix") == "with"
    assert root.findtext(f"{S3NS}Delimiter") in ("+", "%20")
    assert [c.findtext(f"{S3NS}Prefix") for c in root.findall(f"{S3NS}CommonPrefixes")] in (["with+"], ["with%20"])
    assert not root.findall(f"{S3NS}Contents")


def test_encoding_type_url_v1_raw(cluster, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a b+c", Body=b"")
    root = raw_list(cluster, bucket, **{"encoding-type": "url"})
    raw = root.findtext(f"{S3NS}Contents/{S3NS}Key")
    assert urllib.parse.unquote_plus(raw) == "a b+c" and " " not in raw


def test_list_empty_bucket(s3, bucket):
    r = s3.list_objects_v2(Bucket=bucket)
    assert r["KeyCount"] == 0 and not r["IsTruncated"] and r["Name"] == bucket
