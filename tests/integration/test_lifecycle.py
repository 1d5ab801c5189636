"""S3 lifecycle (issue 12): Put/Get/DeleteBucketLifecycleConfiguration with /usr/bin/aws, boto3 and
`s3cmd expire`, executed by `onggi-admin lifecycle` with a shortened day (--day-seconds, a test
knob): objects past Expiration Days/Date go, prefix/tag/size filters pick exactly theirs, disabled
rules do nothing, AbortIncompleteMultipartUpload aborts old uploads; bad documents get S3's error
code and leave the stored configuration as it was."""
import json
import time

import botocore
import pytest

from conftest import err_code, err_status, signed_request, uniq, xml_code

DAY = 2  # seconds a lifecycle "day" lasts in these tests (--day-seconds)


def run_pass(cluster, *extra):
    """One lifecycle pass over the whole cluster with the short day; returns its stdout."""
    return cluster.admin("lifecycle", "--day-seconds", str(DAY), "--rate", "1000", *extra).stdout


def age(days=1):
    """Waits until objects written before the call are `days` short days old (and a second more:
    the worker counts whole seconds)."""
    time.sleep(days * DAY + 1.5)


def keys(s3, bucket):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def rule(rid, flt, days=1, status="Enabled"):
    return {"ID": rid, "Filter": flt, "Status": status, "Expiration": {"Days": days}}


def test_aws_cli_put_get_delete(cluster, bucket):
    conf = {"Rules": [{"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
                       "Expiration": {"Days": 30}},
                      {"ID": "mpu", "Filter": {"Prefix": ""}, "Status": "Disabled",
                       "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]}
    cluster.aws("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
                "--lifecycle-configuration", json.dumps(conf))
    got = json.loads(cluster.aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket).stdout)
    assert got["Rules"] == conf["Rules"]
    cluster.aws("s3api", "delete-bucket-lifecycle", "--bucket", bucket)
    r = cluster.aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket, check=False)
    assert r.returncode != 0 and "NoSuchLifecycleConfiguration" in r.stderr


def test_boto3_filters_roundtrip(s3, bucket):
    conf = {"Rules": [
        rule("tag", {"Tag": {"Key": "tmp", "Value": "yes"}}),
        rule("and", {"And": {"Prefix": "big/", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "x y"}],
                             "ObjectSizeGreaterThan": 100, "ObjectSizeLessThan": 1000}}),
        rule("gt", {"ObjectSizeGreaterThan": 5}),
        {"ID": "date", "Filter": {"Prefix": "d/"}, "Status": "Enabled",
         "Expiration": {"Date": "2030-01-01T00:00:00Z"}},
        {"ID": "legacy", "Prefix": "old/", "Status": "Enabled", "Expiration": {"Days": 3}},
    ]}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=conf)
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in got] == ["tag", "and", "gt", "date", "legacy"]
    assert got[0]["Filter"] == {"Tag": {"Key": "tmp", "Value": "yes"}}
    assert got[1]["Filter"] == conf["Rules"][1]["Filter"]
    assert got[2]["Filter"] == {"ObjectSizeGreaterThan": 5}
    assert got[3]["Expiration"]["Date"].isoformat().startswith("2030-01-01T00:00:00")
    assert got[4]["Prefix"] == "old/" and "Filter" not in got[4]
    # A rule without an ID gets one, as in S3.
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={
        "Rules": [{"Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 1}}]})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["ID"]
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert err_status(e.value) == 404 and err_code(e.value) == "NoSuchLifecycleConfiguration"


def test_expiration_filters_select_exactly(cluster, s3, bucket):
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        rule("logs", {"Prefix": "logs/"}),
        rule("tmp", {"Tag": {"Key": "tmp", "Value": "yes"}}),
        rule("big", {"And": {"Prefix": "big/", "ObjectSizeGreaterThan": 100}}),
        rule("both", {"And": {"Prefix": "t/", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}}),
        rule("off", {"Prefix": "keep/"}, status="Disabled"),
        rule("later", {"Prefix": "later/"}, days=10000),
    ]})
    gone = {"logs/a", "logs/b/c", "tagged-yes", "big/large", "t/ab"}
    stay = {"logsx", "other", "tagged-no", "big/small", "t/a", "keep/x", "later/x"}
    for k in ("logs/a", "logs/b/c", "logsx", "other", "keep/x", "later/x"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x" * 10)
    s3.put_object(Bucket=bucket, Key="tagged-yes", Body=b"x", Tagging="tmp=yes&z=1")
    s3.put_object(Bucket=bucket, Key="tagged-no", Body=b"x", Tagging="tmp=no")
    s3.put_object(Bucket=bucket, Key="big/large", Body=b"x" * 200)
    s3.put_object(Bucket=bucket, Key="big/small", Body=b"x" * 100)
    s3.put_object(Bucket=bucket, Key="t/ab", Body=b"x", Tagging="b=2&a=1")
    s3.put_object(Bucket=bucket, Key="t/a", Body=b"x", Tagging="a=1")
    # Before a day has passed, a pass changes nothing.
    run_pass(cluster)
    assert keys(s3, bucket) == sorted(gone | stay)
    age()
    out = run_pass(cluster)
    assert keys(s3, bucket) == sorted(stay)
    for k in gone:
        assert f"expired {bucket}/{k} rule" in out
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.head_object(Bucket=bucket, Key=k)
        assert err_status(e.value) == 404
    # A key written again after its expiry is a new object: it stays until it is due itself.
    s3.put_object(Bucket=bucket, Key="logs/a", Body=b"new")
    run_pass(cluster)
    assert s3.get_object(Bucket=bucket, Key="logs/a")["Body"].read() == b"new"
    status = json.loads(cluster.admin("--json", "lifecycle-status").stdout)
    assert status["ok"] is True and status["failed"] == 0 and status["buckets"] >= 1
    assert " ok: yes" in cluster.admin("lifecycle-status").stdout


def test_expiration_date(cluster, s3, bucket):
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "past", "Filter": {"Prefix": "d/"}, "Status": "Enabled", "Expiration": {"Date": "2001-01-01"}},
        {"ID": "future", "Filter": {"Prefix": "f/"}, "Status": "Enabled",
         "Expiration": {"Date": "2100-01-01T00:00:00Z"}}]})
    for k in ("d/1", "d/2", "f/1", "x"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    run_pass(cluster)
    assert keys(s3, bucket) == ["f/1", "x"]


def test_dry_run_and_max_per_pass(cluster, s3, bucket):
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        rule("all", {"Prefix": ""})]})
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x")
    age()
    out = run_pass(cluster, "--dry-run")
    assert f"would have expired {bucket}/k0" in out and len(keys(s3, bucket)) == 5
    out = run_pass(cluster, "--max", "2")
    assert "stopped at --max" in out
    assert len(keys(s3, bucket)) >= 3  # other tests' buckets may have taken some of the two
    for _ in range(10):
        if not keys(s3, bucket):
            break
        run_pass(cluster, "--max", "2")
    assert keys(s3, bucket) == []


def test_abort_incomplete_multipart(cluster, s3, bucket):
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "mpu", "Filter": {"Prefix": "up/"}, "Status": "Enabled",
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]})
    old = s3.create_multipart_upload(Bucket=bucket, Key="up/big")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="up/big", UploadId=old, PartNumber=1, Body=b"p" * 1024)
    s3.upload_part(Bucket=bucket, Key="up/big", UploadId=old, PartNumber=2, Body=b"q" * 1024)
    other = s3.create_multipart_upload(Bucket=bucket, Key="elsewhere")["UploadId"]
    age()
    young = s3.create_multipart_upload(Bucket=bucket, Key="up/young")["UploadId"]
    out = run_pass(cluster)
    assert f"aborted upload {bucket}/up/big" in out
    left = {u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])}
    assert left == {other, young}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="up/big", UploadId=old)
    assert err_code(e.value) == "NoSuchUpload"
    # Once the parts went with their upload, the bucket deletes (after the others are aborted).
    s3.abort_multipart_upload(Bucket=bucket, Key="elsewhere", UploadId=other)
    s3.abort_multipart_upload(Bucket=bucket, Key="up/young", UploadId=young)
    s3.delete_bucket(Bucket=bucket)


def test_s3cmd_expire(cluster, s3, bucket, tmp_path):
    cluster.s3cmd("expire", f"s3://{bucket}", "--expiry-days=1", "--expiry-prefix=old/")
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert len(rules) == 1 and rules[0]["Expiration"] == {"Days": 1} and rules[0]["Status"] == "Enabled"
    assert rules[0].get("Filter", {}).get("Prefix", rules[0].get("Prefix")) == "old/"
    shown = cluster.s3cmd("getlifecycle", f"s3://{bucket}").stdout
    assert "<Days>1</Days>" in shown and "old/" in shown
    f = tmp_path / "f"
    f.write_bytes(b"data")
    for k in ("old/a", "old/b", "new/a"):
        cluster.s3cmd("put", str(f), f"s3://{bucket}/{k}")
    age()
    run_pass(cluster)
    assert keys(s3, bucket) == ["new/a"]
    r = cluster.s3cmd("dellifecycle", f"s3://{bucket}")
    assert r.returncode == 0
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert err_code(e.value) == "NoSuchLifecycleConfiguration"


def doc(*rules):
    return ('<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' + "".join(rules) +
            "</LifecycleConfiguration>").encode()


def xrule(body, rid="r", flt="<Filter><Prefix>p/</Prefix></Filter>"):
    return f"<Rule><ID>{rid}</ID>{flt}<Status>Enabled</Status>{body}</Rule>"


EXP1 = "<Expiration><Days>1</Days></Expiration>"
BAD = [
    ("malformed", b"<LifecycleConfiguration><Rule>", 400, "MalformedXML"),
    ("no-rules", doc(), 400, "MalformedXML"),
    ("unknown-element", doc(xrule("<Frobnicate><Days>1</Days></Frobnicate>")), 400, "MalformedXML"),
    ("no-action", doc(xrule("")), 400, "MalformedXML"),
    ("bad-status", doc("<Rule><ID>a</ID><Filter/><Status>On</Status>" + EXP1 + "</Rule>"), 400, "MalformedXML"),
    ("days-0", doc(xrule("<Expiration><Days>0</Days></Expiration>")), 400, "InvalidArgument"),
    ("days-negative", doc(xrule("<Expiration><Days>-1</Days></Expiration>")), 400, "InvalidArgument"),
    ("days-and-date", doc(xrule("<Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>")),
     400, "MalformedXML"),
    ("date-noon", doc(xrule("<Expiration><Date>2030-01-01T12:00:00Z</Date></Expiration>")), 400,
     "InvalidArgument"),
    ("date-garbage", doc(xrule("<Expiration><Date>tomorrow</Date></Expiration>")), 400, "MalformedXML"),
    ("duplicate-id", doc(xrule(EXP1, "a"), xrule(EXP1, "a", "<Filter><Prefix>q/</Prefix></Filter>")), 400,
     "InvalidArgument"),
    ("id-256", doc(xrule(EXP1, "a" * 256)), 400, "InvalidArgument"),
    ("1001-rules", doc(*[xrule(EXP1, f"r{i}") for i in range(1001)]), 400, "MalformedXML"),
    ("two-conditions-without-and",
     doc(xrule(EXP1, flt="<Filter><Prefix>p/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>")), 400,
     "MalformedXML"),
    ("abort-days-0", doc(xrule("<AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation>"
                               "</AbortIncompleteMultipartUpload>")), 400, "InvalidArgument"),
    ("abort-with-tag", doc(xrule("<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
                                 "</AbortIncompleteMultipartUpload>",
                                 flt="<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>")), 400,
     "InvalidRequest"),
    ("transition", doc(xrule("<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>")),
     501, "NotImplemented"),
    ("noncurrent-transition", doc(xrule("<NoncurrentVersionTransition><NoncurrentDays>30</NoncurrentDays>"
                                        "<StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition>")),
     501, "NotImplemented"),
    ("noncurrent-no-days", doc(xrule("<NoncurrentVersionExpiration><NewerNoncurrentVersions>2"
                                     "</NewerNoncurrentVersions></NoncurrentVersionExpiration>")), 400, "MalformedXML"),
    ("noncurrent-days-0", doc(xrule("<NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays>"
                                    "</NoncurrentVersionExpiration>")), 400, "InvalidArgument"),
    ("noncurrent-days-negative", doc(xrule("<NoncurrentVersionExpiration><NoncurrentDays>-3</NoncurrentDays>"
                                           "</NoncurrentVersionExpiration>")), 400, "InvalidArgument"),
    ("noncurrent-newer-0", doc(xrule("<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>"
                                     "<NewerNoncurrentVersions>0</NewerNoncurrentVersions>"
                                     "</NoncurrentVersionExpiration>")), 400, "InvalidArgument"),
    ("noncurrent-newer-101", doc(xrule("<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>"
                                       "<NewerNoncurrentVersions>101</NewerNoncurrentVersions>"
                                       "</NoncurrentVersionExpiration>")), 400, "InvalidArgument"),
    ("noncurrent-unknown-child", doc(xrule("<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>"
                                           "<Days>1</Days></NoncurrentVersionExpiration>")), 400, "MalformedXML"),
    ("delete-marker-with-days", doc(xrule("<Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true"
                                          "</ExpiredObjectDeleteMarker></Expiration>")), 400, "MalformedXML"),
    ("delete-marker-with-tag", doc(xrule("<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker>"
                                         "</Expiration>", flt="<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>")),
     400, "InvalidRequest"),
    ("delete-marker-false-alone", doc(xrule("<Expiration><ExpiredObjectDeleteMarker>false"
                                            "</ExpiredObjectDeleteMarker></Expiration>")), 400, "InvalidArgument"),
    ("delete-marker-not-boolean", doc(xrule("<Expiration><ExpiredObjectDeleteMarker>yes"
                                            "</ExpiredObjectDeleteMarker></Expiration>")), 400, "MalformedXML"),
]


@pytest.mark.parametrize("name,body,status,code", BAD, ids=[b[0] for b in BAD])
def test_bad_input_changes_nothing(cluster, s3, bucket, name, body, status, code):
    good = {"Rules": [rule("keep", {"Prefix": "k/"}, days=5)]}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=good)
    st, _, resp = signed_request(cluster.gw_ports["gw"], "PUT", f"/{bucket}", query="lifecycle", body=body)
    assert (st, xml_code(resp)) == (status, code), resp
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == good["Rules"]


def test_lifecycle_on_an_object_is_not_a_bucket_call(cluster, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    st, _, resp = signed_request(cluster.gw_ports["gw"], "GET", f"/{bucket}/k", query="lifecycle")
    assert (st, xml_code(resp)) == (501, "NotImplemented")


def test_versioned_bucket_gets_a_delete_marker(cluster, s3, bucket):
    """In a versioned bucket, Expiration puts a delete marker on top: the expired version stays
    listed and readable by its version id (nothing is removed, locked or not)."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        rule("old", {"Prefix": "old/"})]})
    vid = s3.put_object(Bucket=bucket, Key="old/a", Body=b"v1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="new/a", Body=b"n")
    age()
    out = run_pass(cluster)
    assert f"expired {bucket}/old/a rule old" in out
    assert keys(s3, bucket) == ["new/a"]
    v = s3.list_object_versions(Bucket=bucket, Prefix="old/")
    assert [(x["Key"], x["VersionId"]) for x in v.get("Versions", [])] == [("old/a", vid)]
    markers = v.get("DeleteMarkers", [])
    assert len(markers) == 1 and markers[0]["IsLatest"]
    assert s3.get_object(Bucket=bucket, Key="old/a", VersionId=vid)["Body"].read() == b"v1"
    # A second pass finds the marker current and writes nothing more.
    run_pass(cluster)
    assert len(s3.list_object_versions(Bucket=bucket, Prefix="old/").get("DeleteMarkers", [])) == 1


def versions(s3, bucket, prefix=""):
    """[(key, version id, is a delete marker)] of the bucket's versions under prefix, newest first per key
    (Onggi's version ids sort newest first)."""
    v = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    out = [(x["Key"], x["VersionId"], False) for x in v.get("Versions", [])]
    out += [(x["Key"], x["VersionId"], True) for x in v.get("DeleteMarkers", [])]
    return sorted(out)


def test_versioned_actions_round_trip(cluster, s3, bucket):
    conf = {"Rules": [
        {"ID": "nc", "Filter": {"Prefix": "a/"}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 30, "NewerNoncurrentVersions": 3}},
        {"ID": "nc-only-days", "Filter": {"Prefix": "b/"}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 7}},
        {"ID": "dm", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"ExpiredObjectDeleteMarker": True}},
        {"ID": "dm-off", "Filter": {"Prefix": "c/"}, "Status": "Disabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 3}},
        {"ID": "all", "Filter": {"Prefix": "d/"}, "Status": "Enabled", "Expiration": {"Days": 5},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
    ]}
    cluster.aws("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
                "--lifecycle-configuration", json.dumps(conf))
    got = json.loads(cluster.aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket).stdout)
    assert got["Rules"] == conf["Rules"]
    # ExpiredObjectDeleteMarker false asks for nothing: not shown back (RGW's way), and a rule with
    # nothing else to do is refused (below, "delete-marker-false-alone").
    with_false = json.loads(json.dumps(conf))
    with_false["Rules"][3]["Expiration"] = {"ExpiredObjectDeleteMarker": False}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=with_false)
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == conf["Rules"]
    # AWS's rule: the delete-marker flag stands alone in its Expiration.
    bad = {"Rules": [{"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled",
                      "Expiration": {"Days": 1, "ExpiredObjectDeleteMarker": True}}]}
    r = cluster.aws("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
                    "--lifecycle-configuration", json.dumps(bad), check=False)
    assert r.returncode != 0 and "MalformedXML" in r.stderr
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == conf["Rules"]


def test_noncurrent_versions_expire_keeping_the_newer(cluster, s3, bucket):
    """NoncurrentVersionExpiration removes versions NoncurrentDays after they became noncurrent,
    except the NewerNoncurrentVersions newest; current versions and other prefixes stay."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    cluster.aws("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket, "--lifecycle-configuration",
                json.dumps({"Rules": [{"ID": "nc", "Filter": {"Prefix": "nc/"}, "Status": "Enabled",
                                       "NoncurrentVersionExpiration": {"NoncurrentDays": 2,
                                                                       "NewerNoncurrentVersions": 1}}]}))
    vids = [s3.put_object(Bucket=bucket, Key="nc/k", Body=f"v{i}".encode())["VersionId"] for i in range(4)]
    other = [s3.put_object(Bucket=bucket, Key="keep/k", Body=f"v{i}".encode())["VersionId"] for i in range(2)]
    single = s3.put_object(Bucket=bucket, Key="nc/single", Body=b"only")["VersionId"]
    run_pass(cluster)  # nothing is two days noncurrent yet (two: a margin for a slow pass)
    assert len(versions(s3, bucket, "nc/k")) == 4
    age(2)
    out = run_pass(cluster, "--dry-run")
    assert f"would have expired noncurrent version {bucket}/nc/k {vids[0]} rule nc" in out
    assert len(versions(s3, bucket, "nc/k")) == 4
    out = run_pass(cluster)
    for vid in vids[:2]:
        assert f"expired noncurrent version {bucket}/nc/k {vid} rule nc" in out
    assert sorted(v for _, v, _ in versions(s3, bucket, "nc/k")) == sorted(vids[2:])
    assert s3.get_object(Bucket=bucket, Key="nc/k")["Body"].read() == b"v3"
    assert s3.get_object(Bucket=bucket, Key="nc/k", VersionId=vids[2])["Body"].read() == b"v2"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="nc/k", VersionId=vids[0])
    assert err_status(e.value) == 404
    assert sorted(v for _, v, _ in versions(s3, bucket, "keep/")) == sorted(other)
    assert [v for _, v, _ in versions(s3, bucket, "nc/single")] == [single]
    status = json.loads(cluster.admin("--json", "lifecycle-status").stdout)
    assert status["noncurrent"] >= 2 and status["failed"] == 0
    # A new write makes v3 noncurrent: the newest noncurrent one stays, v2 goes once it is due.
    s3.put_object(Bucket=bucket, Key="nc/k", Body=b"v4")
    age(2)
    run_pass(cluster)
    left = versions(s3, bucket, "nc/k")
    assert len(left) == 2 and vids[3] in [v for _, v, _ in left] and vids[2] not in [v for _, v, _ in left]


def test_expired_delete_markers_are_removed(cluster, s3, bucket):
    """ExpiredObjectDeleteMarker removes a delete marker that is its key's only version, also one
    that became so when NoncurrentVersionExpiration removed the versions under it; a marker
    over a version that stays is kept."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "dm", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"ExpiredObjectDeleteMarker": True}},
        {"ID": "nc", "Filter": {"Prefix": "gone/"}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 2}}]})
    for k in ("lone", "kept", "gone/x", "live"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"data")
    for k in ("lone", "kept", "gone/x"):
        s3.delete_object(Bucket=bucket, Key=k)
    lone_data = [v for k, v, dm in versions(s3, bucket, "lone") if not dm][0]
    s3.delete_object(Bucket=bucket, Key="lone", VersionId=lone_data)  # the marker is alone now
    lone_marker = versions(s3, bucket, "lone")[0][1]
    out = run_pass(cluster)
    assert f"removed delete marker {bucket}/lone {lone_marker} rule dm" in out
    assert versions(s3, bucket, "lone") == []
    assert [dm for _, _, dm in versions(s3, bucket, "kept")] == [True, False]
    assert [dm for _, _, dm in versions(s3, bucket, "gone/")] == [True, False]
    age(2)
    out = run_pass(cluster)
    # gone/x: its noncurrent version expired, then the marker left alone went in the same pass
    assert f"expired noncurrent version {bucket}/gone/x" in out and f"removed delete marker {bucket}/gone/x" in out
    assert versions(s3, bucket, "gone/") == []
    assert [dm for _, _, dm in versions(s3, bucket, "kept")] == [True, False]
    assert s3.get_object(Bucket=bucket, Key="live")["Body"].read() == b"data"
    assert keys(s3, bucket) == ["live"]


def test_expiration_days_removes_old_lone_markers(cluster, s3, bucket):
    """With Expiration Days a lone delete marker goes once it is that old (AWS's documented
    cleanup), while the marker the pass puts over an expired object stays (a version is under it)."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        rule("days", {"Prefix": ""}, days=2)]})
    vid = s3.put_object(Bucket=bucket, Key="a", Body=b"x")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="a")
    s3.delete_object(Bucket=bucket, Key="a", VersionId=vid)
    s3.put_object(Bucket=bucket, Key="b", Body=b"x")
    assert [dm for _, _, dm in versions(s3, bucket, "a")] == [True]
    run_pass(cluster)
    assert [dm for _, _, dm in versions(s3, bucket, "a")] == [True]  # not two days old yet
    age(2)
    out = run_pass(cluster)
    assert f"removed delete marker {bucket}/a" in out and f"expired {bucket}/b rule days" in out
    assert versions(s3, bucket, "a") == []
    assert [dm for _, _, dm in versions(s3, bucket, "b")] == [True, False]


def test_locked_versions_survive(cluster, s3):
    """Object Lock wins over lifecycle: a due noncurrent version under retention or legal hold is
    skipped (reported and counted as skipped-locked), stays listed and readable; once the hold is
    released, the next pass removes it."""
    from datetime import datetime, timedelta, timezone
    bucket = uniq("lclock")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "nc", "Filter": {"Prefix": ""}, "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
        {"ID": "cur", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 1}}]})
    until = datetime.now(timezone.utc) + timedelta(days=1)
    old = {
        "ret": s3.put_object(Bucket=bucket, Key="ret", Body=b"retained", ObjectLockMode="GOVERNANCE",
                             ObjectLockRetainUntilDate=until)["VersionId"],
        "comp": s3.put_object(Bucket=bucket, Key="comp", Body=b"compliance", ObjectLockMode="COMPLIANCE",
                              ObjectLockRetainUntilDate=until)["VersionId"],
        "hold": s3.put_object(Bucket=bucket, Key="hold", Body=b"held", ObjectLockLegalHoldStatus="ON")["VersionId"],
        "free": s3.put_object(Bucket=bucket, Key="free", Body=b"free")["VersionId"],
    }
    for k in old:
        s3.put_object(Bucket=bucket, Key=k, Body=b"newer")
    age()
    out = run_pass(cluster)
    for k in ("ret", "comp", "hold"):
        assert f"skipped locked version {bucket}/{k} {old[k]} rule nc" in out
    assert f"expired noncurrent version {bucket}/free {old['free']} rule nc" in out
    status = json.loads(cluster.admin("--json", "lifecycle-status").stdout)
    assert status["skipped_locked"] >= 3 and status["failed"] == 0
    listed = {v for _, v, dm in versions(s3, bucket) if not dm}
    for k in ("ret", "comp", "hold"):
        assert old[k] in listed
        assert s3.get_object(Bucket=bucket, Key=k, VersionId=old[k])["Body"].read() != b"newer"
    assert old["free"] not in listed
    # Expiration made the current versions noncurrent with a delete marker: nothing was removed.
    assert keys(s3, bucket) == []
    # The legal hold released, the version goes at the next pass; the retained ones still stay.
    s3.put_object_legal_hold(Bucket=bucket, Key="hold", VersionId=old["hold"], LegalHold={"Status": "OFF"})
    out = run_pass(cluster)
    assert f"expired noncurrent version {bucket}/hold {old['hold']} rule nc" in out
    listed = {v for _, v, dm in versions(s3, bucket) if not dm}
    assert old["hold"] not in listed and old["ret"] in listed and old["comp"] in listed
