// AWS Signature Version 4 for S3, and Swift TempURL signatures, with WebCrypto (HMAC-SHA256,
// SHA-256). WebCrypto exists only in secure contexts: https, or http on 127.0.0.1 / localhost.
// Request bodies are not hashed: every signed request says UNSIGNED-PAYLOAD (S3 accepts that for
// header-signed requests; presigned URLs always use it).
"use strict";

const OnggiSign = (() => {
  const enc = new TextEncoder();
  const UNSIGNED = "UNSIGNED-PAYLOAD";

  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
  const bytes = (v) => (typeof v === "string" ? enc.encode(v) : v);

  async function sha256Hex(data) {
    return hex(await crypto.subtle.digest("SHA-256", bytes(data)));
  }

  async function hmac(key, msg) {
    const k = await crypto.subtle.importKey("raw", bytes(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(msg)));
  }

  // RFC 3986 encoding of every byte but the unreserved ones (and '/' when keepSlash), as S3's
  // canonical request wants; the same string goes on the wire, so what is signed is what is sent.
  function uriEncode(s, keepSlash) {
    let out = "";
    for (const b of enc.encode(s)) {
      const c = String.fromCharCode(b);
      if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === "/")) out += c;
      else out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
    }
    return out;
  }

  // "a=1&b=2" from [[name, value], ...], encoded and sorted as the canonical query.
  function canonicalQuery(params) {
    return params
      .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
      .map(([k, v]) => k + "=" + v)
      .join("&");
  }

  function amzDate(now) {
    return now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  }

  async function signingKey(secret, day, region) {
    let k = await hmac("AWS4" + secret, day);
    k = await hmac(k, region);
    k = await hmac(k, "s3");
    return hmac(k, "aws4_request");
  }

  // The signature of a canonical request (lines joined by '\n').
  async function signature(cred, when, canonical) {
    const day = when.slice(0, 8);
    const scope = `${day}/${cred.region}/s3/aws4_request`;
    const sts = ["AWS4-HMAC-SHA256", when, scope, await sha256Hex(canonical)].join("\n");
    return { scope, sig: hex(await hmac(await signingKey(cred.secret, day, cred.region), sts)) };
  }

  // Signs an S3 request for this origin. path: "/bucket/key" unencoded; params: [[name, value]].
  // Returns { url, headers } to send (the browser adds Host itself: location.host, as signed).
  async function s3Request(cred, method, path, params = []) {
    const when = amzDate(new Date());
    const encPath = uriEncode(path, true);
    const query = canonicalQuery(params);
    const hdrs = { host: location.host, "x-amz-content-sha256": UNSIGNED, "x-amz-date": when };
    const names = Object.keys(hdrs).sort();
    const canonical = [method, encPath, query, names.map((n) => `${n}:${hdrs[n]}\n`).join(""), names.join(";"),
      UNSIGNED].join("\n");
    const { scope, sig } = await signature(cred, when, canonical);
    return {
      url: encPath + (query ? "?" + query : ""),
      headers: {
        Authorization: `AWS4-HMAC-SHA256 Credential=${cred.access}/${scope}, SignedHeaders=${names.join(";")}, ` +
          `Signature=${sig}`,
        "x-amz-content-sha256": UNSIGNED,
        "x-amz-date": when,
      },
    };
  }

  // A presigned GET URL (absolute) valid for `seconds`.
  async function s3Presign(cred, path, seconds) {
    const when = amzDate(new Date());
    const encPath = uriEncode(path, true);
    const params = [
      ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
      ["X-Amz-Credential", `${cred.access}/${when.slice(0, 8)}/${cred.region}/s3/aws4_request`],
      ["X-Amz-Date", when],
      ["X-Amz-Expires", String(seconds)],
      ["X-Amz-SignedHeaders", "host"],
    ];
    const query = canonicalQuery(params);
    const canonical = ["GET", encPath, query, `host:${location.host}\n`, "host", UNSIGNED].join("\n");
    const { sig } = await signature(cred, when, canonical);
    return `${location.origin}${encPath}?${query}&X-Amz-Signature=${sig}`;
  }

  // A Swift TempURL for GET of the object at path ("/v1/AUTH_a/c/o", unencoded), HMAC-SHA256
  // with the account's Temp-URL key, valid for `seconds`.
  async function swiftTempUrl(key, path, seconds) {
    const expires = Math.floor(Date.now() / 1000) + seconds;
    const sig = hex(await hmac(key, `GET\n${expires}\n${path}`));
    return `${location.origin}${uriEncode(path, true)}?temp_url_sig=${sig}&temp_url_expires=${expires}`;
  }

  return { s3Request, s3Presign, swiftTempUrl, uriEncode };
})();
