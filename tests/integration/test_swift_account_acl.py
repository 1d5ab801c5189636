"""Swift account ACLs (X-Account-Access-Control, as TempAuth with account ACLs on) with the real
`swift` client and raw HTTP (docs/swift-compat.md, "Account ACLs"): the admin, read-write and
read-only levels for another account's users, who may set the ACL, TempAuth's 400 answers,
removal, and /info."""

import json
import subprocess

import pytest

from conftest import http_request, uniq

OWNER, GUEST = "acct-aacl", "acct-aacl-guest"
KEY, GKEY, MKEY = "aacl-admin-key", "aacl-guest-key", "aacl-member-key"


@pytest.fixture(scope="module")
def aa(cluster):
    for a in (OWNER, GUEST):
        cluster.admin("account-add", a)
    cluster.admin("swift-user-add", "--account", OWNER, "--user", "admin", "--key", KEY, "--admin")
    cluster.admin("swift-user-add", "--account", OWNER, "--user", "member", "--key", MKEY)
    for u in ("ro", "rw", "adm", "none"):
        cluster.admin("swift-user-add", "--account", GUEST, "--user", u, "--key", GKEY, "--admin")
    return cluster


def swift(cluster, *args, user=f"{OWNER}:admin", key=KEY, check=True):
    r = subprocess.run(["swift", "-A", f"{cluster.endpoint()}/auth/v1.0", "-U", user, "-K", key, *args],
                       capture_output=True, text=True, timeout=120)
    assert not check or r.returncode == 0, f"swift {args}: {r.stdout}{r.stderr}"
    return r


def token(cluster, user, key):
    st, h, _ = http_request(cluster.port(), "GET", "/auth/v1.0", {"X-Auth-User": user, "X-Auth-Key": key})
    assert st == 200
    return h["x-auth-token"]


def req(cluster, tok, method, path="", headers=None, body=b""):
    h = {"X-Auth-Token": tok, **(headers or {})}
    return http_request(cluster.port(), method, f"/v1/AUTH_{OWNER}{path}", h, body)


ACL = {"read-only": [f"{GUEST}:ro"], "read-write": [f"{GUEST}:rw"], "admin": [f"{GUEST}:adm"]}


@pytest.fixture(scope="module")
def granted(aa):
    """The owner's ACL set with the swift client, one container holding one object."""
    swift(aa, "post", "-H", f"X-Account-Access-Control: {json.dumps(ACL)}")
    c = uniq("aacl")
    swift(aa, "post", c)
    t = token(aa, f"{OWNER}:admin", KEY)
    assert req(aa, t, "PUT", f"/{c}/obj", body=b"hello")[0] == 201
    return c, {u: token(aa, f"{GUEST}:{u}", GKEY) for u in ("ro", "rw", "adm", "none")}


def test_info_says_account_acls(aa):
    st, _, body = http_request(aa.port(), "GET", "/info")
    assert st == 200 and json.loads(body)["tempauth"]["account_acls"] is True


def test_acl_shown_to_admins_only(aa, granted):
    _, toks = granted
    st, h, _ = req(aa, token(aa, f"{OWNER}:admin", KEY), "HEAD")
    assert st == 204
    assert json.loads(h["x-account-access-control"]) == ACL
    assert h["x-account-access-control"] == json.dumps(ACL, separators=(",", ":"), sort_keys=True)
    st, h, _ = req(aa, toks["adm"], "HEAD")
    assert st == 204 and "x-account-access-control" in h
    for u in ("ro", "rw"):
        st, h, _ = req(aa, toks[u], "HEAD")
        assert st == 204 and "x-account-access-control" not in h


def test_read_only(aa, granted):
    c, toks = granted
    t = toks["ro"]
    assert req(aa, t, "GET")[0] == 200 and c.encode() in req(aa, t, "GET")[2]
    assert req(aa, t, "GET", f"/{c}")[2] == b"obj\n"
    st, _, body = req(aa, t, "GET", f"/{c}/obj")
    assert (st, body) == (200, b"hello")
    assert req(aa, t, "PUT", f"/{c}/new", body=b"x")[0] == 403
    assert req(aa, t, "DELETE", f"/{c}/obj")[0] == 403
    assert req(aa, t, "PUT", f"/{uniq('ro')}")[0] == 403
    assert req(aa, t, "POST", "", {"X-Account-Meta-A": "1"})[0] == 403
    # the real client, through the same token's storage URL
    url = f"{aa.endpoint()}/v1/AUTH_{OWNER}"
    r = subprocess.run(["swift", "--os-storage-url", url, "--os-auth-token", t, "list", c], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "obj\n", r.stderr


def test_read_write(aa, granted):
    c, toks = granted
    t = toks["rw"]
    assert req(aa, t, "GET", f"/{c}/obj")[0] == 200
    assert req(aa, t, "PUT", f"/{c}/rw", body=b"rw")[0] == 201
    assert req(aa, t, "POST", f"/{c}/rw", {"X-Object-Meta-K": "v"})[0] == 202
    assert req(aa, t, "DELETE", f"/{c}/rw")[0] == 204
    c2 = uniq("rw")
    assert req(aa, t, "PUT", f"/{c2}")[0] == 201
    assert req(aa, t, "POST", f"/{c2}", {"X-Container-Meta-K": "v"})[0] == 204
    assert req(aa, t, "POST", f"/{c2}", {"X-Container-Read": ".r:*"})[0] == 403  # ACLs are the owner's
    assert req(aa, t, "DELETE", f"/{c2}")[0] == 204
    assert req(aa, t, "POST", "", {"X-Account-Meta-A": "1"})[0] == 403
    assert req(aa, t, "POST", "", {"X-Account-Access-Control": "{}"})[0] == 403


def test_admin_and_none(aa, granted):
    c, toks = granted
    t = toks["adm"]
    assert req(aa, t, "POST", "", {"X-Account-Meta-By-Guest": "1"})[0] == 204
    assert req(aa, t, "POST", f"/{c}", {"X-Container-Read": f"{GUEST}:none"})[0] == 204
    # a container ACL still grants on its own, the account ACL naming nobody
    assert req(aa, toks["none"], "GET", f"/{c}/obj")[0] == 200
    assert req(aa, toks["none"], "PUT", f"/{c}/x", body=b"x")[0] == 403
    assert req(aa, toks["none"], "GET")[0] == 403
    assert req(aa, t, "POST", f"/{c}", {"X-Remove-Container-Read": "x"})[0] == 204
    assert req(aa, toks["none"], "GET", f"/{c}/obj")[0] == 403


def test_non_admin_cannot_set(aa, granted):
    member = token(aa, f"{OWNER}:member", MKEY)
    assert req(aa, member, "POST", "", {"X-Account-Access-Control": "{}"})[0] == 403
    r = swift(aa, "post", "-H", "X-Account-Access-Control: {}", user=f"{OWNER}:member", key=MKEY, check=False)
    assert r.returncode != 0
    # the member of the owner's own account is let in by naming the account
    assert req(aa, member, "GET")[0] == 403


@pytest.mark.parametrize("value,why", [
    ("{bad", "Syntax error in input ('{bad')"),
    ("[]", "Syntax error in input ('[]')"),
    ('{"foo":[]}', 'Key "foo" not recognized'),
    ('{"admin":"x"}', 'Value for key "admin" must be a list'),
    ('{"read-only":[1]}', 'Elements of "read-only" list must be strings'),
])
def test_bad_acl_400(aa, value, why):
    st, _, body = req(aa, token(aa, f"{OWNER}:admin", KEY), "POST", "", {"X-Account-Access-Control": value})
    assert st == 400
    assert body.decode() == f"X-Account-Access-Control invalid: {why}\n\nInput: {value}\n"


def test_account_name_grants_and_removal(aa, granted):
    c, _ = granted
    t_owner = token(aa, f"{OWNER}:admin", KEY)
    member = token(aa, f"{OWNER}:member", MKEY)
    swift(aa, "post", "-H", f'X-Account-Access-Control: {{"read-only":["{OWNER}"]}}')
    assert req(aa, member, "GET", f"/{c}/obj")[0] == 200
    assert req(aa, member, "PUT", f"/{c}/m", body=b"m")[0] == 403
    assert req(aa, t_owner, "POST", "", {"X-Account-Access-Control": ""})[0] == 204
    st, h, _ = req(aa, t_owner, "HEAD")
    assert st == 204 and "x-account-access-control" not in h
    assert req(aa, member, "GET", f"/{c}/obj")[0] == 403
