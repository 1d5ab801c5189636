/*
 * iam.h: who may do what. Credentials (S3 key pairs, Swift users), Swift's stateless tokens and
 * the cluster's token key, and container ACL evaluation. Both front ends (s3/, swift/) ask here;
 * everything is stored durably in the cluster, so every gateway sees the same users.
 *
 * No secret is stored in plain text (docs/operations.md, "Secrets at rest"): S3 secrets and the
 * token key are sealed with AES-256-GCM under the cluster's `secrets` key (og_keys.h, iam_seal.c),
 * Swift keys are kept as salted PBKDF2-HMAC-SHA256 hashes. Tables:
 *  - "users", key = S3 access key:
 *      summary u8 version(=2) | u16 len + sealed secret | u16 len + account | u16 len + display
 *      name (version 1, written before secrets were sealed, has no version byte and the plain
 *      secret: it is still read, and rewritten sealed when read or by iam_migrate);
 *  - "swift_users", key = "account:user":
 *      summary u8 version(=2) | u8 flags (IAM_SWIFT_ADMIN, IAM_SWIFT_RESELLER) | u64 generation |
 *      u32 PBKDF2 iterations | 16 bytes salt | 32 bytes hash (version 1 held the plain key: read,
 *      and rewritten hashed by iam_swift_user_auth or iam_migrate);
 *  - "cluster", key "swift-token-key": u8 version(=2) | sealed 32 random bytes (iam_token.c;
 *      version 1 held them in plain text and is rewritten the same way).
 * Revocation: S3 keys and Swift users are cached per process for at most IAM_CACHE_TTL_MS, and a
 * token carries its user's generation (new at every swift-user-add), so deleting, re-keying or
 * demoting a user refuses its keys and tokens on every gateway within that time.
 * Accounts themselves (the owners of buckets) are core's (core.h); a user names its account.
 */
#ifndef IAM_H
#define IAM_H

#include "cluster/cluster.h"
#include "core/core.h"
#include "og_buf.h"
#include "og_keys.h"

/* How long a gateway may still act on a user record it read: the bound on revocation (a deleted
 * or re-keyed S3 key, a deleted, demoted or re-keyed Swift user stops working on every gateway
 * at most this long after the admin command returned). */
#define IAM_CACHE_TTL_MS 2000

/* The process's IAM context: the cluster handle, the users cache, the secrets keys and the token
 * key. */
typedef struct st_iam_t iam_t;

/* 0 and *out (release with iam_close), OG_EINVAL when keys holds no `secrets` key (nothing could
 * be read or stored), or -ENOMEM / -errno. The keys are copied (and wiped by iam_close). */
int iam_open(cluster_t *cl, const og_keys_t *keys, iam_t **out);
void iam_close(iam_t *iam);

/* SSE-S3 data keys, sealed with AES-256-GCM under the cluster's `sse` keys (og_keys.h): the
 * first seals, any unseals (found by the key id in the sealed value), so the `sse` key rotates as
 * the others do. aad binds a sealed key to what it encrypts.
 * iam_sse_available: 1 when the key file had an `sse` key (else SSE-S3 cannot be offered).
 * iam_sse_seal: the sealed key's length in out (cap bytes, at least IAM_SSE_SEALED_MAX), or
 * OG_EINVAL (no `sse` key, random source or cipher failure) / OG_ETOOBIG.
 * iam_sse_unseal: 0 with key, or OG_EPROTO (malformed, altered, or sealed with a key this process
 * does not have). */
#define IAM_SSE_SEALED_MAX (1 + OG_KEY_ID_MAX + 12 + OG_KEY_BYTES + 16)
int iam_sse_available(const iam_t *iam);
long iam_sse_seal(const iam_t *iam, og_str_t aad, const uint8_t key[OG_KEY_BYTES], void *out, size_t cap);
int iam_sse_unseal(const iam_t *iam, og_str_t aad, og_str_t sealed, uint8_t key[OG_KEY_BYTES]);

typedef struct {
    char access_key[128];
    char secret[128];
    char account[64];       /* the owner of buckets; one account may have several keys */
    char display_name[128];
} iam_user_t;

/* Creates or replaces a user (quorum write). 0, OG_EINVAL (empty/too long field) or OG_EQUORUM. */
int iam_user_put(iam_t *iam, const iam_user_t *u);
/* Looks a user up by access key. Results are cached per process for IAM_CACHE_TTL_MS, and keys
 * the cluster did not know for 2 s (IAM_NEG_TTL_MS: a key added through this gateway works here at
 * once, one added through another gateway within that time). A record in the old plain-text form
 * is rewritten sealed.
 * 0, OG_ENOTFOUND, OG_EQUORUM, or OG_EPROTO (malformed, or sealed with a key this process does
 * not have). Thread-safe. */
int iam_user_get(iam_t *iam, og_str_t access_key, iam_user_t *out);
/* Calls fn for every user (secrets included: for admin tools only). 0 or an error. */
int iam_user_each(iam_t *iam, int (*fn)(void *ctx, const iam_user_t *u), void *ctx);
/* Removes an S3 key pair (tombstone; other gateways may accept it for IAM_CACHE_TTL_MS).
 * 0, OG_EQUORUM. */
int iam_user_delete(iam_t *iam, const char *access_key);

/* ---- Swift users ---- */

#define IAM_SWIFT_ADMIN 0x01    /* .admin: full control of its own account */
#define IAM_SWIFT_RESELLER 0x02 /* .reseller_admin: every account, and account quotas */

typedef struct {
    char account[64];
    char user[128];
    char key[128]; /* in: the key to store; out (iam_swift_user_each): "" (only a hash is kept) */
    uint8_t flags; /* IAM_SWIFT_* */
} iam_swift_user_t;

/* The identity behind a Swift token (and, before minting one, behind a checked key). */
typedef struct {
    char account[64];
    char user[128];
    uint8_t flags;    /* IAM_SWIFT_ADMIN, IAM_SWIFT_RESELLER */
    uint64_t gen;     /* the user record's generation when the token was minted */
    uint64_t expires; /* Unix seconds */
} iam_ident_t;

/* Creates or replaces a Swift user "account:user" (quorum write) with a new generation, so
 * tokens minted before stop working (iam_token_check). The account name must not contain ':' or
 * '/'. 0, OG_EINVAL (empty, too long or badly formed field) or OG_EQUORUM. */
int iam_swift_user_put(iam_t *iam, const iam_swift_user_t *u);
/* Checks key against user "account:user" (a fresh quorum read, unless the name was found unknown
 * in the last 2 s, as for iam_user_get; one PBKDF2 hash). 0 with id's
 * account, user, flags and gen filled (expires 0), -EACCES for a wrong key, OG_ENOTFOUND (no such
 * user), OG_EQUORUM or OG_EPROTO. A record in the old plain-text form is rewritten hashed. */
int iam_swift_user_auth(iam_t *iam, const char *account, const char *user, og_str_t key, iam_ident_t *id);
/* Removes a Swift user; its tokens stop working within IAM_CACHE_TTL_MS. 0 or OG_EQUORUM. */
int iam_swift_user_delete(iam_t *iam, const char *account, const char *user);
/* Calls fn for every Swift user (key ""). 0 or an error. */
int iam_swift_user_each(iam_t *iam, int (*fn)(void *ctx, const iam_swift_user_t *u), void *ctx);

/* ---- tokens and ACLs (iam_token.c, iam_acl.c; the pure functions are unit-tested) ---- */

#define IAM_TOKEN_MAX 512

/* Mints "AUTH_tk<hex payload><hex mac>" for id into out (IAM_TOKEN_MAX bytes). Returns its
 * length or OG_EINVAL (fields too long). */
long iam_token_mint(const uint8_t key[32], const iam_ident_t *id, char *out, size_t cap);
/* Verifies a token minted with key and not expired at now_s: 0 with *id, OG_EINVAL (malformed or
 * forged) or OG_ENOTFOUND (expired). Constant-time MAC comparison. */
int iam_token_verify(const uint8_t key[32], og_str_t token, uint64_t now_s, iam_ident_t *id);
/* A request's token: verified with the cluster's token key, then checked against its user's
 * record (cached for at most IAM_CACHE_TTL_MS): the user must still exist with the generation the
 * token carries. 0 with *id, OG_EINVAL (malformed or forged), OG_ENOTFOUND (expired or revoked),
 * or an error reading the key or the user (OG_EQUORUM ...). */
int iam_token_check(iam_t *iam, og_str_t token, uint64_t now_s, iam_ident_t *id);

enum { IAM_ACL_READ = 0, IAM_ACL_LISTING = 1, IAM_ACL_WRITE = 2 };
/* Does an ACL (X-Container-Read / -Write value: comma-separated ".r:*", ".r:host", ".r:.domain",
 * ".r:-host", ".r:-.domain" (also spelt ".ref:", ".referer:", ".referrer:"), ".rlistings",
 * "account", "account:user", "*:user", "account:*") grant access of kind `mode` (IAM_ACL_*) to
 * identity id (NULL for an anonymous request) coming with HTTP Referer `referer` (empty when
 * absent)? Referrer entries apply in order, the last match deciding (Swift's referrer_allowed);
 * an allowed referrer reads objects, lists only together with ".rlistings", and never writes.
 * 1 or 0. */
int iam_acl_allows(og_str_t acl, const iam_ident_t *id, og_str_t referer, int mode);
/* cluster_public_fn (ctx: the cluster_t): may a shared cache hold bucket's objects, i.e. may anyone
 * read them without a Referer: its X-Container-Read grants `.r:*`, its S3 ACL grants AllUsers READ,
 * its policy is public, or an object in it was once given a public ACL (IAM_PUBLIC_OBJECTS_HEADER:
 * the purge thread cannot see an overwritten version's ACL, so a bucket that ever held a public
 * object counts as public for good); PublicAccessBlock applied. 1 with the bucket owner's account
 * in account, else 0 (also when the bucket cannot be read). */
int iam_bucket_public(void *cl, const char *bucket, char *account, size_t cap);
/* Bucket metadata entry ("1") set the first time an object of the bucket is given a public S3 ACL
 * (s3_acl_note_public_object); never cleared. */
#define IAM_PUBLIC_OBJECTS_HEADER "x-onggi-public-objects"
/* Is acl a valid X-Container-Read (write 0) or X-Container-Write (write 1) value (Swift's
 * clean_acl rules)? 0, or OG_EINVAL with *why set to Swift's reason (static text). */
int iam_acl_check(og_str_t acl, int write, const char **why);

/* ---- Swift account ACLs (iam_acct_acl.c; pure functions, unit-tested) ----
 * X-Account-Access-Control, as TempAuth with account ACLs on: a JSON object of "admin",
 * "read-write" and "read-only" lists naming accounts or "account:user". Kept in canonical form
 * in the account's metadata under IAM_ACCT_ACL_HEADER. */
#define IAM_ACCT_ACL_HEADER "x-onggi-account-acl"
#define IAM_ACCT_OWNER 2 /* iam_account_allows: full control, as the account's own admin */
/* Checks an X-Account-Access-Control value (TempAuth's rules) and appends its canonical form to
 * canon (nothing for "" or an empty object: no ACL). 0, OG_EINVAL with why (cap bytes) set to
 * TempAuth's reason ("Key \"x\" not recognized" ...), or -ENOMEM. */
int iam_account_acl_parse(og_str_t value, og_buf_t *canon, char *why, size_t cap);
/* THE Swift account authorization for a caller who is not the account's admin: does the
 * account's stored ACL acl let id (NULL: anonymous, never) in? An "admin" grantee gets
 * IAM_ACCT_OWNER (everything, the account's POST and its ACL included); "read-write" 1 for
 * anything inside containers (in_container) and for reads (read: GET/HEAD) of the account;
 * "read-only" 1 for reads only. 0 otherwise: container ACLs may still grant. */
int iam_account_allows(og_str_t acl, const iam_ident_t *id, int in_container, int read);

/* ---- S3 ACLs (iam_s3acl.c; pure functions, unit-tested) ----
 * An S3 ACL is kept in a compact text form (iam_s3acl.c) in the bucket record's metadata and the
 * object record's stored headers under IAM_S3ACL_HEADER. Onggi's canonical user id is the
 * account name: the owner of buckets and objects, and what a grant by id names. */
#define IAM_S3ACL_HEADER "x-onggi-s3-acl"
enum { IAM_S3_READ = 1, IAM_S3_WRITE = 2, IAM_S3_READ_ACP = 4, IAM_S3_WRITE_ACP = 8, IAM_S3_FULL = 15 };
/* An email grantee: Onggi knows no addresses (S3's UnresolvableGrantByEmailAddress). */
enum { IAM_EUNRESOLVABLE = -10450 };

typedef struct {
    unsigned perm;         /* IAM_S3_* (IAM_S3_FULL for FULL_CONTROL) */
    const char *perm_name; /* "READ", "FULL_CONTROL" ... */
    int group;             /* 1: id is a group ("all", "auth", "log") whose URI is uri */
    og_str_t id;           /* the account (canonical id), or the group's short name */
    const char *uri;
} iam_s3grant_t;

/* The next grant of a compact ACL, advancing *acl (slices point into it). 1, or 0 at the end. */
int iam_s3acl_next(og_str_t *acl, iam_s3grant_t *g);
/* THE S3 authorization answer for ACLs: may `account` (NULL: anonymous) do what perm (IAM_S3_*
 * bits, all required) needs on a resource owned by `owner` whose ACL is acl (empty: private)?
 * The owner may do everything; others need grants to them, to AllUsers, or (signed requests) to
 * AuthenticatedUsers. 1 or 0. */
int iam_s3acl_allows(og_str_t acl, const char *owner, const char *account, unsigned perm);
/* Does acl grant perm to everyone (AllUsers)? 1 or 0. Swift reads such a bucket as ".r:*". */
int iam_s3acl_public(og_str_t acl, unsigned perm);
/* Appends the canned ACL `name` (private, public-read, public-read-write, authenticated-read,
 * bucket-owner-read, bucket-owner-full-control) of a resource owned by owner in a bucket owned by
 * bucket_owner (NULL for a bucket) to out. 0, OG_EINVAL (not a canned ACL we know) or -ENOMEM. */
int iam_s3acl_canned(og_str_t name, const char *owner, const char *bucket_owner, og_buf_t *out);
/* Appends one grant of perm (one IAM_S3_* value) to the grantee given as type ("id", "uri",
 * "emailAddress", case-insensitive) and value. 0, IAM_EUNRESOLVABLE (email), OG_EINVAL (unknown
 * group URI or type, bad id) or -ENOMEM. */
int iam_s3acl_grant(og_buf_t *out, unsigned perm, const char *type, og_str_t value);
/* Appends the grants of an x-amz-grant-* header value (`id="a", uri="http://..."`) of perm.
 * Same returns as iam_s3acl_grant; OG_EINVAL also for a malformed or empty list. */
int iam_s3acl_grant_header(og_buf_t *out, unsigned perm, og_str_t header);

/* A request's caller as a policy sees it. */
typedef struct {
    const char *account; /* canonical id, NULL when anonymous */
    const char *remote;  /* "ip:port" of the client, as http_reqinfo_t.remote */
    int tls;             /* came over TLS */
    og_str_t referer;    /* the Referer header, base NULL when absent */
} iam_caller_t;

/* THE authorization answer for a bucket (= container) both APIs ask for non-owners: may id (NULL:
 * anonymous) access b's objects or listing in `mode` (IAM_ACL_*) coming with HTTP Referer
 * referer? Swift's X-Container-Read / -Write (iam_acl_allows), then the bucket's S3 ACL: a READ
 * grant reads objects and lists (AllUsers READ, S3's public-read bucket, is Swift's
 * ".r:*,.rlistings"), a WRITE grant writes; grants by canonical id name the caller's account;
 * the bucket's PublicAccessBlock and ObjectOwnership apply (iam_s3ctl_acl_allows). The owner is the caller's business (Swift's is_owner, S3's account check). 1 or 0. */
int iam_bucket_allows(const core_bucket_t *b, const iam_ident_t *id, og_str_t referer, int mode);

/* An anonymous read of object `key` of bucket b (named `bucket`; obj_hdrs: the object record's stored
 * headers, NULL when it was not read) as S3 judges it beyond the container's Swift ACL: the bucket
 * policy's verdict on s3:GetObject (under b's PublicAccessBlock), then the object's S3 ACL
 * (public-read, under IgnorePublicAcls). -1: a policy Deny (it wins over every grant); 1: admitted,
 * *shareable set when the admission holds for every anonymous client (the ACL, with no policy whose
 * conditions could tell clients apart); 0: no opinion. */
int iam_s3_anon_read(const core_bucket_t *b, const char *bucket, og_str_t key, const og_header_t *obj_hdrs, size_t n,
                     const iam_caller_t *who, int *shareable);

/* ---- S3 bucket policies (iam_policy.c; pure functions, unit-tested) ----
 * A bucket's policy document is kept in its record's metadata under IAM_S3POLICY_HEADER. */
#define IAM_S3POLICY_HEADER "x-onggi-s3-policy"
#define IAM_POLICY_MAX 20480 /* bytes, as AWS */
enum { IAM_POLICY_NONE = 0, IAM_POLICY_ALLOW = 1, IAM_POLICY_DENY = 2 };

/* One request, as a policy sees it. */
typedef struct {
    const char *account;    /* the caller's account (canonical id), NULL when anonymous */
    const char *action;     /* "s3:GetObject" ... */
    const char *resource;   /* "arn:aws:s3:::bucket" or "arn:aws:s3:::bucket/key" */
    const char *source_ip;  /* aws:SourceIp: the client's address without port */
    int secure;             /* aws:SecureTransport: came over TLS */
    const char *referer;    /* aws:Referer, NULL when absent */
    const char *prefix;     /* s3:prefix (ListObjects), NULL when not a listing or absent */
} iam_policy_ctx_t;

/* Does s match pattern p ('*' any run of characters, '?' one), case-insensitively with icase? The
 * one wildcard rule of policies (actions: icase, ARNs and condition values: exact) and S3 CORS
 * (origins exact, header names icase). 1 or 0. */
int iam_wild(const char *p, const char *s, int icase);
/* Is doc a policy of the supported subset (docs/s3-compat.md) whose resources are all in bucket?
 * 0, or OG_EINVAL with why (cap bytes) naming the problem (S3's MalformedPolicy message). */
int iam_policy_check(og_str_t doc, const char *bucket, char *why, size_t cap);
/* THE policy answer for request c under a stored (checked) policy: IAM_POLICY_DENY when a Deny
 * statement applies (it wins), else IAM_POLICY_ALLOW when an Allow applies, else IAM_POLICY_NONE
 * (ACLs decide). A document that no longer parses denies. */
int iam_policy_eval(og_str_t doc, const iam_policy_ctx_t *c);
/* Does doc allow everyone something without a condition (GetBucketPolicyStatus IsPublic)? 1/0. */
int iam_policy_public(og_str_t doc);

/* iam_policy_eval of stored policy doc (empty: IAM_POLICY_NONE) for `who` doing `action` on bucket
 * (key.base NULL) or its object `key`; prefix.base set gives a listing's s3:prefix. Builds the
 * context both APIs need (the resource ARN, aws:SourceIp without the port). IAM_POLICY_DENY when out
 * of memory (fail closed). */
int iam_policy_request(og_str_t doc, const iam_caller_t *who, const char *action, const char *bucket, og_str_t key,
                       og_str_t prefix);

/* ---- S3 Block Public Access and Object Ownership (iam_pab.c; pure functions, unit-tested) ----
 * A bucket's controls, kept in its record's metadata: IAM_S3PAB_HEADER holds the four
 * PublicAccessBlock flags as "0"/"1" in AWS's order (BlockPublicAcls, IgnorePublicAcls,
 * BlockPublicPolicy, RestrictPublicBuckets), IAM_S3OWNERSHIP_HEADER the ObjectOwnership name.
 * Absent: no PublicAccessBlock (nothing blocked) and ObjectWriter. Every authorization of both APIs
 * goes through iam_s3ctl_acl_allows / iam_s3ctl_policy_verdict, every ACL and policy a request
 * asks to store through iam_s3ctl_acl_admit / iam_s3ctl_policy_admit: the decisions live here. */
#define IAM_S3PAB_HEADER "x-onggi-s3-pab"
#define IAM_S3OWNERSHIP_HEADER "x-onggi-s3-ownership"
#define IAM_PAB_FLAGS 4
enum { IAM_PAB_BLOCK_ACLS = 1, IAM_PAB_IGNORE_ACLS = 2, IAM_PAB_BLOCK_POLICY = 4, IAM_PAB_RESTRICT = 8 };
enum { IAM_OWN_WRITER = 0, IAM_OWN_PREFERRED = 1, IAM_OWN_ENFORCED = 2 };
enum {
    IAM_EPUBLICACL = -10510,    /* BlockPublicAcls refuses a public ACL (403 AccessDenied) */
    IAM_EACLDISABLED = -10511,  /* BucketOwnerEnforced: ACLs are disabled (AccessControlListNotSupported) */
    IAM_EPUBLICPOLICY = -10512, /* BlockPublicPolicy refuses a public policy (403 AccessDenied) */
};

/* The PublicAccessBlock element names, in the order of the flags (IAM_PAB_BLOCK_ACLS first). */
extern const char *const iam_pab_names[IAM_PAB_FLAGS];

/* A bucket's controls. */
typedef struct {
    unsigned pab;  /* IAM_PAB_* */
    int ownership; /* IAM_OWN_* */
} iam_s3ctl_t;

/* b's controls from its metadata (a value that does not decode counts as absent). */
iam_s3ctl_t iam_s3ctl_of(const og_header_t *meta, size_t n);
/* The stored form of PublicAccessBlock flags pab into out (IAM_PAB_FLAGS + 1 bytes). */
void iam_pab_format(unsigned pab, char out[IAM_PAB_FLAGS + 1]);
/* The IAM_OWN_* an ObjectOwnership name stands for, or OG_EINVAL; and back. */
int iam_ownership_parse(og_str_t name);
const char *iam_ownership_name(int mode);
/* May acl (compact form, empty: none asked) be stored on a bucket owned by bucket_owner with
 * controls c, or on an object in it? BucketOwnerEnforced admits only ACLs granting nothing but
 * FULL_CONTROL to the bucket owner (private, bucket-owner-full-control, or their XML form: AWS's
 * rule); BlockPublicAcls refuses public ones. 0, IAM_EACLDISABLED or IAM_EPUBLICACL. */
int iam_s3ctl_acl_admit(iam_s3ctl_t c, og_str_t acl, const char *bucket_owner);
/* May policy doc be stored under c? 0, or IAM_EPUBLICPOLICY (BlockPublicPolicy, public doc). */
int iam_s3ctl_policy_admit(iam_s3ctl_t c, og_str_t doc);
/* iam_s3acl_allows under c: ACLs count for nothing under BucketOwnerEnforced (the bucket's
 * account decides alone, the caller's business), and grants to AllUsers and AuthenticatedUsers
 * for nothing under IgnorePublicAcls. 1 or 0. */
int iam_s3ctl_acl_allows(iam_s3ctl_t c, og_str_t acl, const char *owner, const char *account, unsigned perm);
/* The policy verdict (IAM_POLICY_*, of iam_policy_eval on doc) under c: with
 * RestrictPublicBuckets and a public doc, an Allow admits only the bucket owner's account. */
int iam_s3ctl_policy_verdict(iam_s3ctl_t c, og_str_t doc, int verdict, const char *bucket_owner, const char *account);
/* GetBucketPolicyStatus's IsPublic: doc is public and RestrictPublicBuckets does not restrict it. */
int iam_s3ctl_policy_public(iam_s3ctl_t c, og_str_t doc);
/* Is an object written with canned ACL `canned` (base NULL: none) owned by the bucket's owner
 * rather than its writer (BucketOwnerEnforced; BucketOwnerPreferred with bucket-owner-full-control)? */
int iam_s3ctl_bucket_owns(iam_s3ctl_t c, og_str_t canned);

/* The cluster's token key, created on first use (racing gateways converge on one within
 * SECRET_SETTLE_NS, iam_token.c). 0 or an error. */
int iam_token_key(iam_t *iam, uint8_t out[32]);

/* ---- migration (iam_migrate.c) ---- */

typedef struct {
    uint64_t s3_rewritten, s3_current;       /* users: resealed (plain or an older key) / as is */
    uint64_t swift_rewritten, swift_current; /* swift_users: hashed / as is */
    uint64_t failed;                         /* records that did not decode or write */
    int token_key_rewritten;                 /* the token key record was plain or an older key */
} iam_migrate_stats_t;

/* Rewrites every stored secret into the current form: plain-text S3 secrets and token key sealed
 * under the current `secrets` key (also those sealed under an older key: rotation), plain Swift
 * keys hashed. Idempotent. 0 (see st->failed) or the error of a table walk. */
int iam_migrate(iam_t *iam, iam_migrate_stats_t *st);

#endif
