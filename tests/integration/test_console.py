"""The web console (/_console/, docs/operations.md "Web console"): its pages and JSON endpoints over
plain HTTP, then the whole console in headless Chromium (Debian's chromium + chromium-driver,
driven by python3-selenium) against the real cluster: log in with S3 keys, create a bucket,
upload a small file and a 12 MiB one (multipart, 5 MiB parts), see them listed, download them and
compare the bytes, make a presigned share link and fetch it without credentials, delete, then log
in with Swift credentials (a reseller admin of the same account), see the same containers and the
usage against a quota, make a TempURL link, and see every storage device up in the cluster view.
A screenshot of each page goes to build/test-artifacts/console/ (the path is printed)."""

import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import ACCESS, ACCOUNT, MiB, SECRET, http_request, make_file, signed_request, uniq

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTIFACTS = os.path.join(REPO, "build", "test-artifacts", "console")
DRIVER = "/usr/bin/chromedriver"
SWIFT_USER, SWIFT_KEY = "console", "console-key"
WAIT = 120  # bound on any one wait for the page (an ASan gateway on a busy machine is slow)


@pytest.fixture(scope="module")
def swift_admin(cluster):
    """A reseller admin of ACCOUNT (the S3 keys' account): (user, token, storage path)."""
    cluster.admin("account-add", ACCOUNT, check=False)  # may exist already (other modules)
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", SWIFT_USER, "--key", SWIFT_KEY,
                  "--reseller-admin")
    st, h, _ = http_request(cluster.port(), "GET", "/auth/v1.0",
                            {"X-Auth-User": f"{ACCOUNT}:{SWIFT_USER}", "X-Auth-Key": SWIFT_KEY})
    assert st == 200
    return f"{ACCOUNT}:{SWIFT_USER}", h["x-auth-token"], urllib.parse.urlsplit(h["x-storage-url"]).path


# ---------------------------------------------------------------- plain HTTP

def test_console_pages_and_headers(cluster):
    port = cluster.port()
    st, h, _ = http_request(port, "GET", "/_console")
    assert (st, h.get("location")) == (301, "/_console/")
    st, h, body = http_request(port, "GET", "/_console/")
    assert st == 200 and h["content-type"].startswith("text/html") and b"Onggi console" in body
    csp = h["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert (h["x-frame-options"], h["x-content-type-options"], h["referrer-policy"]) == ("DENY", "nosniff",
                                                                                          "no-referrer")
    for name, ctype in (("console.js", "text/javascript"), ("sigv4.js", "text/javascript"), ("console.css", "text/css")):
        st, h, body = http_request(port, "GET", f"/_console/{name}")
        assert st == 200 and h["content-type"].startswith(ctype) and len(body) > 500, name
        with open(os.path.join(REPO, "gateway", "console", "www", name), "rb") as f:
            assert body == f.read(), f"{name}: the gateway serves what gateway/console/www holds"
    assert http_request(port, "GET", "/_console/nope.js")[0] == 404
    assert http_request(port, "GET", "/_console/../console.js")[0] == 404
    assert http_request(port, "PUT", "/_console/index.html", body=b"x")[0] == 405
    assert http_request(port, "POST", "/_console/api/config", body=b"x")[0] == 405
    st, _, body = http_request(port, "GET", "/_console/api/config")
    assert st == 200 and json.loads(body) == {"region": "us-east-1"}


def test_console_leaves_buckets_alone(cluster, s3):
    """/_console is a path no bucket can take; a bucket named "console" (or "_console" refused by
    S3 itself) is untouched."""
    s3.create_bucket(Bucket="console")
    s3.put_object(Bucket="console", Key="index.html", Body=b"my own page")
    assert s3.get_object(Bucket="console", Key="index.html")["Body"].read() == b"my own page"
    st, _, body = signed_request(cluster.port(), "PUT", "/console/x", body=b"y")
    assert st == 200
    s3.delete_object(Bucket="console", Key="index.html")
    s3.delete_object(Bucket="console", Key="x")
    s3.delete_bucket(Bucket="console")


def test_console_api_auth(cluster, swift_admin):
    port = cluster.port()
    # usage: signed by an S3 key
    assert http_request(port, "GET", "/_console/api/usage")[0] == 401
    assert signed_request(port, "GET", "/_console/api/usage", secret="wrong")[0] == 403
    st, _, body = signed_request(port, "GET", "/_console/api/usage")
    u = json.loads(body)
    assert st == 200 and u["account"] == ACCOUNT and {"buckets", "objects", "bytes", "quota_bytes"} <= set(u)
    # cluster: a reseller admin's token only
    assert http_request(port, "GET", "/_console/api/cluster")[0] == 401
    assert http_request(port, "GET", "/_console/api/cluster", {"X-Auth-Token": "AUTH_tkforged"})[0] == 401
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", "plainadmin", "--key", "k", "--admin")
    st, h, _ = http_request(port, "GET", "/auth/v1.0", {"X-Auth-User": f"{ACCOUNT}:plainadmin", "X-Auth-Key": "k"})
    assert http_request(port, "GET", "/_console/api/cluster", {"X-Auth-Token": h["x-auth-token"]})[0] == 403
    st, _, body = http_request(port, "GET", "/_console/api/cluster", {"X-Auth-Token": swift_admin[1]})
    c = json.loads(body)
    assert st == 200 and (c["up"], c["total"]) == (3, 3), c
    assert sorted(d["name"] for d in c["devices"]) == ["d1", "d2", "d3"]
    assert all(d["up"] and d["stat"]["state"] == "ok" and d["stat"]["total_bytes"] > 0 for d in c["devices"])
    assert http_request(port, "GET", "/_console/api/nope", {"X-Auth-Token": swift_admin[1]})[0] == 404


# ---------------------------------------------------------------- headless Chromium

@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """(driver, download dir): headless Chromium, downloads allowed into a fresh directory."""
    if not shutil.which("chromium") or not os.path.exists(DRIVER):
        pytest.skip("chromium and chromium-driver are not installed (tools/deps.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common import utils
    downloads = str(tmp_path_factory.mktemp("downloads"))
    profile = str(tmp_path_factory.mktemp("chromium-profile"))
    # Chromium is started here with its DevTools port on 127.0.0.1 and chromedriver attached to it:
    # left to itself chromedriver reaches Chromium (and selenium chromedriver) at "localhost",
    # which a bare Debian without /etc/hosts cannot resolve (fresh-machine.sh).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chrome = subprocess.Popen(["chromium", "--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                               "--window-size=1280,900", "--disable-gpu", f"--remote-debugging-port={port}",
                               "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}",
                               "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + WAIT
    while not utils.is_connectable(port, host="127.0.0.1") and time.monotonic() < deadline:
        time.sleep(0.1)
    opts = Options()
    opts.debugger_address = f"127.0.0.1:{port}"
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's console, for failures

    class LoopbackService(Service):
        """Talks to chromedriver at 127.0.0.1 (selenium 4.8 says "localhost")."""
        @property
        def service_url(self):
            return f"http://127.0.0.1:{self.port}"

        def is_connectable(self):
            return utils.is_connectable(self.port, host="127.0.0.1")

    driver = webdriver.Chrome(service=LoopbackService(DRIVER), options=opts)
    driver.set_page_load_timeout(WAIT)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # only this run's pages
    os.makedirs(ARTIFACTS)
    try:
        yield driver, downloads
    finally:
        driver.quit()
        chrome.terminate()
        chrome.wait(timeout=30)


class Page:
    """The console in one browser tab, with waits bounded by WAIT."""

    def __init__(self, driver, base, first_shot=1):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        self.d, self.base, self.By, self.Wait = driver, base, By, WebDriverWait
        self.shots = []
        self.first_shot = first_shot  # the number of the first screenshot's file

    def find(self, css):
        return self.d.find_element(self.By.CSS_SELECTOR, css)

    def wait(self, cond, what):
        try:
            return self.Wait(self.d, WAIT, poll_frequency=0.2).until(lambda d: cond())
        except Exception as e:
            raise AssertionError(f"waiting for {what}: page status {self.status()!r}\n"
                                 f"browser log: {self.d.get_log('browser')}") from e

    def status(self):
        try:
            return self.find("#status").text
        except Exception:
            return "?"

    def wait_status(self, text):
        """Waits for a status line containing text; fails at once on an error status."""
        def ok():
            el = self.find("#status")
            if "error" in (el.get_attribute("class") or "") and text not in el.text:
                raise AssertionError(f"console error while waiting for {text!r}: {el.text}")
            return text in el.text
        self.wait(ok, f"status {text!r}")

    def row(self, name):
        return self.find(f'#listing tr[data-name="{name}"]')

    def has_row(self, name):
        return bool(self.d.find_elements(self.By.CSS_SELECTOR, f'#listing tr[data-name="{name}"]'))

    def go(self, fragment):
        self.d.get(f"{self.base}/_console/{fragment}")

    def shot(self, name):
        path = os.path.join(ARTIFACTS, f"{self.first_shot + len(self.shots):02d}-{name}.png")
        self.d.save_screenshot(path)
        self.shots.append(path)


def wait_download(downloads, name, size):
    """The bytes of a finished download (Chromium writes NAME.crdownload, then renames it)."""
    path = os.path.join(downloads, name)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path) == size:
            with open(path, "rb") as f:
                return f.read()
        time.sleep(0.2)
    raise AssertionError(f"download {name} did not finish: {os.listdir(downloads)}")


def test_console_in_chromium(cluster, s3, swift_admin, browser, tmp_path, capsys):
    driver, downloads = browser
    p = Page(driver, cluster.endpoint())
    try:
        s3_part(p, s3, downloads, tmp_path)
        swift_part(p, cluster, s3, swift_admin, downloads, tmp_path)
    finally:
        with capsys.disabled():
            print(f"\nconsole screenshots ({len(p.shots)}) in {ARTIFACTS}:\n  " + "\n  ".join(p.shots))


def s3_part(p, s3, downloads, tmp_path):
    p.go("")
    p.wait(lambda: p.find("#view-login").is_displayed(), "the login page")
    p.shot("login")
    p.find("#login-s3-access").send_keys(ACCESS)
    p.find("#login-s3-secret").send_keys(SECRET)
    p.find("#login-s3-submit").click()
    p.wait_status("Logged in as S3 key")
    assert "onggi-console" in p.d.execute_script("return Object.keys(sessionStorage)")
    assert p.d.execute_script("return Object.keys(localStorage).length") == 0

    bucket = uniq("console")
    p.find("#new-bucket-name").send_keys(bucket)
    p.find("#new-bucket-submit").click()
    p.wait_status(f"Created {bucket}")
    p.wait(lambda: p.has_row(bucket), "the new bucket's row")
    s3.head_bucket(Bucket=bucket)
    p.wait(lambda: "Usage:" in p.find("#usage-text").text, "the usage line")
    p.shot("buckets")

    p.row(bucket).find_element(p.By.CSS_SELECTOR, "a").click()
    p.wait(lambda: p.find("#toolbar-objects").is_displayed(), "the bucket view")
    small, large = tmp_path / "hello.txt", tmp_path / "large.bin"
    small.write_bytes(b"hello from the console\n" * 100)
    make_file(str(large), 12 * MiB)
    for f, how in ((small, "in one request"), (large, "in 3 parts")):
        p.find("#upload-file").send_keys(str(f))
        p.find("#upload-submit").click()
        p.wait_status(f"Uploaded {f.name}")
        assert how in p.status()
        p.wait(lambda: p.has_row(f.name), f"{f.name} listed")
        assert s3.get_object(Bucket=bucket, Key=f.name)["Body"].read() == f.read_bytes()
    assert p.find("#upload-progress").get_attribute("value") == str(12 * MiB)
    # multipart: the ETag of a completed multipart upload ends in -<parts>
    assert s3.head_object(Bucket=bucket, Key="large.bin")["ETag"].strip('"').endswith("-3")
    assert "12.0 MiB" in p.row("large.bin").text
    p.shot("objects")

    for f in (small, large):
        p.row(f.name).find_element(p.By.CSS_SELECTOR, "button.dl").click()
        p.wait_status(f"Downloaded {f.name}")
        assert wait_download(downloads, f.name, f.stat().st_size) == f.read_bytes()

    p.row("large.bin").find_element(p.By.CSS_SELECTOR, "button.share").click()
    p.wait_status("Share link for large.bin")
    url = p.find("#share-url").get_attribute("value")
    assert "X-Amz-Signature=" in url and ACCESS in url
    with urllib.request.urlopen(url, timeout=WAIT) as r:  # no credentials: the link alone
        assert hashlib.sha256(r.read()).digest() == hashlib.sha256(large.read_bytes()).digest()
    tampered = url.replace("large.bin", "hello.txt")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=WAIT)
    assert e.value.code == 403
    p.shot("share-link")

    p.row("hello.txt").find_element(p.By.CSS_SELECTOR, "button.del").click()
    p.wait_status("Deleted hello.txt")
    p.wait(lambda: not p.has_row("hello.txt"), "hello.txt gone from the listing")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])] == ["large.bin"]

    # a prefix: a "folder" row that opens the prefix
    s3.put_object(Bucket=bucket, Key="photos/2026/a.jpg", Body=b"jpg")
    p.d.refresh()
    p.wait(lambda: p.has_row("photos/"), "the photos/ prefix")
    p.row("photos/").find_element(p.By.CSS_SELECTOR, "a").click()
    p.wait(lambda: p.has_row("photos/2026/"), "the photos/2026/ prefix")
    p.row("photos/2026/").find_element(p.By.CSS_SELECTOR, "a").click()
    p.wait(lambda: p.has_row("photos/2026/a.jpg"), "an object under a prefix")
    p.shot("prefix")
    p.find("#logout").click()
    p.wait(lambda: p.find("#view-login").is_displayed(), "the login page after logout")
    assert p.d.execute_script("return sessionStorage.length") == 0
    p.bucket = bucket


def swift_part(p, cluster, s3, swift_admin, downloads, tmp_path):
    user, token, storage = swift_admin
    port = cluster.port()
    # a quota and a Temp-URL key on the account (Swift POSTs by the reseller admin), removed
    # afterwards: the account is the shared cluster's
    st, _, _ = http_request(port, "POST", storage, {"X-Auth-Token": token, "X-Account-Meta-Quota-Bytes": str(1 << 30),
                                                    "X-Account-Meta-Temp-URL-Key": "tempkey"})
    assert st == 204
    try:
        swift_pages(p, port, s3, user, token, storage, downloads, tmp_path)
    finally:
        st, _, _ = http_request(port, "POST", storage, {"X-Auth-Token": token, "X-Remove-Account-Meta-Quota-Bytes": "x",
                                                        "X-Remove-Account-Meta-Temp-URL-Key": "x"})
        assert st == 204
        st, h, _ = http_request(port, "HEAD", storage, {"X-Auth-Token": token})
        assert st == 204 and "x-account-meta-quota-bytes" not in h and "x-account-meta-temp-url-key" not in h


def swift_pages(p, port, s3, user, token, storage, downloads, tmp_path):
    p.find("#login-swift-user").send_keys(user)
    p.find("#login-swift-key").send_keys(SWIFT_KEY)
    p.find("#login-swift-submit").click()
    p.wait_status("Logged in as Swift user")
    p.wait(lambda: p.has_row(p.bucket), "the S3 bucket among the Swift containers")
    p.wait(lambda: "quota" in p.find("#usage-text").text and "of the 1.0 GiB" in p.find("#usage-text").text,
           "usage against the quota")
    assert p.find("#usage-bar").is_displayed()
    p.shot("swift-containers")

    p.row(p.bucket).find_element(p.By.CSS_SELECTOR, "a").click()
    p.wait(lambda: p.has_row("large.bin"), "the object uploaded with S3")
    small, large = tmp_path / "swift note.txt", tmp_path / "swift-large.bin"
    small.write_bytes(b"uploaded through Swift \xe2\x9c\x93\n" * 50)
    make_file(str(large), 12 * MiB)
    segments = f"{storage}/{p.bucket}_segments"
    for f, how in ((small, "in one request"), (large, "in 3 segments")):
        p.find("#upload-file").send_keys(str(f))
        p.find("#upload-submit").click()
        p.wait_status(f"Uploaded {f.name}")
        assert how in p.status()
        p.wait(lambda: p.has_row(f.name), "the Swift upload listed")
        assert s3.get_object(Bucket=p.bucket, Key=f.name)["Body"].read() == f.read_bytes()
        p.row(f.name).find_element(p.By.CSS_SELECTOR, "button.dl").click()
        p.wait_status(f"Downloaded {f.name}")
        assert wait_download(downloads, f.name, f.stat().st_size) == f.read_bytes()
    st, h, _ = http_request(port, "HEAD", f"{storage}/{p.bucket}/swift-large.bin", {"X-Auth-Token": token})
    assert (st, h.get("x-static-large-object")) == (200, "True")
    st, _, body = http_request(port, "GET", segments + "?format=json", {"X-Auth-Token": token})
    assert st == 200 and [o["bytes"] for o in json.loads(body)] == [5 * MiB, 5 * MiB, 2 * MiB]
    p.shot("swift-objects")
    for f in (small, large):
        p.row(f.name).find_element(p.By.CSS_SELECTOR, "button.del").click()
        p.wait(lambda: not p.has_row(f.name), "the Swift upload deleted")
    # the large object went with its segments
    st, _, body = http_request(port, "GET", segments + "?format=json", {"X-Auth-Token": token})
    assert (st, json.loads(body)) == (200, [])
    assert http_request(port, "DELETE", segments, {"X-Auth-Token": token})[0] == 204
    p.row("large.bin").find_element(p.By.CSS_SELECTOR, "button.share").click()
    p.wait_status("Share link for large.bin")
    url = p.find("#share-url").get_attribute("value")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    path = f"{storage}/{p.bucket}/large.bin"
    want = hmac.new(b"tempkey", f"GET\n{q['temp_url_expires'][0]}\n{path}".encode(), hashlib.sha256).hexdigest()
    assert q["temp_url_sig"] == [want] and urllib.parse.urlsplit(url).path == path
    p.shot("swift-tempurl")
    # The link works once the gateway serves TempURL (another branch); until then it is refused.
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as r:
            assert r.read() == s3.get_object(Bucket=p.bucket, Key="large.bin")["Body"].read()
    except urllib.error.HTTPError as e:
        assert e.code == 401, e

    p.find("#nav-cluster").click()
    p.wait(lambda: len(p.d.find_elements(p.By.CSS_SELECTOR, "#cluster-table tbody tr")) == 3, "three devices")
    rows = p.d.find_elements(p.By.CSS_SELECTOR, "#cluster-table tbody tr")
    assert [r.get_attribute("data-up") for r in rows] == ["true"] * 3
    assert "3 of 3 devices up" in p.find("#cluster-summary").text
    p.shot("cluster")
    s3.delete_object(Bucket=p.bucket, Key="large.bin")
    s3.delete_object(Bucket=p.bucket, Key="photos/2026/a.jpg")


def test_cluster_view_shows_a_stopped_node(own_cluster, request, capsys):
    """With node 3 stopped its device is reported down (the others up), in the JSON and on the
    Cluster page; once it is back, every device is up again."""
    c = own_cluster
    c.admin("account-add", ACCOUNT, check=False)
    c.admin("swift-user-add", "--account", ACCOUNT, "--user", SWIFT_USER, "--key", SWIFT_KEY, "--reseller-admin")
    st, h, _ = http_request(c.port(), "GET", "/auth/v1.0",
                            {"X-Auth-User": f"{ACCOUNT}:{SWIFT_USER}", "X-Auth-Key": SWIFT_KEY})
    token = h["x-auth-token"]

    def devices():
        st, _, body = http_request(c.port(), "GET", "/_console/api/cluster", {"X-Auth-Token": token})
        assert st == 200, body
        return json.loads(body)

    c.stop("node3")
    try:
        j = devices()
        assert (j["up"], j["total"]) == (2, 3), j
        down = [d for d in j["devices"] if not d["up"]]
        assert [d["name"] for d in down] == ["d3"] and down[0]["stat"] is None and down[0]["error"], down
        if shutil.which("chromium") and os.path.exists(DRIVER):
            driver, _ = request.getfixturevalue("browser")
            p = Page(driver, c.endpoint(), first_shot=10)  # after the main test's nine pages
            p.go("")
            p.d.execute_script("sessionStorage.clear()")
            p.go("")
            p.find("#login-swift-user").send_keys(f"{ACCOUNT}:{SWIFT_USER}")
            p.find("#login-swift-key").send_keys(SWIFT_KEY)
            p.find("#login-swift-submit").click()
            p.wait_status("Logged in as Swift user")
            p.find("#nav-cluster").click()
            p.wait(lambda: len(p.d.find_elements(p.By.CSS_SELECTOR, "#cluster-table tbody tr")) == 3, "three devices")
            ups = [r.get_attribute("data-up") for r in p.d.find_elements(p.By.CSS_SELECTOR, "#cluster-table tbody tr")]
            assert ups == ["true", "true", "false"]
            assert "2 of 3 devices up" in p.find("#cluster-summary").text
            p.shot("cluster-node-down")
            with capsys.disabled():
                print(f"\nconsole screenshot: {p.shots[-1]}")
    finally:
        c.start_node(3)
    j = devices()
    assert (j["up"], j["total"]) == (3, 3), j
