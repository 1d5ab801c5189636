"""Large objects (100 MiB, 1 GiB) as single PUTs through boto3, s3cmd and aws, compared by
checksum; ranged reads across chunk boundaries; chunk placement on 3 distinct nodes.
Multipart upload is not implemented, so aws runs with a raised multipart_threshold for uploads."""

import os

import pytest

from conftest import MiB, file_digests, locate, make_file, stream_digests, uniq

SINGLE_PART_AWS = "[default]\ns3 =\n  multipart_threshold = 4GB\n  multipart_chunksize = 1GB\n"


@pytest.fixture(scope="module")
def large_bucket(cluster):
    name = uniq("large")
    cluster.client().create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def file100(tmp_path_factory):
    path = tmp_path_factory.mktemp("f100") / "100MiB"
    md5, sha = make_file(path, 100 * MiB)
    yield path, md5, sha
    os.unlink(path)


def test_100mib_boto3(s3, large_bucket, file100):
    path, md5, sha = file100
    with open(path, "rb") as f:
        put = s3.put_object(Bucket=large_bucket, Key="b100", Body=f)
    assert put["ETag"] == f'"{md5}"'
    got = s3.get_object(Bucket=large_bucket, Key="b100")
    assert got["ContentLength"] == 100 * MiB
    assert stream_digests(got["Body"]) == (md5, sha, 100 * MiB)


def test_100mib_aws(cluster, s3, large_bucket, file100, tmp_path):
    path, md5, sha = file100
    cfg = tmp_path / "aws.cfg"
    cfg.write_text(SINGLE_PART_AWS)
    cluster.aws("s3", "cp", str(path), f"s3://{large_bucket}/a100", config_file=str(cfg))
    assert s3.head_object(Bucket=large_bucket, Key="a100")["ETag"] == f'"{md5}"'
    # default settings download with parallel 8 MiB ranged GETs
    dst = tmp_path / "a100.out"
    cluster.aws("s3", "cp", f"s3://{large_bucket}/a100", str(dst))
    assert file_digests(dst) == (md5, sha)
    # and s3api put-object is always a single PUT
    cluster.aws("s3api", "put-object", "--bucket", large_bucket, "--key", "a100b", "--body", str(path))
    assert s3.head_object(Bucket=large_bucket, Key="a100b")["ETag"] == f'"{md5}"'


def test_100mib_s3cmd(cluster, s3, large_bucket, file100, tmp_path):
    path, md5, sha = file100
    cluster.s3cmd("put", "--disable-multipart", str(path), f"s3://{large_bucket}/s100")
    assert s3.head_object(Bucket=large_bucket, Key="s100")["ETag"] == f'"{md5}"'
    dst = tmp_path / "s100.out"
    cluster.s3cmd("get", f"s3://{large_bucket}/s100", str(dst))
    assert file_digests(dst) == (md5, sha)


def test_ranges_across_chunk_boundaries(s3, large_bucket, file100):
    path, md5, _ = file100
    s3.head_object(Bucket=large_bucket, Key="b100")
    size = 100 * MiB
    spans = [(0, 0), (size - 1, size - 1), (size - 100, size - 1)]
    for b in (1, 4, 5, 8, 16, 32, 64):  # any power-of-two-ish chunk size puts a boundary here
        spans.append((b * MiB - 3, b * MiB + 2))
    spans.append((3 * MiB + 17, 37 * MiB + 5))  # many whole chunks inside one range
    with open(path, "rb") as f:
        for a, z in spans:
            f.seek(a)
            want = f.read(z - a + 1)
            g = s3.get_object(Bucket=large_bucket, Key="b100", Range=f"bytes={a}-{z}")
            assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
            assert g["ContentRange"] == f"bytes {a}-{z}/{size}"
            assert g["Body"].read() == want, (a, z)


def test_chunks_on_three_distinct_nodes(cluster, large_bucket, s3):
    s3.head_object(Bucket=large_bucket, Key="b100")
    chunks, out = locate(cluster, large_bucket, "b100")
    assert len(chunks) >= 2, out
    for cid, devs in chunks:
        assert devs == {"d1", "d2", "d3"}, (cid, out)


def test_1gib_once(cluster, s3, large_bucket, tmp_path):
    """1 GiB: single boto3 PUT, aws download (parallel ranged GETs), compared by checksum."""
    src = tmp_path / "1GiB"
    md5, sha = make_file(src, 1024 * MiB)
    try:
        with open(src, "rb") as f:
            put = s3.put_object(Bucket=large_bucket, Key="g1", Body=f)
        assert put["ETag"] == f'"{md5}"'
    finally:
        os.unlink(src)
    assert s3.head_object(Bucket=large_bucket, Key="g1")["ContentLength"] == 1024 * MiB
    dst = tmp_path / "1GiB.out"
    try:
        cluster.aws("s3", "cp", f"s3://{large_bucket}/g1", str(dst))
        assert file_digests(dst) == (md5, sha)
    finally:
        if dst.exists():
            os.unlink(dst)
    s3.delete_object(Bucket=large_bucket, Key="g1")
