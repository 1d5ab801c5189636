/* Unit tests for common/og_metrics.c: histogram buckets and the text exposition format 0.0.4. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "og_metrics.h"

Test(og_metrics, histogram_buckets_are_upper_inclusive)
{
    og_hist_t h = {0};
    og_hist_observe(&h, 0);          /* 0 s: first bucket */
    og_hist_observe(&h, 500000);     /* exactly 0.0005 s: le="0.0005" (le means <=) */
    og_hist_observe(&h, 500001);     /* just above: next bucket */
    og_hist_observe(&h, 10000000000ull); /* exactly 10 s: last finite bucket */
    og_hist_observe(&h, 10000000001ull); /* above every bound: +Inf only */
    cr_assert_eq(atomic_load(&h.bucket[0]), 2);
    cr_assert_eq(atomic_load(&h.bucket[1]), 1);
    cr_assert_eq(atomic_load(&h.bucket[OG_HIST_NBOUNDS - 1]), 1);
    cr_assert_eq(atomic_load(&h.bucket[OG_HIST_NBOUNDS]), 1);
    cr_assert_eq(atomic_load(&h.sum_ns), 500000ull + 500001ull + 10000000000ull + 10000000001ull);
}

Test(og_metrics, histogram_exposition_is_cumulative_with_sum_and_count)
{
    og_hist_t h = {0};
    og_buf_t b = {0};
    og_hist_observe(&h, 2000000);   /* 2 ms: le 0.0025 */
    og_hist_observe(&h, 3000000000ull); /* 3 s: le 5 */
    og_label_t l[] = {{"api", "s3"}, {"op", "GetObject"}};
    og_metrics_family(&b, "x_seconds", "histogram", "Test.");
    og_metrics_hist(&b, "x_seconds", l, 2, &h);
    const char *want = "# HELP x_seconds Test.\n# TYPE x_seconds histogram\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"0.0005\"} 0\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"0.001\"} 0\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"0.0025\"} 1\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"0.005\"} 1\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"0.01\"} 1\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"0.025\"} 1\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"0.05\"} 1\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"0.1\"} 1\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"0.25\"} 1\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"0.5\"} 1\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"1\"} 1\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"2.5\"} 1\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"5\"} 2\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"10\"} 2\n"
                       "x_seconds_bucket{api=\"s3\",op=\"GetObject\",le=\"+Inf\"} 2\n"
                       "x_seconds_sum{api=\"s3\",op=\"GetObject\"} 3.002000000\n"
                       "x_seconds_count{api=\"s3\",op=\"GetObject\"} 2\n";
    cr_assert_str_eq(b.buf, want);
    og_buf_free(&b);
}

Test(og_metrics, samples_escape_label_values)
{
    og_buf_t b = {0};
    og_label_t l = {"node", "a\"b\\c\nd"};
    og_metrics_u64(&b, "n_total", &l, 1, 18446744073709551615ull);
    og_metrics_u64(&b, "plain", NULL, 0, 0);
    og_metrics_f64(&b, "ratio", NULL, 0, 0.25);
    cr_assert_str_eq(b.buf, "n_total{node=\"a\\\"b\\\\c\\nd\"} 18446744073709551615\nplain 0\nratio 0.25\n");
    og_buf_free(&b);
}

Test(og_metrics, out_of_memory_is_sticky)
{
    og_buf_t b = {.oom = 1};
    og_hist_t h = {0};
    og_metrics_family(&b, "x", "gauge", "y");
    og_metrics_hist(&b, "x", NULL, 0, &h);
    cr_assert(b.oom && b.len == 0 && b.buf == NULL);
}

static int opsd_answer(void *ctx, const char *path, og_buf_t *body, const char **ctype)
{
    (void)ctx;
    *ctype = "text/plain";
    og_buf_printf(body, "path=%s\n", path);
    return strcmp(path, "/metrics") == 0 ? 200 : 404;
}

/* Sends req to the listener and returns what came back (closed by the server). */
static void opsd_exchange(uint16_t port, const char *req, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = recv(fd, out + len, cap - 1 - len, 0)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fd);
}

Test(og_metrics, opsd_answers_get_and_head_refuses_the_rest)
{
    og_opsd_t *d;
    char out[1024];
    cr_assert_eq(og_opsd_start("127.0.0.1:0", opsd_answer, NULL, &d), 0);
    opsd_exchange(og_opsd_port(d), "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", out, sizeof(out));
    cr_assert(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", out);
    cr_assert(strstr(out, "Content-Length: 14\r\n") != NULL && strstr(out, "\r\n\r\npath=/metrics\n") != NULL, "%s", out);
    opsd_exchange(og_opsd_port(d), "HEAD /nope HTTP/1.1\r\n\r\n", out, sizeof(out));
    cr_assert(strncmp(out, "HTTP/1.1 404 ", 13) == 0 && strstr(out, "\r\n\r\n")[4] == '\0', "%s", out);
    opsd_exchange(og_opsd_port(d), "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", out, sizeof(out));
    cr_assert(strncmp(out, "HTTP/1.1 405 ", 13) == 0, "%s", out);
    og_opsd_stop(d);
    cr_assert_eq(og_opsd_start("not-an-address", opsd_answer, NULL, &d), OG_EINVAL);
}
