/*
 * admin_out.c: onggi-admin's output forms: one JSON document for --json (jansson), and the
 * progress line of long operations, drawn only on a terminal.
 */
#include "admin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30

int admin_json_print(json_t *j)
{
    if (j == NULL)
        return admin_fail("json", -ENOMEM);
    int rc = json_dumpf(j, stdout, JSON_INDENT(2));
    json_decref(j);
    if (rc != 0)
        return admin_fail("json", -EIO);
    printf("\n");
    return 0;
}

void admin_print_fields(json_t *obj, const char *sep, size_t skip)
{
    const char *k;
    json_t *v;
    size_t i = 0;
    json_object_foreach(obj, k, v)
    {
        if (i++ < skip)
            continue;
        if (json_is_string(v))
            printf(" %s%s%s", k, sep, json_string_value(v));
        else if (json_is_null(v))
            printf(" %s%snone", k, sep);
        else if (json_is_real(v))
            printf(" %s%s%.3f", k, sep, json_real_value(v));
        else if (json_is_boolean(v))
            printf(" %s%s%s", k, sep, json_is_true(v) ? "yes" : "no");
        else
            printf(" %s%s%" JSON_INTEGER_FORMAT, k, sep, json_integer_value(v));
    }
    printf("\n");
}

/* A progress line is for a person watching: never in JSON, never into a pipe or a file. */
static int progress_wanted(const admin_opts_t *a)
{
    return !a->json && isatty(STDOUT_FILENO);
}

void admin_progress(const admin_opts_t *a, const char *what, uint64_t done, uint64_t total)
{
    if (!progress_wanted(a))
        return;
    char bar[BAR_WIDTH + 1];
    uint64_t fill = total ? (done >= total ? BAR_WIDTH : done * BAR_WIDTH / total) : 0;
    for (size_t i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : ' ';
    bar[BAR_WIDTH] = '\0';
    printf("\r%s [%s] %3u%% %" PRIu64 "/%" PRIu64 "\033[K", what, bar,
           (unsigned)(total ? (done >= total ? 100 : done * 100 / total) : 0), done, total);
    fflush(stdout);
}

void admin_progress_end(const admin_opts_t *a)
{
    if (!progress_wanted(a))
        return;
    printf("\r\033[K");
    fflush(stdout);
}

/* --interval / --timeout value: whole seconds in [1, 86400]. 0, or -1 when not one. */
static int watch_secs(const char *v, unsigned *out)
{
    uint64_t s;
    if (og_parse_dec(og_str(v), 5, &s) != 0 || s < 1 || s > 86400)
        return -1;
    *out = (unsigned)s;
    return 0;
}

int admin_watch(const admin_opts_t *a, const char *what, const char *suffix,
                int (*report)(const admin_opts_t *a, const ring_t *ring, const node_call_t *calls, size_t n), int argc,
                char **argv)
{
    admin_opts_t w = *a;
    unsigned interval = 2, timeout = 3600;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--watch") == 0)
            w.watch = 1;
        else if (i + 1 < argc && strcmp(argv[i], "--interval") == 0 && watch_secs(argv[i + 1], &interval) == 0)
            i++;
        else if (i + 1 < argc && strcmp(argv[i], "--timeout") == 0 && watch_secs(argv[i + 1], &timeout) == 0)
            i++;
        else
            return admin_usage();
    }
    if (!w.watch)
        return argc == 0 ? admin_each_dev(a, what, suffix, report) : admin_usage();
    uint64_t deadline = og_mono_ms() + (uint64_t)timeout * 1000;
    int rc;
    while ((rc = admin_each_dev(&w, what, suffix, report)) == ADMIN_AGAIN && og_mono_ms() < deadline) {
        struct timespec ts = {interval, 0};
        nanosleep(&ts, NULL);
    }
    if (rc != ADMIN_AGAIN)
        return rc;
    admin_progress_end(a);
    fprintf(stderr, "onggi-admin: %s: not done after %u s\n", what, timeout);
    admin_each_dev(a, what, suffix, report);
    return 1;
}
