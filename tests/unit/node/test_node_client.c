/* Client + server tests: an in-process node server on 127.0.0.1 (port 0), driven through
 * node_call_many (storage-node/node_client.c, node_server.c). */
#include "node_auth.h"
#include "node_client.h"
#include "node_int.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xxhash.h>

static char g_dir[64];
static node_store_t *g_store;
static node_server_t *g_srv;
static char g_addr[32];
static node_client_t *g_cl;
static og_keys_t g_keys; /* one fixed `node` key: the server verifies, the clients sign */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) { return remove(path); }

static void server_start(uint16_t port)
{
    node_dev_t dev = {.name = "d1", .store = g_store};
    char listen[32];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
    cr_assert_eq(node_server_start(listen, &g_keys, &dev, 1, NULL, 16, &g_srv), 0);
    snprintf(g_addr, sizeof(g_addr), "127.0.0.1:%u", node_server_port(g_srv));
}

static void setup(void)
{
    char path[96];
    strcpy(g_dir, "/tmp/og_client_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
    snprintf(path, sizeof(path), "%s/d1", g_dir);
    cr_assert_eq(node_store_open(path, 10, &g_store), 0);
    g_keys = (og_keys_t){.num_node = 1};
    strcpy(g_keys.node[0].id, "t1");
    memset(g_keys.node[0].key, 0x5a, OG_KEY_BYTES);
    server_start(0);
    g_cl = node_client_new(&g_keys, 3000, 4);
    cr_assert_not_null(g_cl);
}

static void teardown(void)
{
    node_client_free(g_cl);
    node_server_stop(g_srv);
    node_store_close(g_store);
    nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(node_client, .init = setup, .fini = teardown);

static void chunk_path(char *out, size_t cap, unsigned n)
{
    uint8_t id[NODE_ID_LEN] = {0};
    char hex[2 * NODE_ID_LEN + 1];
    id[0] = (uint8_t)n;
    id[31] = 0x5a;
    og_hex(id, NODE_ID_LEN, hex);
    snprintf(out, cap, "/d1/chunk/%s", hex);
}

/* A PUT chunk call; hdr and xhex must outlive the call. */
static node_call_t put_call(const char *path, const void *data, size_t len, og_header_t *hdr, char *xhex)
{
    snprintf(xhex, 17, "%016" PRIx64, XXH3_64bits(data, len));
    *hdr = (og_header_t){OG_STR_LIT("X-Onggi-Xxh3"), {xhex, 16}};
    return (node_call_t){.addr = g_addr, .method = "PUT", .path = path, .headers = hdr, .num_headers = 1,
                         .body = data, .body_len = len};
}

static node_call_t simple_call(const char *method, const char *path)
{
    return (node_call_t){.addr = g_addr, .method = method, .path = path};
}

/* Fills data (len bytes) with a pattern and stores it as a new chunk named after n: path (128
 * bytes) and xhex (17) get its path and xxh3. */
static void store_chunk(unsigned n, char *data, size_t len, char *path, char *xhex)
{
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 7 + (i >> 9));
    chunk_path(path, 128, n);
    og_header_t hdr;
    node_call_t p = put_call(path, data, len, &hdr, xhex);
    cr_assert_eq(node_call(g_cl, &p), 0);
    cr_assert_eq(p.status, 201);
    free(p.resp_body);
}

Test(node_client, health_and_chunks)
{
    node_call_t h = simple_call("GET", "/health");
    cr_assert_eq(node_call(g_cl, &h), 0);
    cr_assert_eq(h.status, 200);
    cr_assert_eq(h.resp_len, 2);
    cr_assert_eq(memcmp(h.resp_body, "ok", 2), 0);
    free(h.resp_body);

    static char data[300000];
    char path[128], xhex[17];
    store_chunk(1, data, sizeof(data), path, xhex);
    og_header_t hdr;
    node_call_t p = put_call(path, data, sizeof(data), &hdr, xhex);
    cr_assert_eq(node_call(g_cl, &p), 0);
    cr_assert_eq(p.status, 200); /* already present */
    free(p.resp_body);

    /* Wrong digest: 422 and nothing stored. */
    char path2[128], bad[17] = "0000000000000000";
    chunk_path(path2, sizeof(path2), 2);
    og_header_t badh = {OG_STR_LIT("X-Onggi-Xxh3"), {bad, 16}};
    node_call_t b = {.addr = g_addr, .method = "PUT", .path = path2, .headers = &badh, .num_headers = 1,
                     .body = data, .body_len = 1000};
    cr_assert_eq(node_call(g_cl, &b), 0);
    cr_assert_eq(b.status, 422);
    free(b.resp_body);

    /* GET into the caller's buffer. */
    static char back[400000];
    node_call_t g = simple_call("GET", path);
    g.resp_buf = back;
    g.resp_cap = sizeof(back);
    cr_assert_eq(node_call(g_cl, &g), 0);
    cr_assert_eq(g.status, 200);
    cr_assert_eq(g.resp_body, back);
    cr_assert_eq(g.resp_len, sizeof(data));
    cr_assert_eq(memcmp(back, data, sizeof(data)), 0);
    cr_assert_str_eq(g.xxh3, xhex);

    /* Too small a buffer fails cleanly. */
    node_call_t small = simple_call("GET", path);
    small.resp_buf = back;
    small.resp_cap = 100;
    cr_assert_eq(node_call(g_cl, &small), OG_ETOOBIG);
    cr_assert_null(small.resp_body);

    /* Range read. */
    og_header_t rh = {OG_STR_LIT("Range"), OG_STR_LIT("bytes=1000-1999")};
    node_call_t r = simple_call("GET", path);
    r.headers = &rh;
    r.num_headers = 1;
    cr_assert_eq(node_call(g_cl, &r), 0);
    cr_assert_eq(r.status, 206);
    cr_assert_eq(r.resp_len, 1000);
    cr_assert_eq(memcmp(r.resp_body, data + 1000, 1000), 0);
    cr_assert_str_eq(r.xxh3, xhex);
    free(r.resp_body);

    /* HEAD: size and xxh3, no body; then a GET on the same pooled connection still works. */
    node_call_t hd = simple_call("HEAD", path);
    cr_assert_eq(node_call(g_cl, &hd), 0);
    cr_assert_eq(hd.status, 200);
    cr_assert_null(hd.resp_body);
    cr_assert_eq(hd.resp_len, sizeof(data));
    cr_assert_str_eq(hd.xxh3, xhex);
    node_call_t miss = simple_call("HEAD", path2);
    cr_assert_eq(node_call(g_cl, &miss), 0);
    cr_assert_eq(miss.status, 404);
    node_call_t gm = simple_call("GET", path2);
    cr_assert_eq(node_call(g_cl, &gm), 0);
    cr_assert_eq(gm.status, 404);
    free(gm.resp_body);

    node_call_t st = simple_call("GET", "/d1/stat");
    cr_assert_eq(node_call(g_cl, &st), 0);
    cr_assert_eq(st.status, 200);
    char want[128];
    snprintf(want, sizeof(want), "{\"chunks\":1,\"chunk_bytes\":%zu,\"records\":0,\"volume_bytes\":%zu,",
             sizeof(data), sizeof(data) + 48);
    /* then allocated_bytes (file-system dependent) and dead_bytes */
    cr_assert_gt(st.resp_len, strlen(want));
    cr_assert_eq(memcmp(st.resp_body, want, strlen(want)), 0);
    cr_assert_eq(memcmp(st.resp_body + strlen(want), "\"allocated_bytes\":", 18), 0);
    free(st.resp_body);

    node_call_t nodev = simple_call("GET", "/d9/stat");
    cr_assert_eq(node_call(g_cl, &nodev), 0);
    cr_assert_eq(nodev.status, 404);
    free(nodev.resp_body);

    node_call_t del = simple_call("DELETE", path);
    cr_assert_eq(node_call(g_cl, &del), 0);
    cr_assert_eq(del.status, 204);
    cr_assert_eq(node_call(g_cl, &del), 0);
    cr_assert_eq(del.status, 404);
    free(del.resp_body);
}

/* Without the cluster key nothing is served, and a client believes only answers signed with its
 * key: a server with another key answers (401, unsigned) but the call fails. */
Test(node_client, keys_decide_who_is_served)
{
    og_keys_t other = g_keys;
    memset(other.node[0].key, 0x33, OG_KEY_BYTES);
    node_client_t *unsigned_cl = node_client_new(NULL, 3000, 1), *wrong = node_client_new(&other, 3000, 1);
    cr_assert(unsigned_cl && wrong);
    char path[128];
    chunk_path(path, sizeof(path), 77);
    node_call_t h = simple_call("HEAD", path);
    cr_assert_eq(node_call(unsigned_cl, &h), 0);
    cr_assert_eq(h.status, 401);
    h = simple_call("GET", "/health");
    cr_assert_eq(node_call(wrong, &h), NODE_EAUTH);
    cr_assert_eq(h.status, 0);
    cr_assert_null(h.resp_body);
    node_client_free(unsigned_cl);
    node_client_free(wrong);
}

Test(node_client, parallel_calls_and_chunk_list)
{
    enum { N = 3, M = 20 };
    static char data[M][5000];
    char paths[M][128], xh[M][17];
    og_header_t hdrs[M];
    node_call_t calls[M];
    for (int i = 0; i < M; i++) {
        memset(data[i], 'a' + i, sizeof(data[i]));
        chunk_path(paths[i], sizeof(paths[i]), (unsigned)i + 10);
        calls[i] = put_call(paths[i], data[i], sizeof(data[i]), &hdrs[i], xh[i]);
    }
    /* Three in parallel (one write's replicas), then more than the inline state count. */
    cr_assert_eq(node_call_many(g_cl, calls, N), 0);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(calls[i].rc, 0);
        cr_assert_eq(calls[i].status, 201);
        free(calls[i].resp_body);
    }
    cr_assert_eq(node_call_many(g_cl, calls, M), 0);
    for (int i = 0; i < M; i++) {
        cr_assert_eq(calls[i].rc, 0);
        cr_assert_eq(calls[i].status, i < N ? 200 : 201);
        free(calls[i].resp_body);
    }
    for (int i = 0; i < M; i++)
        calls[i] = simple_call("GET", paths[i]);
    cr_assert_eq(node_call_many(g_cl, calls, M), 0);
    for (int i = 0; i < M; i++) {
        cr_assert_eq(calls[i].rc, 0);
        cr_assert_eq(calls[i].status, 200);
        cr_assert_eq(calls[i].resp_len, 5000);
        cr_assert_eq(memcmp(calls[i].resp_body, data[i], 5000), 0);
        free(calls[i].resp_body);
    }

    node_call_t l = simple_call("GET", "/d1/chunks?limit=5");
    cr_assert_eq(node_call(g_cl, &l), 0);
    cr_assert_eq(l.status, 200);
    cr_assert_eq(l.truncated, 1);
    cr_assert_eq(l.resp_len, 5 * (64 + 1 + 4 + 1));
    free(l.resp_body);
    node_call_t all = simple_call("GET", "/d1/chunks");
    cr_assert_eq(node_call(g_cl, &all), 0);
    cr_assert_eq(all.truncated, 0);
    cr_assert_eq(all.resp_len, M * (64 + 1 + 4 + 1));
    free(all.resp_body);
}

static void rec_call(node_call_t *c, char *path, const char *key, uint64_t ts, const char *summary, char *buf)
{
    og_rec_t r = {0, ts, 1, og_str(summary), OG_STR_LIT("detail"), 0};
    long n = og_rec_encode(&r, buf, 256);
    cr_assert_gt(n, 0);
    sprintf(path, "/d1/rec/o.bkt/%s", key);
    *c = (node_call_t){.addr = g_addr, .method = "PUT", .path = path, .body = buf, .body_len = (size_t)n};
}

Test(node_client, records_and_list)
{
    const char *keys[] = {"photos%2F1.jpg", "photos%2F2.jpg", "a%20b", "photos%2F3.jpg"};
    char paths[4][128], bufs[4][256];
    node_call_t calls[4];
    for (int i = 0; i < 4; i++)
        rec_call(&calls[i], paths[i], keys[i], 100, "sum", bufs[i]);
    cr_assert_eq(node_call_many(g_cl, calls, 4), 0);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(calls[i].status, 201);
        free(calls[i].resp_body);
    }
    /* Older write ignored (200), newer applied (201). */
    node_call_t old, newer;
    char p1[128], p2[128], b1[256], b2[256];
    rec_call(&old, p1, keys[0], 50, "old", b1);
    rec_call(&newer, p2, keys[0], 200, "new", b2);
    cr_assert_eq(node_call(g_cl, &old), 0);
    cr_assert_eq(old.status, 200);
    free(old.resp_body);
    cr_assert_eq(node_call(g_cl, &newer), 0);
    cr_assert_eq(newer.status, 201);
    free(newer.resp_body);

    node_call_t g = simple_call("GET", "/d1/rec/o.bkt/photos%2F1.jpg");
    cr_assert_eq(node_call(g_cl, &g), 0);
    cr_assert_eq(g.status, 200);
    og_rec_t r;
    cr_assert_eq(og_rec_decode(g.resp_body, g.resp_len, &r), 0);
    cr_assert_eq(r.ts, 200);
    cr_assert(og_str_eq(r.summary, "new"));
    free(g.resp_body);
    node_call_t gm = simple_call("GET", "/d1/rec/o.bkt/nope");
    cr_assert_eq(node_call(g_cl, &gm), 0);
    cr_assert_eq(gm.status, 404);
    free(gm.resp_body);

    node_call_t bad = {.addr = g_addr, .method = "PUT", .path = "/d1/rec/o.bkt/x", .body = "junk", .body_len = 4};
    cr_assert_eq(node_call(g_cl, &bad), 0);
    cr_assert_eq(bad.status, 400);
    free(bad.resp_body);

    node_call_t l = simple_call("GET", "/d1/list/o.bkt?prefix=photos%2F&limit=2");
    cr_assert_eq(node_call(g_cl, &l), 0);
    cr_assert_eq(l.status, 200);
    cr_assert_eq(l.truncated, 1);
    const unsigned char *p = (const unsigned char *)l.resp_body;
    cr_assert_eq(p[3], 12);
    cr_assert_eq(memcmp(p + 4, "photos/1.jpg", 12), 0);
    cr_assert_eq(og_rec_decode(p + 16, OG_REC_HDR_LEN + 4 + 3, &r), 0); /* "new", empty detail */
    cr_assert(og_str_eq(r.summary, "new"));
    cr_assert_eq(r.detail.len, 0);
    cr_assert_eq(l.resp_len, 2 * (4 + 12 + OG_REC_HDR_LEN + 4 + 3));
    free(l.resp_body);
    node_call_t l2 = simple_call("GET", "/d1/list/o.bkt?prefix=photos%2F&after=photos%2F2.jpg");
    cr_assert_eq(node_call(g_cl, &l2), 0);
    cr_assert_eq(l2.truncated, 0);
    cr_assert_eq(l2.resp_len, 4 + 12 + OG_REC_HDR_LEN + 4 + 3);
    free(l2.resp_body);
}

Test(node_client, closed_port_fails_fast)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd); /* nobody listens there now */
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));

    node_call_t calls[2] = {simple_call("GET", "/health"), {.addr = addr, .method = "GET", .path = "/health"}};
    uint64_t t0 = og_mono_ms();
    cr_assert_eq(node_call_many(g_cl, calls, 2), 0);
    cr_assert_lt(og_mono_ms() - t0, 1000);
    cr_assert_eq(calls[0].rc, 0);
    cr_assert_eq(calls[0].status, 200);
    free(calls[0].resp_body);
    cr_assert_eq(calls[1].rc, NODE_EDOWN);
    cr_assert_eq(calls[1].status, 0);
    cr_assert_null(calls[1].resp_body);

    node_call_t badaddr = {.addr = "nonsense", .method = "GET", .path = "/health"};
    cr_assert_eq(node_call(g_cl, &badaddr), OG_EINVAL);
}

Test(node_client, hung_node_times_out)
{
    /* A listener that never answers: connect succeeds (backlog), the call must time out. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(fd, 4), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
    node_client_t *quick = node_client_new(&g_keys, 300, 2);
    node_call_t c = {.addr = addr, .method = "GET", .path = "/health"};
    uint64_t t0 = og_mono_ms();
    cr_assert_eq(node_call(quick, &c), OG_ETIMEOUT);
    uint64_t took = og_mono_ms() - t0;
    cr_assert_geq(took, 290);
    cr_assert_lt(took, 2000);
    node_client_free(quick);
    close(fd);
}

/* node_call_until's predicate for the test below: at least one call answered 200. */
static int one_answered(void *ctx, const node_call_t *calls, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        if (calls[i].rc == 0 && calls[i].status == 200)
            return 1;
    return 0;
}

Test(node_client, quorum_return_abandons_the_hung_call)
{
    /* One live node and one that never answers: with enough after one answer, the hung call gets
     * its grace and is abandoned long before the timeout (3 s here). */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(fd, 4), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
    node_call_t calls[2] = {simple_call("GET", "/health"), {.addr = addr, .method = "GET", .path = "/health"}};
    calls[0].grace_ms = calls[1].grace_ms = 20;
    uint64_t t0 = og_mono_ms();
    cr_assert_eq(node_call_until(g_cl, calls, 2, one_answered, NULL), 1);
    cr_assert_lt(og_mono_ms() - t0, 1000);
    cr_assert_eq(calls[0].rc, 0);
    cr_assert_eq(calls[0].status, 200);
    free(calls[0].resp_body);
    cr_assert_eq(calls[1].rc, NODE_EABANDONED);
    cr_assert_eq(calls[1].status, 0);
    cr_assert_null(calls[1].resp_body);

    /* Without enough, the same pair runs to the timeout and nothing is abandoned. */
    node_client_t *quick = node_client_new(&g_keys, 300, 2);
    calls[0] = simple_call("GET", "/health");
    calls[1] = (node_call_t){.addr = addr, .method = "GET", .path = "/health"};
    cr_assert_eq(node_call_until(quick, calls, 2, NULL, NULL), 0);
    cr_assert_eq(calls[0].rc, 0);
    free(calls[0].resp_body);
    cr_assert_eq(calls[1].rc, OG_ETIMEOUT);
    node_client_free(quick);
    close(fd);
}

/* ---- a relay in front of the node that holds back its first answer ---- */

/* Forwards each connection to the node; the first bytes answered on the first connection wait
 * delay_ms. Counts the connections it accepted: a call that reuses one opens none. */
typedef struct {
    int lfd, stop, accepts, delay_ms;
    int close_first; /* the held-back answer also says `Connection: close` (unsigned, nobody reads it) */
    char addr[32];
    pthread_t th;
} relay_t;

static void *relay_run(void *arg)
{
    relay_t *r = arg;
    int cli[4], up[4], n = 0, delayed = 0;
    char buf[65536];
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd p[9] = {{.fd = r->lfd, .events = POLLIN}};
        for (int i = 0; i < n; i++) {
            p[1 + 2 * i] = (struct pollfd){.fd = cli[i], .events = POLLIN};
            p[2 + 2 * i] = (struct pollfd){.fd = up[i], .events = POLLIN};
        }
        if (poll(p, (nfds_t)(1 + 2 * n), 20) <= 0)
            continue;
        if ((p[0].revents & POLLIN) && n < 4) {
            cli[n] = accept(r->lfd, NULL, NULL);
            og_addr_t a;
            cr_assert_eq(og_addr_parse(g_addr, &a), 0);
            up[n] = socket(AF_INET, SOCK_STREAM, 0);
            cr_assert_eq(connect(up[n], (struct sockaddr *)&a.sa, a.salen), 0);
            __atomic_add_fetch(&r->accepts, 1, __ATOMIC_RELEASE);
            n++;
        }
        for (int i = 0; i < n; i++) {
            for (int dir = 0; dir < 2; dir++) {
                short ev = p[1 + 2 * i + dir].revents;
                if (!ev || cli[i] < 0)
                    continue;
                int from = dir ? up[i] : cli[i], to = dir ? cli[i] : up[i];
                ssize_t got = recv(from, buf, sizeof(buf), 0);
                if (got <= 0) {
                    close(cli[i]), close(up[i]);
                    cli[i] = up[i] = -1;
                    continue;
                }
                if (dir && i == 0 && !delayed++) {
                    usleep((useconds_t)r->delay_ms * 1000);
                    char *eol = memmem(buf, (size_t)got, "\r\n", 2);
                    if (r->close_first && eol) {
                        size_t at = (size_t)(eol - buf) + 2;
                        cr_assert_eq(send(to, buf, at, MSG_NOSIGNAL | MSG_MORE), (ssize_t)at);
                        cr_assert_eq(send(to, "Connection: close\r\n", 19, MSG_NOSIGNAL | MSG_MORE), 19);
                        cr_assert_eq(send(to, buf + at, (size_t)got - at, MSG_NOSIGNAL), got - (ssize_t)at);
                        continue;
                    }
                }
                cr_assert_eq(send(to, buf, (size_t)got, MSG_NOSIGNAL), got);
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (cli[i] >= 0)
            close(cli[i]), close(up[i]);
    return NULL;
}

static void relay_start(relay_t *r, int delay_ms, int close_first)
{
    *r = (relay_t){.delay_ms = delay_ms, .close_first = close_first};
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    cr_assert_eq(bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(r->lfd, 8), 0);
    cr_assert_eq(getsockname(r->lfd, (struct sockaddr *)&sa, &len), 0);
    snprintf(r->addr, sizeof(r->addr), "127.0.0.1:%u", ntohs(sa.sin_port));
    cr_assert_eq(pthread_create(&r->th, NULL, relay_run, r), 0);
}

static void relay_stop(relay_t *r)
{
    __atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
    pthread_join(r->th, NULL);
    close(r->lfd);
}

static int relay_accepts(relay_t *r) { return __atomic_load_n(&r->accepts, __ATOMIC_ACQUIRE); }

/* One call through the relay, abandoned after 20 ms while the relay holds its answer back. */
static void abandon_one(relay_t *r, const char *method, const char *path)
{
    node_call_t calls[2] = {simple_call("GET", "/health"), {.addr = r->addr, .method = method, .path = path}};
    calls[0].grace_ms = calls[1].grace_ms = 20;
    cr_assert_eq(node_call_until(g_cl, calls, 2, one_answered, NULL), 1);
    free(calls[0].resp_body);
    cr_assert_eq(calls[1].rc, NODE_EABANDONED);
}

/* A health call through the relay that must succeed: its answer is signed for its own request, so
 * a connection whose earlier answer was not read off whole fails it. */
static void health_through(relay_t *r)
{
    node_call_t h = {.addr = r->addr, .method = "GET", .path = "/health"};
    cr_assert_eq(node_call(g_cl, &h), 0);
    cr_assert_eq(h.status, 200);
    cr_assert_eq(h.resp_len, 2);
    free(h.resp_body);
}

Test(node_client, abandoned_call_connection_is_read_off_and_reused)
{
    relay_t r;
    relay_start(&r, 150, 0);
    abandon_one(&r, "GET", "/health");
    usleep(300 * 1000); /* the held-back answer arrives and waits in the socket */
    health_through(&r);
    health_through(&r);
    cr_assert_eq(relay_accepts(&r), 1, "the abandoned call's connection was not reused");
    relay_stop(&r);
}

Test(node_client, parked_connection_is_not_used_before_its_answer_came)
{
    relay_t r;
    relay_start(&r, 300, 0);
    abandon_one(&r, "HEAD", "/health");
    health_through(&r); /* at once: the parked one is still waiting, a new connection serves it */
    cr_assert_eq(relay_accepts(&r), 2);
    usleep(400 * 1000);
    health_through(&r);
    health_through(&r);
    health_through(&r);
    cr_assert_eq(relay_accepts(&r), 2);
    relay_stop(&r);
}

Test(node_client, parked_connection_whose_answer_closes_it_is_not_reused)
{
    relay_t r;
    relay_start(&r, 150, 1);
    abandon_one(&r, "GET", "/health");
    usleep(300 * 1000); /* the answer, saying Connection: close, waits in the socket */
    health_through(&r);
    health_through(&r);
    cr_assert_eq(relay_accepts(&r), 2, "a connection its answer closed was reused");
    relay_stop(&r);
}

Test(node_client, abandoned_read_of_a_big_chunk_is_read_off)
{
    static char data[300000];
    char path[128], xhex[17];
    store_chunk(7, data, sizeof(data), path, xhex);
    relay_t r;
    relay_start(&r, 150, 0);
    abandon_one(&r, "GET", path);
    usleep(400 * 1000);
    for (int i = 0; i < 3; i++)
        health_through(&r);
    cr_assert_eq(relay_accepts(&r), 1);
    relay_stop(&r);
}

Test(node_client, unreachable_node_fails_at_the_connect_timeout)
{
    /* A listener whose accept queue is full drops new SYNs, as a cut link does: the connection
     * is never made, and the call fails at NODE_CONNECT_TIMEOUT_MS, not at the 5 s call timeout. */
    int fd = socket(AF_INET, SOCK_STREAM, 0), fill[4];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(fd, 0), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
    }
    usleep(100 * 1000);
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
    node_client_t *slow = node_client_new(&g_keys, 5000, 2);
    node_call_t c = {.addr = addr, .method = "GET", .path = "/health"};
    uint64_t t0 = og_mono_ms();
    cr_assert_eq(node_call(slow, &c), OG_ETIMEOUT);
    uint64_t took = og_mono_ms() - t0;
    cr_assert_geq(took, NODE_CONNECT_TIMEOUT_MS - 10);
    cr_assert_lt(took, 3000);
    node_client_free(slow);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(fd);
}

Test(node_client, stale_pooled_connection_is_retried)
{
    node_call_t h = simple_call("GET", "/health");
    cr_assert_eq(node_call(g_cl, &h), 0);
    free(h.resp_body);
    /* Restart the server on the same port: the pooled connection is now dead. */
    uint16_t port = node_server_port(g_srv);
    node_server_stop(g_srv);
    server_start(port);
    h = simple_call("GET", "/health");
    cr_assert_eq(node_call(g_cl, &h), 0);
    cr_assert_eq(h.status, 200);
    free(h.resp_body);
}

Test(node_client, corrupt_chunk_not_served)
{
    char data[4096], path[128], xhex[17], vol[128];
    og_header_t hdr;
    memset(data, 'z', sizeof(data));
    chunk_path(path, sizeof(path), 77);
    node_call_t p = put_call(path, data, sizeof(data), &hdr, xhex);
    cr_assert_eq(node_call(g_cl, &p), 0);
    cr_assert_eq(p.status, 201);
    free(p.resp_body);
    snprintf(vol, sizeof(vol), "%s/d1/vol/00000000.vol", g_dir);
    int fd = open(vol, O_RDWR);
    cr_assert_eq(pwrite(fd, "y", 1, 48 + 100), 1);
    close(fd);
    node_call_t g = simple_call("GET", path);
    cr_assert_eq(node_call(g_cl, &g), 0);
    cr_assert_eq(g.status, 500);
    cr_assert_eq(g.resp_len, 8);
    cr_assert_eq(memcmp(g.resp_body, "corrupt\n", 8), 0);
    free(g.resp_body);
}

/* Damages one data byte of a stored chunk in its volume file (the 48-byte on-disk header first). */
static void damage_chunk(const uint8_t *id)
{
    node_chunk_loc_t loc;
    char vol[128];
    node_store_chunk_locate(g_store, id, 1, &loc);
    cr_assert_eq(loc.rc, 0);
    snprintf(vol, sizeof(vol), "%s/d1/vol/%08u.vol", g_dir, (unsigned)loc.vol);
    int fd = open(vol, O_RDWR);
    cr_assert_geq(fd, 0);
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, (off_t)loc.off + 48 + 7), 1);
    b ^= 0xff;
    cr_assert_eq(pwrite(fd, &b, 1, (off_t)loc.off + 48 + 7), 1);
    close(fd);
}

/* A /read whose chunks fail only when read (damaged on disk, which the index look-up that lays the
 * answer out cannot see) gives their room back: the chunks after them move down. The whole answer
 * is compared byte for byte with the one expected: 'S' entries with their bytes, 'C' and 'N' empty. */
Test(node_client, read_answer_closes_the_gaps_of_chunks_that_failed)
{
    enum { N = 8 };
    uint8_t ids[N][NODE_ID_LEN];
    char *data[N];
    size_t len[N];
    for (unsigned i = 0; i < N; i++) {
        memset(ids[i], 0, NODE_ID_LEN);
        ids[i][0] = (uint8_t)(0x40 + i);
        ids[i][31] = 0xa5;
        len[i] = 1000 + 337 * i;
        data[i] = malloc(len[i]);
        for (size_t k = 0; k < len[i]; k++)
            data[i][k] = (char)(i * 31 + k * 7);
        if (i != 5) /* 5 is never stored: 'N' from the look-up, no room laid out */
            cr_assert_eq(node_store_chunk_put(g_store, ids[i], data[i], len[i], XXH3_64bits(data[i], len[i])), 0);
    }
    damage_chunk(ids[1]);
    damage_chunk(ids[3]);
    damage_chunk(ids[7]); /* the last: nothing after it moves */

    size_t cap = 0;
    for (unsigned i = 0; i < N; i++)
        cap += 5 + len[i];
    unsigned char *want = malloc(cap), *w = want;
    for (unsigned i = 0; i < N; i++) {
        bool served = i != 1 && i != 3 && i != 5 && i != 7;
        *w++ = served ? 'S' : i == 5 ? 'N' : 'C';
        og_be32_put(w, served ? (uint32_t)len[i] : 0);
        w += 4;
        if (served) {
            memcpy(w, data[i], len[i]);
            w += len[i];
        }
    }
    node_call_t c = {.addr = g_addr, .method = "POST", .path = "/d1/read", .body = ids, .body_len = sizeof(ids)};
    cr_assert_eq(node_call(g_cl, &c), 0);
    cr_assert_eq(c.status, 200);
    cr_assert_eq(c.resp_len, (size_t)(w - want), "answer of %zu bytes, want %zu", c.resp_len, (size_t)(w - want));
    cr_assert_eq(memcmp(c.resp_body, want, c.resp_len), 0, "the answer's bytes differ");
    free(c.resp_body);
    free(want);
    for (unsigned i = 0; i < N; i++)
        free(data[i]);
}

/* A full disk (a file-size limit with SIGXFSZ ignored: EFBIG) answers 507, shows in /stat and
 * /health, and the next write after space came back is stored. */
Test(node_client, full_disk_answers_507)
{
    static char data[200000];
    char path[128], xhex[17];
    og_header_t hdr;
    struct rlimit rl;
    memset(data, 'f', sizeof(data));
    chunk_path(path, sizeof(path), 88);
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
    rl.rlim_cur = 64 << 10;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    node_call_t p = put_call(path, data, sizeof(data), &hdr, xhex);
    cr_assert_eq(node_call(g_cl, &p), 0);
    cr_assert_eq(p.status, 507);
    free(p.resp_body);
    node_call_t h = simple_call("GET", "/health");
    cr_assert_eq(node_call(g_cl, &h), 0);
    cr_assert_eq(h.status, 200);
    cr_assert_eq(h.resp_len, strlen("degraded\nd1 full\n"));
    cr_assert_eq(memcmp(h.resp_body, "degraded\nd1 full\n", h.resp_len), 0);
    free(h.resp_body);
    node_call_t st = simple_call("GET", "/d1/stat");
    cr_assert_eq(node_call(g_cl, &st), 0);
    cr_assert_eq(st.status, 200);
    cr_assert_not_null(memmem(st.resp_body, st.resp_len, "\"state\":\"full\"", 14));
    cr_assert_not_null(memmem(st.resp_body, st.resp_len, "\"volume_bytes\":0,", 17));
    free(st.resp_body);

    rl.rlim_cur = RLIM_INFINITY;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    p = put_call(path, data, sizeof(data), &hdr, xhex);
    cr_assert_eq(node_call(g_cl, &p), 0);
    cr_assert_eq(p.status, 201);
    free(p.resp_body);
    h = simple_call("GET", "/health");
    cr_assert_eq(node_call(g_cl, &h), 0);
    cr_assert_eq(h.resp_len, 2);
    free(h.resp_body);
}

/* A raw TCP connection to the server (no request sent). */
static int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(node_server_port(g_srv)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Whether the server closed fd within ms (a read sees the end). */
static int closed_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char b;
    return poll(&p, 1, ms) == 1 && recv(fd, &b, 1, MSG_DONTWAIT) <= 0;
}

Test(node_client, unauthenticated_flood_evicts_the_oldest_and_lets_signed_clients_in)
{
    /* A file limit of 600 caps connections at 344, the never-authenticated ones at 172. */
    node_server_stop(g_srv);
    struct rlimit rl = {600, 600};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    server_start(0);
    int fds[174];
    for (int i = 0; i < 172; i++)
        fds[i] = raw_connect();
    node_call_t h = simple_call("GET", "/health");
    cr_assert_eq(node_call(g_cl, &h), 0);
    free(h.resp_body);
    cr_assert_eq(h.status, 200, "a signed client gets in past a full unauthenticated reserve");
    cr_assert(closed_within(fds[0], 5000), "the oldest unauthenticated connection is evicted");
    /* The signed client no longer counts: one place is free again, then each newcomer evicts. */
    fds[172] = raw_connect();
    cr_assert_not(closed_within(fds[1], 300), "a free place evicts nobody");
    fds[173] = raw_connect();
    cr_assert(closed_within(fds[1], 5000), "each newcomer evicts the next oldest");
    cr_assert_not(closed_within(fds[2], 300), "and only that one");
    cr_assert_not(closed_within(fds[173], 300));
    h = simple_call("GET", "/health");
    cr_assert_eq(node_call(g_cl, &h), 0, "the authenticated pooled connection is never evicted");
    free(h.resp_body);
    cr_assert_eq(h.status, 200);
    for (int i = 0; i < 174; i++)
        close(fds[i]);
}
