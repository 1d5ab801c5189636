/* libFuzzer target: the Swift front door's request routing (gateway/swift/swift.c): which
 * requests belong to Swift (swift_wants) and the split of /v1/AUTH_<account>/<container>/<object>
 * (split_path, a static function: swift.c is included, as the unit tests do).
 *
 * Input: a request in fuzz.h's text form. Properties checked: a split that succeeds yields an
 * account of at most 63 bytes, a container of 1..SWIFT_MAX_CONTAINER_NAME bytes without '/', and
 * an object of 1..OG_KEY_MAX bytes, none holding a NUL; a refusal (SWIFT_EREFUSED) says why in a
 * NUL-terminated body. */
#include "fuzz.h"

#include "../../gateway/swift/swift.c"

static void check_split(swift_req_t *r)
{
    int rc = split_path(r);
    FUZZ_CHECK(rc == 0 || rc == -EACCES || rc == OG_EINVAL || rc == SWIFT_EREFUSED || rc == -ENOMEM);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_req_t fr;
    fuzz_req_parse(data, size, &fr);
    http_reqinfo_t info = {.method = fr.method, .target = fr.target, .path = fr.path, .query = fr.query,
                           .headers = fr.hdrs, .num_headers = fr.nhdrs};
    int wants = swift_wants(&info);
    /* route() splits only what is under /v1 */
    if (wants && path_is(info.path, "/v1")) {
        swift_req_t r = {.info = &info};
        check_split(&r);
        free(r.object);
    }
    return 0;
}
