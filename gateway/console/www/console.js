// The Onggi web console (docs/operations.md, "Web console"). Plain JavaScript, no build step.
// Two back ends with one shape, S3 (SigV4-signed in this page, sigv4.js) and Swift (a TempAuth
// token), both talking to the gateway that served this page. Credentials live in sessionStorage
// only. Every name shown comes from the server and is set as text, never parsed as HTML.
"use strict";

(() => {
  const MiB = 1 << 20;
  const PART_SIZE = 5 * MiB;        // S3's smallest part (but the last)
  const MULTIPART_FROM = 8 * MiB;   // larger files go up in parts
  const SHARE_SECONDS = 3600;
  const LIST_PAGES_MAX = 20;        // a listing shows at most this many pages of 1000
  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- small helpers

  function setStatus(msg, isError) {
    $("status").textContent = msg;
    $("status").className = isError ? "error" : "";
  }

  function fmtBytes(n) {
    if (n === null || n === undefined || isNaN(n)) return "";
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let i = 0;
    n = Number(n);
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  }

  const plural = (n, what) => `${n} ${what}${n === 1 ? "" : "s"}`;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function button(text, cls, onClick) {
    const b = el("button", text, cls);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  // An S3 error document's "Code: Message", or the HTTP status.
  function s3ErrorText(status, body) {
    try {
      const doc = new DOMParser().parseFromString(body, "application/xml");
      const code = doc.getElementsByTagName("Code")[0];
      const msg = doc.getElementsByTagName("Message")[0];
      if (code) return `${code.textContent}${msg ? ": " + msg.textContent : ""} (${status})`;
    } catch (e) { /* not XML */ }
    return `HTTP ${status}`;
  }

  class HttpError extends Error {
    constructor(status, text) { super(text); this.status = status; }
  }

  // One XMLHttpRequest (upload progress needs it; fetch has none). Resolves with the xhr.
  function xhrSend(method, url, headers, body, onProgress) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open(method, url);
      for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
      if (onProgress) x.upload.addEventListener("progress", (e) => onProgress(e.loaded));
      x.addEventListener("load", () => resolve(x));
      x.addEventListener("error", () => reject(new Error("network error")));
      x.addEventListener("abort", () => reject(new Error("aborted")));
      x.send(body === undefined ? null : body);
    });
  }

  const xmlText = (node, tag) => {
    const e = node.getElementsByTagName(tag)[0];
    return e ? e.textContent : "";
  };

  // ---------------------------------------------------------------- the S3 back end

  class S3 {
    constructor(cred) { this.cred = cred; this.kind = "s3"; }

    async call(method, path, params = [], body, extra = {}) {
      const r = await OnggiSign.s3Request(this.cred, method, path, params);
      const resp = await fetch(r.url, { method, headers: { ...r.headers, ...extra }, body, cache: "no-store" });
      if (!resp.ok) throw new HttpError(resp.status, s3ErrorText(resp.status, await resp.text()));
      return resp;
    }

    async xml(method, path, params, body, extra) {
      const text = await (await this.call(method, path, params, body, extra)).text();
      return new DOMParser().parseFromString(text, "application/xml");
    }

    async containers() {
      const doc = await this.xml("GET", "/");
      return Array.from(doc.getElementsByTagName("Bucket"), (b) => ({
        name: xmlText(b, "Name"), modified: xmlText(b, "CreationDate"),
      }));
    }

    async createContainer(name) { await this.call("PUT", `/${name}`); }
    async deleteContainer(name) { await this.call("DELETE", `/${name}`); }

    async list(bucket, prefix) {
      const out = { dirs: [], objects: [], truncated: false };
      let token = "";
      for (let page = 0; page < LIST_PAGES_MAX; page++) {
        const params = [["list-type", "2"], ["delimiter", "/"], ["prefix", prefix]];
        if (token) params.push(["continuation-token", token]);
        const doc = await this.xml("GET", `/${bucket}`, params);
        for (const p of doc.getElementsByTagName("CommonPrefixes")) out.dirs.push(xmlText(p, "Prefix"));
        for (const c of doc.getElementsByTagName("Contents")) {
          out.objects.push({ key: xmlText(c, "Key"), size: Number(xmlText(c, "Size")),
            modified: xmlText(c, "LastModified") });
        }
        token = xmlText(doc, "NextContinuationToken");
        if (xmlText(doc, "IsTruncated") !== "true" || !token) return out;
      }
      out.truncated = true;
      return out;
    }

    async upload(bucket, key, file, onProgress) {
      if (file.size >= MULTIPART_FROM) return this.uploadParts(bucket, key, file, onProgress);
      const r = await OnggiSign.s3Request(this.cred, "PUT", `/${bucket}/${key}`);
      const x = await xhrSend("PUT", r.url, r.headers, file, onProgress);
      if (x.status !== 200) throw new HttpError(x.status, s3ErrorText(x.status, x.responseText));
    }

    // CreateMultipartUpload, one UploadPart per PART_SIZE slice (progress over the whole file),
    // CompleteMultipartUpload; AbortMultipartUpload when a step fails.
    async uploadParts(bucket, key, file, onProgress) {
      const path = `/${bucket}/${key}`;
      const type = file.type ? { "Content-Type": file.type } : {};
      const created = await this.xml("POST", path, [["uploads", ""]], undefined, type);
      const uploadId = xmlText(created, "UploadId");
      const etags = [];
      try {
        for (let off = 0, n = 1; off < file.size; off += PART_SIZE, n++) {
          const part = file.slice(off, Math.min(off + PART_SIZE, file.size));
          const r = await OnggiSign.s3Request(this.cred, "PUT", path,
            [["partNumber", String(n)], ["uploadId", uploadId]]);
          const x = await xhrSend("PUT", r.url, r.headers, part, (loaded) => onProgress(off + loaded));
          if (x.status !== 200) throw new HttpError(x.status, s3ErrorText(x.status, x.responseText));
          etags.push(x.getResponseHeader("ETag"));
        }
        const body = "<CompleteMultipartUpload>" + etags.map((e, i) =>
          `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join("") + "</CompleteMultipartUpload>";
        const done = await this.xml("POST", path, [["uploadId", uploadId]], body);
        if (done.getElementsByTagName("Error").length) throw new Error(s3ErrorText(200, new XMLSerializer()
          .serializeToString(done)));
      } catch (e) {
        await this.call("DELETE", path, [["uploadId", uploadId]]).catch(() => {});
        throw e;
      }
    }

    async download(bucket, key) { return (await this.call("GET", `/${bucket}/${key}`)).blob(); }
    async remove(bucket, key) { await this.call("DELETE", `/${bucket}/${key}`); }

    async share(bucket, key) {
      return { url: await OnggiSign.s3Presign(this.cred, `/${bucket}/${key}`, SHARE_SECONDS),
        note: "presigned GET, valid for 1 hour" };
    }

    // The account's usage and quota from the gateway (GET /_console/api/usage, signed like S3).
    async usage() {
      const r = await OnggiSign.s3Request(this.cred, "GET", "/_console/api/usage");
      const resp = await fetch(r.url, { headers: r.headers, cache: "no-store" });
      const j = await resp.json();
      if (!resp.ok) throw new HttpError(resp.status, j.error || `HTTP ${resp.status}`);
      return { bytes: j.bytes, objects: j.objects, containers: j.buckets, quota: j.quota_bytes };
    }

    async cluster() {
      throw new Error("The cluster view needs a Swift reseller admin: log in with Swift credentials.");
    }

    describe() { return `S3 key ${this.cred.access}`; }
  }

  // ---------------------------------------------------------------- the Swift back end

  class Swift {
    constructor(cred) { this.cred = cred; this.kind = "swift"; }

    // Exchanges user and key for a token at /auth/v1.0 (TempAuth).
    static async login(user, key) {
      const resp = await fetch("/auth/v1.0", { headers: { "X-Auth-User": user, "X-Auth-Key": key }, cache: "no-store" });
      if (!resp.ok) throw new HttpError(resp.status, `Swift auth refused (HTTP ${resp.status})`);
      const storage = new URL(resp.headers.get("X-Storage-Url")).pathname;
      return { user, token: resp.headers.get("X-Auth-Token"), storage };
    }

    url(container, obj, params) {
      let u = this.cred.storage;
      if (container !== undefined) u += "/" + OnggiSign.uriEncode(container, false);
      if (obj !== undefined) u += "/" + OnggiSign.uriEncode(obj, true);
      if (params) u += "?" + new URLSearchParams(params).toString();
      return u;
    }

    async call(method, url, body, extra = {}) {
      const resp = await fetch(url, { method, headers: { "X-Auth-Token": this.cred.token, ...extra }, body,
        cache: "no-store" });
      if (!resp.ok) {
        const text = (await resp.text()).replace(/<[^>]*>/g, " ").trim().slice(0, 200);
        throw new HttpError(resp.status, `HTTP ${resp.status} ${text}`);
      }
      return resp;
    }

    async containers() {
      const list = await (await this.call("GET", this.url(undefined, undefined, { format: "json" }))).json();
      return list.map((c) => ({ name: c.name, size: c.bytes, count: c.count, modified: c.last_modified || "" }));
    }

    async createContainer(name) { await this.call("PUT", this.url(name)); }
    async deleteContainer(name) { await this.call("DELETE", this.url(name)); }

    async list(container, prefix) {
      const out = { dirs: [], objects: [], truncated: false };
      let marker = "";
      for (let page = 0; page < LIST_PAGES_MAX; page++) {
        const q = { format: "json", delimiter: "/", prefix };
        if (marker) q.marker = marker;
        const items = await (await this.call("GET", this.url(container, undefined, q))).json();
        for (const it of items) {
          if (it.subdir !== undefined) out.dirs.push(it.subdir);
          else out.objects.push({ key: it.name, size: it.bytes, modified: it.last_modified });
        }
        if (items.length < 10000) return out;
        const last = items[items.length - 1];
        marker = last.subdir !== undefined ? last.subdir : last.name;
      }
      out.truncated = true;
      return out;
    }

    // One PUT with progress; a large file as a static large object.
    async upload(container, key, file, onProgress) {
      if (file.size >= MULTIPART_FROM) return this.uploadSlo(container, key, file, onProgress);
      await this.put(container, key, file, onProgress);
    }

    // An XHR PUT of body (progress: bytes sent); resolves with the xhr once Swift said 201.
    async put(container, key, body, onProgress) {
      const x = await xhrSend("PUT", this.url(container, key), { "X-Auth-Token": this.cred.token }, body, onProgress);
      if (x.status !== 201) throw new HttpError(x.status, `HTTP ${x.status}`);
      return x;
    }

    // A static large object: PART_SIZE segments in "<container>_segments" under
    // "<key>/slo/<time>/<size>/<segment size>/<index>" (the swift CLI's layout), then the manifest.
    async uploadSlo(container, key, file, onProgress) {
      const segs = `${container}_segments`;
      await this.call("PUT", this.url(segs));
      const base = `${key}/slo/${(Date.now() / 1000).toFixed(6)}/${file.size}/${PART_SIZE}`;
      const manifest = [];
      for (let off = 0, i = 0; off < file.size; off += PART_SIZE, i++) {
        const part = file.slice(off, Math.min(off + PART_SIZE, file.size));
        const name = `${base}/${String(i).padStart(8, "0")}`;
        const x = await this.put(segs, name, part, (loaded) => onProgress(off + loaded));
        manifest.push({ path: `/${segs}/${name}`, etag: x.getResponseHeader("Etag"), size_bytes: part.size });
      }
      await this.call("PUT", this.url(container, key, { "multipart-manifest": "put" }), JSON.stringify(manifest),
        { "Content-Type": file.type || "application/octet-stream" });
    }

    async download(container, key) { return (await this.call("GET", this.url(container, key))).blob(); }

    // A static large object goes with its segments (multipart-manifest=delete), anything else alone.
    async remove(container, key) {
      const head = await this.call("HEAD", this.url(container, key));
      if ((head.headers.get("X-Static-Large-Object") || "").toLowerCase() !== "true") {
        await this.call("DELETE", this.url(container, key));
        return;
      }
      const r = await (await this.call("DELETE", this.url(container, key, { "multipart-manifest": "delete" }),
        undefined, { Accept: "application/json" })).json();
      if (r["Response Status"] !== "200 OK") throw new Error(`Deleting the segments: ${JSON.stringify(r.Errors)}`);
    }

    // A TempURL signed here with the account's Temp-URL key (X-Account-Meta-Temp-URL-Key).
    async share(container, key) {
      const head = await this.call("HEAD", this.url());
      const tk = head.headers.get("X-Account-Meta-Temp-URL-Key");
      if (!tk) {
        throw new Error("This account has no Temp-URL key: set X-Account-Meta-Temp-URL-Key on it " +
          "(swift post -m Temp-URL-Key:SECRET) to share objects.");
      }
      const path = `${decodeURIComponent(this.cred.storage)}/${container}/${key}`;
      return { url: await OnggiSign.swiftTempUrl(tk, path, SHARE_SECONDS), note: "TempURL, valid for 1 hour" };
    }

    async usage() {
      const h = (await this.call("HEAD", this.url())).headers;
      const q = h.get("X-Account-Meta-Quota-Bytes");
      return { bytes: Number(h.get("X-Account-Bytes-Used")), objects: Number(h.get("X-Account-Object-Count")),
        containers: Number(h.get("X-Account-Container-Count")), quota: q === null ? null : Number(q) };
    }

    async cluster() {
      const resp = await fetch("/_console/api/cluster", { headers: { "X-Auth-Token": this.cred.token },
        cache: "no-store" });
      const j = await resp.json();
      if (!resp.ok) throw new HttpError(resp.status, j.error || `HTTP ${resp.status}`);
      return j;
    }

    describe() { return `Swift user ${this.cred.user}`; }
  }

  // ---------------------------------------------------------------- session

  const SESSION_KEY = "onggi-console";
  let backend = null;

  function restore() {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (!s) return null;
    return s.kind === "s3" ? new S3(s.cred) : new Swift(s.cred);
  }

  function remember(b) {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify({ kind: b.kind, cred: b.cred }));
    backend = b;
  }

  function logout(msg = "Logged out.") {
    sessionStorage.removeItem(SESSION_KEY);
    backend = null;
    goTo("#/", msg);
  }

  async function loginS3(ev) {
    ev.preventDefault();
    const cfg = await (await fetch("/_console/api/config", { cache: "no-store" })).json();
    const b = new S3({ access: $("login-s3-access").value.trim(), secret: $("login-s3-secret").value,
      region: cfg.region });
    try {
      await b.containers(); // proves the keys before they are kept
    } catch (e) {
      setStatus(`Login failed: ${e.message}`, true);
      return;
    }
    $("login-s3-secret").value = "";
    remember(b);
    goTo("#/", `Logged in as ${b.describe()}.`);
  }

  async function loginSwift(ev) {
    ev.preventDefault();
    try {
      remember(new Swift(await Swift.login($("login-swift-user").value.trim(), $("login-swift-key").value)));
    } catch (e) {
      setStatus(`Login failed: ${e.message}`, true);
      return;
    }
    $("login-swift-key").value = "";
    goTo("#/", `Logged in as ${backend.describe()}.`);
  }

  // ---------------------------------------------------------------- views

  // Shows the view of hash with msg as the status (a change of the hash renders through the
  // hashchange listener, which otherwise clears the status of the page left).
  let pendingStatus = "";
  function goTo(hash, msg) {
    if (location.hash === hash) {
      setStatus(msg);
      render();
    } else {
      pendingStatus = msg;
      location.hash = hash;
    }
  }

  function onHashChange() {
    setStatus(pendingStatus);
    pendingStatus = "";
    render();
  }

  // The route from the hash: {view: "browse", bucket, prefix} or {view: "cluster"}.
  function route() {
    const h = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
    if (h === "/cluster") return { view: "cluster" };
    const m = h.match(/^\/b\/([^/]+)\/?(.*)$/);
    return m ? { view: "browse", bucket: m[1], prefix: m[2] } : { view: "browse", bucket: null, prefix: "" };
  }

  const link = (bucket, prefix) => "#/b/" + encodeURIComponent(bucket) + "/" + encodeURIComponent(prefix || "");

  function show(view) {
    for (const v of ["login", "browse", "cluster"]) $("view-" + v).hidden = v !== view;
    $("nav").hidden = view === "login";
    $("nav-browse").className = view === "browse" ? "active" : "";
    $("nav-cluster").className = view === "cluster" ? "active" : "";
  }

  async function render() {
    backend = backend || restore();
    if (!backend) {
      show("login");
      return;
    }
    $("who").textContent = backend.describe();
    const r = route();
    show(r.view);
    try {
      if (r.view === "cluster") await renderCluster();
      else await renderBrowse(r.bucket, r.prefix);
    } catch (e) {
      if (e.status === 401) {
        logout("The session expired or the credentials were revoked: log in again.");
        return;
      }
      setStatus(e.message, true);
    }
  }

  async function renderUsage() {
    try {
      const u = await backend.usage();
      let text = `${fmtBytes(u.bytes)} in ${plural(u.objects, "object")}, ${plural(u.containers, "bucket")}`;
      $("usage-bar").hidden = u.quota === null;
      if (u.quota !== null) {
        text += ` — ${(100 * u.bytes / Math.max(u.quota, 1)).toFixed(1)} % of the ${fmtBytes(u.quota)} quota`;
        $("usage-bar").max = Math.max(u.quota, 1);
        $("usage-bar").value = Math.min(u.bytes, u.quota);
      } else {
        text += " (no quota)";
      }
      $("usage-text").textContent = "Usage: " + text;
    } catch (e) {
      $("usage-text").textContent = `Usage unavailable: ${e.message}`;
    }
  }

  function crumbs(bucket, prefix) {
    const c = $("crumbs");
    c.replaceChildren();
    const a = el("a", "Buckets");
    a.href = "#/";
    c.append(a);
    if (bucket === null) return;
    const parts = prefix.split("/").filter((p) => p);
    const ab = el("a", bucket);
    ab.href = link(bucket, "");
    c.append(" / ", ab);
    let acc = "";
    for (const p of parts) {
      acc += p + "/";
      const ap = el("a", p);
      ap.href = link(bucket, acc);
      c.append(" / ", ap);
    }
  }

  // A table row: cells are nodes or {text, cls}; actions (buttons) go in a last cell, if given.
  function row(cells, actions, attrs = {}) {
    const tr = document.createElement("tr");
    for (const [k, v] of Object.entries(attrs)) tr.dataset[k] = v;
    for (const c of cells) tr.append(c instanceof Node ? wrapTd(c) : el("td", c.text, c.cls));
    if (actions) {
      const td = el("td");
      td.append(...actions);
      tr.append(td);
    }
    return tr;
  }

  function wrapTd(node) {
    const td = el("td");
    td.append(node);
    return td;
  }

  async function renderBrowse(bucket, prefix) {
    crumbs(bucket, prefix);
    $("toolbar-buckets").hidden = bucket !== null;
    $("toolbar-objects").hidden = bucket === null;
    $("share").hidden = true;
    renderUsage();
    const body = $("listing").tBodies[0];
    const rows = [];
    if (bucket === null) {
      for (const c of await backend.containers()) {
        const a = el("a", c.name);
        a.href = link(c.name, "");
        rows.push(row([a, { text: c.size === undefined ? "" : fmtBytes(c.size), cls: "num" }, { text: c.modified }],
          [button("Delete", "link danger del", () => act(() => backend.deleteContainer(c.name), `Deleted ${c.name}.`))],
          { name: c.name, kind: "bucket" }));
      }
    } else {
      const l = await backend.list(bucket, prefix);
      for (const d of l.dirs) {
        const a = el("a", d.slice(prefix.length));
        a.href = link(bucket, d);
        rows.push(row([a, { text: "", cls: "num" }, { text: "" }], [], { name: d, kind: "prefix" }));
      }
      for (const o of l.objects) rows.push(objectRow(bucket, prefix, o));
      if (l.truncated) setStatus("Only the first pages of this listing are shown.");
    }
    body.replaceChildren(...rows);
    if (!rows.length) body.append(row([{ text: bucket === null ? "No buckets yet." : "Empty." }], []));
  }

  function objectRow(bucket, prefix, o) {
    return row([{ text: o.key.slice(prefix.length) }, { text: fmtBytes(o.size), cls: "num" }, { text: o.modified }], [
      button("Download", "link dl", () => download(bucket, o.key)),
      button("Share", "link share", () => share(bucket, o.key)),
      button("Delete", "link danger del", () => act(() => backend.remove(bucket, o.key), `Deleted ${o.key}.`)),
    ], { name: o.key, kind: "object" });
  }

  // Runs an action, says how it went and shows the page again.
  async function act(fn, done) {
    try {
      await fn();
      setStatus(done);
    } catch (e) {
      setStatus(e.message, true);
      return;
    }
    await render();
  }

  async function download(bucket, key) {
    setStatus(`Downloading ${key}…`);
    try {
      const blob = await backend.download(bucket, key);
      const a = el("a");
      a.href = URL.createObjectURL(blob);
      a.download = key.split("/").pop();
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60000);
      setStatus(`Downloaded ${key} (${fmtBytes(blob.size)}).`);
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  async function share(bucket, key) {
    try {
      const s = await backend.share(bucket, key);
      $("share-url").value = s.url;
      $("share-expiry").textContent = `${key}: ${s.note}`;
      $("share").hidden = false;
      $("share-url").select();
      setStatus(`Share link for ${key} made.`);
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  async function upload() {
    const file = $("upload-file").files[0];
    const r = route();
    if (!file || r.bucket === null) {
      setStatus("Choose a file first.", true);
      return;
    }
    const key = r.prefix + file.name;
    const bar = $("upload-progress");
    bar.hidden = false;
    bar.max = Math.max(file.size, 1);
    bar.value = 0;
    const how = file.size >= MULTIPART_FROM ?
      `in ${Math.ceil(file.size / PART_SIZE)} ${backend.kind === "s3" ? "parts" : "segments"}` : "in one request";
    $("upload-text").textContent = `${file.name}: 0 %`;
    setStatus(`Uploading ${key} (${fmtBytes(file.size)}) ${how}…`);
    const progress = (sent) => {
      bar.value = sent;
      $("upload-text").textContent = `${file.name}: ${Math.floor(100 * sent / bar.max)} %`;
    };
    await act(async () => {
      await backend.upload(r.bucket, key, file, progress);
      progress(file.size);
    }, `Uploaded ${key} (${fmtBytes(file.size)}) ${how}.`);
  }

  async function createBucket() {
    const name = $("new-bucket-name").value.trim();
    if (!name) return;
    await act(() => backend.createContainer(name), `Created ${name}.`);
    $("new-bucket-name").value = "";
  }

  async function renderCluster() {
    const body = $("cluster-table").tBodies[0];
    body.replaceChildren();
    $("cluster-summary").textContent = "";
    const c = await backend.cluster();
    $("cluster-summary").textContent = `${c.up} of ${c.total} devices up · ring epoch ${c.ring_epoch}`;
    for (const d of c.devices) {
      const s = d.stat || {};
      const state = d.up ? (s.state || "ok") : (d.skipped ? "down (backing off)" : `down: ${d.error}`);
      const tr = row([{ text: d.name }, { text: d.addr }, { text: String(d.zone) },
        { text: state, cls: d.up && (s.state || "ok") === "ok" ? "up" : "down" },
        { text: d.up ? fmtBytes(s.total_bytes - s.free_bytes) : "", cls: "num" },
        { text: d.up ? fmtBytes(s.free_bytes) : "", cls: "num" },
        { text: d.up ? String(s.chunks) : "", cls: "num" },
        { text: d.up ? String(s.records) : "", cls: "num" }], null, { name: d.name, up: String(d.up) });
      body.append(tr);
    }
  }

  // ---------------------------------------------------------------- wiring

  document.addEventListener("DOMContentLoaded", () => {
    if (!window.crypto || !crypto.subtle) {
      setStatus("This page needs WebCrypto: open it over https, or on 127.0.0.1 / localhost.", true);
    }
    $("login-s3").addEventListener("submit", loginS3);
    $("login-swift").addEventListener("submit", loginSwift);
    $("logout").addEventListener("click", () => logout());
    $("upload-submit").addEventListener("click", upload);
    $("new-bucket-submit").addEventListener("click", createBucket);
    window.addEventListener("hashchange", onHashChange);
    render();
  });
})();
