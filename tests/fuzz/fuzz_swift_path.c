/* libFuzzer target: the Swift front door (gateway/swift/swift.c): which requests belong to Swift
 * (swift_wants), the split of /v1/AUTH_<account>/<container>/<object> (split_path, a static
 * function: swift.c is included, as the unit tests do), the stateless tokens a client presents
 * (iam_token_verify) and the container ACLs a client sets (iam_acl_allows).
 *
 * Input: a request in fuzz.h's text form; X-Auth-Token is verified with a fixed token key at a
 * fixed time, X-Container-Read / X-Container-Write are evaluated for the token's identity (or an
 * anonymous caller). Properties checked: a split that succeeds yields an account of at most 63
 * bytes, a container of 1..SWIFT_MAX_CONTAINER_NAME bytes without '/', and an object of
 * 1..OG_KEY_MAX bytes, none holding a NUL; a refusal (SWIFT_EREFUSED) says why in a
 * NUL-terminated body; a token that verifies names a NUL-terminated identity, unexpired, and the
 * same identity minted again verifies to it; no ACL grants an anonymous caller a write.
 *
 * A valid token cannot be found by mutation: run the binary with FUZZ_WRITE_SEEDS=<dir> to write
 * requests carrying tokens minted by the code (the token_* seeds). */
#include "fuzz.h"

#include "../../gateway/swift/swift.c"

static void check_split(swift_req_t *r)
{
    int rc = split_path(r);
    FUZZ_CHECK(rc == 0 || rc == -EACCES || rc == OG_EINVAL || rc == SWIFT_EREFUSED || rc == OG_ENOTFOUND ||
               rc == -ENOMEM);
    if (rc == SWIFT_EREFUSED)
        FUZZ_CHECK(r->refusal.status == 400 && memchr(r->refusal.body, '\0', sizeof(r->refusal.body)) != NULL);
    if (rc != 0)
        return;
    FUZZ_CHECK(r->account[0] != '\0' && strlen(r->account) < sizeof(r->account));
    if (r->has_container) {
        size_t n = strlen(r->container);
        FUZZ_CHECK(n >= 1 && n <= SWIFT_MAX_CONTAINER_NAME && strchr(r->container, '/') == NULL);
    }
    if (r->object != NULL)
        FUZZ_CHECK(r->has_container && r->object_len >= 1 && r->object_len <= OG_KEY_MAX &&
                   strlen(r->object) == r->object_len);
}

#define NOW 1700000000u

static const uint8_t token_key[32] = {0x6f, 0x6e, 0x67, 0x67, 0x69, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                      12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27};

/* The caller X-Auth-Token names (NULL: anonymous, or a token that does not verify). */
static const iam_ident_t *token_caller(const fuzz_req_t *fr, iam_ident_t *id)
{
    og_str_t tok = og_header_find(fr->hdrs, fr->nhdrs, "x-auth-token");
    char again[IAM_TOKEN_MAX];
    iam_ident_t id2;
    if (tok.base == NULL)
        return NULL;
    int rc = iam_token_verify(token_key, tok, NOW, id);
    FUZZ_CHECK(rc == 0 || rc == OG_EINVAL || rc == OG_ENOTFOUND);
    if (rc != 0)
        return NULL;
    FUZZ_CHECK(memchr(id->account, '\0', sizeof(id->account)) && memchr(id->user, '\0', sizeof(id->user)));
    FUZZ_CHECK(id->expires >= NOW);
    long n = iam_token_mint(token_key, id, again, sizeof(again));
    FUZZ_CHECK(n > 0 && iam_token_verify(token_key, (og_str_t){again, (size_t)n}, NOW, &id2) == 0);
    FUZZ_CHECK(strcmp(id->account, id2.account) == 0 && strcmp(id->user, id2.user) == 0 && id->flags == id2.flags &&
               id->expires == id2.expires);
    return id;
}

static void check_acls(const fuzz_req_t *fr, const iam_ident_t *id)
{
    og_str_t rd = og_header_find(fr->hdrs, fr->nhdrs, "x-container-read");
    og_str_t wr = og_header_find(fr->hdrs, fr->nhdrs, "x-container-write");
    og_str_t ref = og_header_find(fr->hdrs, fr->nhdrs, "referer"); /* absent: "unknown" */
    for (int mode = IAM_ACL_READ; mode <= IAM_ACL_WRITE; mode++) {
        if (rd.base != NULL)
            FUZZ_CHECK(iam_acl_allows(rd, id, ref, mode) <= 1);
        if (wr.base != NULL)
            FUZZ_CHECK(iam_acl_allows(wr, id, ref, mode) <= 1);
    }
    if (wr.base != NULL)
        FUZZ_CHECK(!iam_acl_allows(wr, NULL, ref, IAM_ACL_WRITE)); /* referrers never write */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_req_t fr;
    fuzz_req_parse(data, size, &fr);
    http_reqinfo_t info = {.method = fr.method, .target = fr.target, .path = fr.path, .query = fr.query,
                           .headers = fr.hdrs, .num_headers = fr.nhdrs};
    iam_ident_t id;
    check_acls(&fr, token_caller(&fr, &id));
    int wants = swift_wants(&info);
    /* route() splits only what is under /v1 */
    if (wants && path_is(info.path, "/v1")) {
        swift_req_t r = {.info = &info};
        check_split(&r);
        free(r.object);
    }
    return 0;
}

static void write_token_seed(const char *dir, const char *name, const iam_ident_t *id, const char *rest)
{
    char tok[IAM_TOKEN_MAX], path[4096];
    if (iam_token_mint(token_key, id, tok, sizeof(tok)) < 0)
        abort();
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL || fprintf(f, "GET /v1/AUTH_%s/photos/cat.jpg\nX-Auth-Token: %s\n%s", id->account, tok, rest) < 0)
        fprintf(stderr, "fuzz_swift_path: cannot write %s\n", path);
    if (f != NULL)
        fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("FUZZ_WRITE_SEEDS");
    if (dir == NULL)
        return 0;
    iam_ident_t admin = {.account = "test", .user = "tester", .flags = IAM_SWIFT_ADMIN, .expires = NOW + 86400};
    iam_ident_t user = {.account = "test", .user = "reader", .expires = NOW + 60};
    iam_ident_t reseller = {.account = "admin", .user = "root", .flags = IAM_SWIFT_RESELLER, .expires = NOW + 3600};
    write_token_seed(dir, "token_admin", &admin, "X-Container-Read: .r:*,.rlistings\n");
    write_token_seed(dir, "token_user_acl", &user, "X-Container-Read: test:reader,.r:-evil.com\nX-Container-Write: test:*\n");
    write_token_seed(dir, "token_reseller", &reseller, "X-Container-Write: *:root, other\n");
    return 0;
}
