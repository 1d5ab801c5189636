/*
 * admin_out.c: onggi-admin's output forms: one JSON document for --json (jansson), and the
 * progress line of long operations, drawn only on a terminal.
 */
#include "admin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
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
