/* libFuzzer target: the storage node's HTTP API (storage-node/node_server.c and the handlers and
 * store behind it), fed raw bytes over a real TCP connection.
 *
 * A real node runs in this process: one device (a store in a temporary directory, on /dev/shm
 * when it exists so fsyncs cost little) served by node_server_start on 127.0.0.1 with an
 * ephemeral port, exactly as onggi-node serves it. Each input is sent as is on a new connection,
 * the write side is shut, and the answer is read until the node closes, so the request parser,
 * the framing checks, the routing, every handler's path, query, header and body parsing and the
 * store run on whatever the mutator makes; pipelined requests in one input are served in turn.
 * The store keeps what earlier inputs wrote, so later ones find chunks and records to read, list
 * and delete. A crash, leak or UB in any server thread fails the run like one in the target.
 *
 * The node refuses unsigned requests before their handlers (docs/node-api.md), so each request
 * of an input that parses is signed with the cluster key here (node_auth_sign, as node_client
 * does) before it is sent; the rest of an input from the first head that does not parse goes as
 * it is, and reaches the head parser and the signature check.
 *
 * Seeds are requests of every kind the gateway and the replicator send, with valid chunk ids,
 * xxh3 values and records: run the binary with FUZZ_WRITE_SEEDS=<dir> to write them
 * (tests/fuzz/corpus/node_request holds its output). */
#include <openssl/evp.h>
#include <signal.h>
#include <unistd.h>
#include <xxhash.h>

#include "fuzz.h"
#include "node_auth.h"
#include "node_int.h"
#include "og_http.h"
#include "og_keys.h"
#include <openssl/rand.h>
#include "og_buf.h"
#include "og_rec.h"

#define DEV "d1"

/* The node under test, for the whole process (libFuzzer calls the target from one thread). */
static struct {
    char dir[64];
    node_store_t *store;
    node_dev_t dev;
    node_server_t *srv;
    struct sockaddr_in addr;
    node_signer_t signer;
    og_buf_t signed_input; /* reused by every input */
} node;

static void node_down(void)
{
    char cmd[128];
    node_server_stop(node.srv);
    og_buf_free(&node.signed_input);
    node_auth_signer_free(&node.signer);
    node_store_close(node.store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", node.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_node_request: could not remove %s\n", node.dir);
}

static void node_up(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the daemon does: a client gone mid-answer is an error return */
    snprintf(node.dir, sizeof(node.dir), "%s/onggi-fuzz-node.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (mkdtemp(node.dir) == NULL || node_store_open(node.dir, 8, &node.store) != 0) {
        fprintf(stderr, "fuzz_node_request: cannot open a store in %s\n", node.dir);
        exit(1);
    }
    node.dev = (node_dev_t){.name = DEV, .store = node.store};
    og_keys_t keys = {.num_node = 1, .node = {{.id = "n1"}}};
    if (RAND_bytes(keys.node[0].key, OG_KEY_BYTES) != 1 || node_auth_signer_init(&node.signer, &keys) != 0 ||
        node_server_start("127.0.0.1:0", &keys, &node.dev, 1, NULL, 64, &node.srv) != 0) {
        fprintf(stderr, "fuzz_node_request: cannot start the node server\n");
        exit(1);
    }
    node.addr = fuzz_loopback(node_server_port(node.srv));
    atexit(node_down);
}

/* Appends one request head of in (hl bytes, already parsed into m, t, h) with its X-Onggi-Auth
 * header added before the blank line, then its Content-Length body (what the input has of it).
 * Returns the bytes of in it used. */
static size_t sign_one(og_buf_t *out, const char *in, size_t len, size_t hl, og_str_t m, og_str_t t,
                       const struct phr_header *ph, size_t nh)
{
    og_header_t h[64];
    char method[32], target[4096], auth[NODE_AUTH_VALUE_MAX];
    uint64_t clen = 0;
    for (size_t i = 0; i < nh; i++) {
        h[i] = (og_header_t){{ph[i].name, ph[i].name_len}, {ph[i].value, ph[i].value_len}};
        if (og_str_ieq(h[i].name, "Content-Length") && og_parse_dec(h[i].value, 18, &clen) != 0)
            clen = 0;
    }
    size_t blen = clen < len - hl ? (size_t)clen : len - hl;
    snprintf(method, sizeof(method), "%.*s", (int)m.len, m.base);
    snprintf(target, sizeof(target), "%.*s", (int)t.len, t.base);
    if (node_auth_sign(&node.signer, method, target, h, nh, in + hl, (size_t)clen == blen ? blen : 0, auth) != 0)
        auth[0] = '\0';
    og_buf_put(out, in, hl - (in[hl - 2] == '\r' ? 2 : 1)); /* the head without its blank line */
    og_buf_printf(out, NODE_AUTH_HEADER ": %s\r\n\r\n", auth);
    og_buf_put(out, in + hl, blen);
    return hl + blen;
}

/* The input with every request that parses signed, in order; from the first that does not, the
 * rest as it is. */
static void sign_input(og_buf_t *out, const char *in, size_t len)
{
    size_t pos = 0;
    out->len = 0;
    while (pos < len) {
        struct phr_header ph[64];
        size_t nh = 64, ml, tl;
        const char *m, *t;
        int minor;
        int hl = phr_parse_request(in + pos, len - pos, &m, &ml, &t, &tl, &minor, ph, &nh, 0);
        if (hl <= 2 || ml >= 32 || tl >= 4096)
            break;
        pos += sign_one(out, in + pos, len - pos, (size_t)hl, (og_str_t){m, ml}, (og_str_t){t, tl}, ph, nh);
    }
    og_buf_put(out, in + pos, len - pos);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sign_input(&node.signed_input, (const char *)data, size);
    fuzz_exchange(&node.addr, (const uint8_t *)node.signed_input.buf, node.signed_input.len);
    return 0;
}

/* ---- seeds: requests as the gateway and the replicator send them ---- */

static void write_seed(const char *dir, const char *name, const og_buf_t *b)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(b->buf, 1, b->len, f) != b->len)
        fprintf(stderr, "fuzz_node_request: cannot write %s\n", path);
    if (f != NULL)
        fclose(f);
}

static void chunk_id(const char *data, size_t n, uint8_t id[32], char hex[65])
{
    EVP_Digest(data, n, id, NULL, EVP_sha256(), NULL);
    og_hex(id, 32, hex);
}

static void be32(og_buf_t *b, uint32_t v)
{
    char x[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
    og_buf_put(b, x, 4);
}

static void seed_chunks(const char *dir)
{
    static const char data[] = "chunk bytes", more[] = "another chunk";
    uint8_t id[32], id2[32];
    char hex[65], hex2[65];
    og_buf_t b = {0};
    chunk_id(data, sizeof(data) - 1, id, hex);
    chunk_id(more, sizeof(more) - 1, id2, hex2);
    unsigned long long x = XXH3_64bits(data, sizeof(data) - 1), x2 = XXH3_64bits(more, sizeof(more) - 1);

    og_buf_printf(&b, "PUT /" DEV "/chunk/%s HTTP/1.1\r\nHost: n\r\nX-Onggi-Xxh3: %016llx\r\nContent-Length: %zu\r\n\r\n%s",
                  hex, x, sizeof(data) - 1, data);
    og_buf_printf(&b, "GET /" DEV "/chunk/%s HTTP/1.1\r\nRange: bytes=2-5\r\n\r\n", hex);
    og_buf_printf(&b, "HEAD /" DEV "/chunk/%s HTTP/1.1\r\n\r\n", hex);
    og_buf_printf(&b, "DELETE /" DEV "/chunk/%s?older_than=1 HTTP/1.1\r\nConnection: close\r\n\r\n", hex);
    write_seed(dir, "chunk_put_get_head_delete", &b);
    b.len = 0;

    og_buf_t body = {0};
    be32(&body, 2);
    og_buf_put(&body, (const char *)id, 32), be32(&body, sizeof(data) - 1);
    for (int i = 7; i >= 0; i--)
        og_buf_put(&body, (char[]){(char)(x >> (8 * i))}, 1);
    og_buf_put(&body, (const char *)id2, 32), be32(&body, sizeof(more) - 1);
    for (int i = 7; i >= 0; i--)
        og_buf_put(&body, (char[]){(char)(x2 >> (8 * i))}, 1);
    og_buf_put(&body, data, sizeof(data) - 1);
    og_buf_put(&body, more, sizeof(more) - 1);
    og_buf_printf(&b, "PUT /" DEV "/chunks HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", body.len);
    og_buf_put(&b, body.buf, body.len);
    og_buf_printf(&b, "POST /" DEV "/read HTTP/1.1\r\nContent-Length: 64\r\n\r\n");
    og_buf_put(&b, (const char *)id, 32), og_buf_put(&b, (const char *)id2, 32);
    og_buf_printf(&b, "POST /" DEV "/touch HTTP/1.1\r\nContent-Length: 32\r\n\r\n");
    og_buf_put(&b, (const char *)id2, 32);
    og_buf_printf(&b, "GET /" DEV "/chunks?limit=10 HTTP/1.1\r\n\r\n");
    write_seed(dir, "chunk_batch_read_touch_list", &b);
    og_buf_free(&body);
    og_buf_free(&b);
}

static void seed_records(const char *dir)
{
    static const char summary[] = "\x01summary", detail[] = "detail bytes";
    og_rec_t rec = {.ts = 1700000000123456789ull, .tiebreak = 42, .size = 5, .summary = {summary, sizeof(summary) - 1},
                    .detail = {detail, sizeof(detail) - 1}};
    char enc[256];
    long n = og_rec_encode(&rec, enc, sizeof(enc));
    og_buf_t b = {0};
    og_buf_printf(&b, "PUT /" DEV "/rec/o.photos/2024%%2Fcat%%20one.jpg HTTP/1.1\r\nContent-Length: %ld\r\n\r\n", n);
    og_buf_put(&b, enc, (size_t)n);
    og_buf_printf(&b, "GET /" DEV "/rec/o.photos/2024%%2Fcat%%20one.jpg HTTP/1.1\r\n\r\n");
    og_buf_printf(&b, "GET /" DEV "/list/o.photos?prefix=2024%%2F&after=2023&limit=100 HTTP/1.1\r\n\r\n");
    og_buf_printf(&b, "GET /" DEV "/usage/o.photos HTTP/1.1\r\n\r\n");
    og_buf_printf(&b, "GET /" DEV "/tables HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    write_seed(dir, "record_put_get_list_usage", &b);
    b.len = 0;
    /* a grouped listing: 2024/ is cut after its first live key, 2025/ is only a tombstone */
    og_buf_printf(&b, "PUT /" DEV "/rec/o.photos/2024%%2Fdog.jpg HTTP/1.1\r\nContent-Length: %ld\r\n\r\n", n);
    og_buf_put(&b, enc, (size_t)n);
    og_buf_printf(&b, "GET /" DEV "/list/o.photos?prefix=20&delimiter=%%2F&limit=10 HTTP/1.1\r\n\r\n");
    og_buf_printf(&b, "GET /" DEV "/list/o.photos?delimiter=4%%2F&after=2024&limit=1 HTTP/1.1\r\n\r\n");
    write_seed(dir, "record_list_grouped", &b);
    b.len = 0;
    rec.flags = OG_REC_TOMBSTONE, rec.ts++, rec.size = 0, rec.summary.len = rec.detail.len = 0;
    n = og_rec_encode(&rec, enc, sizeof(enc));
    og_buf_printf(&b, "PUT /" DEV "/rec/buckets/photos HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: %ld\r\n\r\n", n);
    og_buf_put(&b, enc, (size_t)n);
    write_seed(dir, "record_tombstone", &b);
    og_buf_free(&b);
}

static void seed_admin(const char *dir)
{
    og_buf_t b = {0};
    og_buf_printf(&b, "GET /health HTTP/1.1\r\n\r\nGET /" DEV "/stat HTTP/1.1\r\n\r\nGET /" DEV
                      "/summaries HTTP/1.1\r\n\r\nGET /" DEV "/part/3/summary HTTP/1.1\r\n\r\nGET /" DEV
                      "/part/3/list?after=63&limit=5 HTTP/1.1\r\n\r\n");
    write_seed(dir, "health_stat_partitions", &b);
    b.len = 0;
    og_buf_printf(&b, "PUT /" DEV "/chunk/00 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    write_seed(dir, "chunked_refused", &b);
    og_buf_free(&b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("FUZZ_WRITE_SEEDS");
    if (dir != NULL) {
        seed_chunks(dir);
        seed_records(dir);
        seed_admin(dir);
    }
    node_up();
    return 0;
}
