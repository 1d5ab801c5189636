/* og_log.c: levelled process logs (og.h). */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include "og.h"

static const char *const og_log_names[] = {"error", "warn", "info", "debug"};

int og_log_level_parse(const char *s, int *level)
{
    for (int i = 0; i < (int)(sizeof(og_log_names) / sizeof(og_log_names[0])); i++)
        if (strcasecmp(s, og_log_names[i]) == 0) {
            *level = i;
            return 0;
        }
    return OG_EINVAL;
}

void og_log(const og_log_t *lg, int level, const char *fmt, ...)
{
    if (level > lg->level || level < OG_LOG_ERROR)
        return;
    char line[1024], when[32];
    uint64_t ns = og_time_ns();
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf(line, sizeof(line), "%s.%03uZ %s %s: ", when, (unsigned)(ns / 1000000u % 1000u),
                     og_log_names[level], lg->prog);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line); /* one write: stderr is unbuffered, the line is whole */
}
