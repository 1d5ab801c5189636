/* libFuzzer target: the gateway's HTTP/1.1 server (gateway/http/http_server.c): request heads
 * (picohttpparser as the server drives it, header count and size limits), the framing headers
 * (Content-Length, Transfer-Encoding, Connection, Expect), chunked bodies, pipelining, 100-continue
 * and the answers, fed raw bytes over a real TCP connection.
 *
 * A real server runs in this process on 127.0.0.1 (ephemeral port) with a small handler: it reads
 * the whole body and answers its length, except under /noread/ (answers without reading the body,
 * so the server must close rather than drain it, unless the body came whole with its head and went
 * with the request) and /chunked/ (answers with a chunked body).
 * Each input is sent as is on a new connection, the write side is shut and the answer read until
 * the server closes. A crash, leak or UB on the loop or a worker fails the run. */
#include <pthread.h>
#include <signal.h>

#include "fuzz.h"
#include "http/http.h"

static struct {
    http_server_t *srv;
    pthread_t thread;
    struct sockaddr_in addr;
} gw;

static void answer_chunked(http_req_t *req)
{
    static const char part[] = "0123456789abcdef";
    if (http_resp_start(req, 200, NULL, 0, -1) != 0)
        return;
    for (int i = 0; i < 4; i++)
        if (http_resp_write(req, part, sizeof(part) - 1) != 0)
            return;
    http_resp_end(req);
}

static void handle(http_req_t *req, void *ctx)
{
    const http_reqinfo_t *info = http_req_info(req);
    char buf[4096], text[64];
    uint64_t total = 0;
    ssize_t n;
    if (info->path.len >= 8 && memcmp(info->path.base, "/noread/", 8) == 0) {
        http_resp_send(req, 403, NULL, 0, "denied\n", 7);
        return;
    }
    while ((n = http_req_read(req, buf, sizeof(buf))) > 0)
        total += (uint64_t)n;
    if (n == HTTP_EABORTED)
        return;
    if (n < 0) {
        http_resp_send(req, 400, NULL, 0, "bad body\n", 9);
        return;
    }
    FUZZ_CHECK(info->chunked || info->content_length < 0 || total == (uint64_t)info->content_length);
    if (info->path.len >= 9 && memcmp(info->path.base, "/chunked/", 9) == 0) {
        answer_chunked(req);
        return;
    }
    int len = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)total);
    og_header_t h = {OG_STR_LIT("X-Method"), info->method};
    http_resp_send(req, 200, &h, 1, text, (size_t)len);
}

static void *serve(void *arg)
{
    http_server_run(arg);
    return NULL;
}

static void gw_down(void)
{
    http_server_stop(gw.srv);
    pthread_join(gw.thread, NULL);
    http_server_free(gw.srv);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    signal(SIGPIPE, SIG_IGN); /* as the daemon does: a client gone mid-answer is an error return */
    /* Timeouts well under libFuzzer's -timeout: an input that stalls mid-body is closed by the
     * server, not reported as a hang. */
    http_server_conf_t conf = {.host = "127.0.0.1", .workers = 4, .idle_timeout_ms = 2000, .io_timeout_ms = 2000,
                               .body_min_rate = 1, .body_rate_window_ms = 2000, .handler = handle};
    if (http_server_new(&conf, &gw.srv) != 0 || pthread_create(&gw.thread, NULL, serve, gw.srv) != 0) {
        fprintf(stderr, "fuzz_http_server: cannot start the server\n");
        exit(1);
    }
    gw.addr = fuzz_loopback(http_server_port(gw.srv));
    atexit(gw_down);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_exchange(&gw.addr, data, size);
    return 0;
}
