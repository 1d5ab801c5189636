/*
 * admin_lc.c: onggi-admin lifecycle, the S3 lifecycle worker (docs/architecture.md, "Lifecycle"),
 * and lifecycle-status, what its last pass did.
 *
 *   lifecycle [--dry-run] [--rate N] [--max N] [--every S] [--day-seconds S]
 *
 * One pass walks the buckets table; each bucket whose record holds a lifecycle configuration is
 * handed to core_lc_bucket. Every action is printed ("expired BUCKET/KEY rule ID", "expired
 * noncurrent version BUCKET/KEY VID rule ID", "removed delete marker ...", and a due version
 * Object Lock kept: "skipped locked version ..."), the pass ends
 * with a summary line and stores the same figures as the record cluster/lifecycle-status.
 */
#include "admin.h"
#include "cluster/cluster.h"
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LC_STATUS_TABLE "cluster"
#define LC_STATUS_KEY "lifecycle-status"
#define LC_DEFAULT_RATE 100u       /* actions per second */
#define LC_DEFAULT_MAX 100000u     /* actions per pass */

typedef struct {
    cluster_t *cl;
    core_lc_opts_t o;
    core_lc_stats_t st;
    int bucket_failed;
} admin_lc_t;

/* core_lc_opts_t.report: one line per action (a version Object Lock kept: "skipped locked ..."),
 * failures on stderr. */
static void lc_report(void *ctx, const char *what, const char *bucket, og_str_t key, og_str_t vid, og_str_t rule,
                      int rc)
{
    const admin_lc_t *a = ctx;
    const char *done = what[0] == 'e'   ? "expired"
                       : what[0] == 'a' ? "aborted upload"
                       : what[0] == 'n' ? "expired noncurrent version"
                                        : "removed delete marker";
    if (rc == CORE_ELOCKED)
        printf("skipped locked version %s/%.*s %.*s rule %.*s\n", bucket, (int)key.len, key.base, (int)vid.len,
               vid.base, (int)rule.len, rule.base);
    else if (rc != 0)
        fprintf(stderr, "onggi-admin: lifecycle: %s %s/%.*s%s%.*s failed: %s\n", what, bucket, (int)key.len,
                key.base, vid.len ? " " : "", (int)vid.len, vid.base, admin_strerror(rc));
    else
        printf("%s%s %s/%.*s%s%.*s rule %.*s\n", a->o.dry_run ? "would have " : "", done, bucket, (int)key.len,
               key.base, vid.len ? " " : "", (int)vid.len, vid.base, (int)rule.len, rule.base);
}

/* cluster_table_each over "buckets": runs the bucket's configuration, if it has one. */
static int lc_bucket(void *ctx, og_str_t key, const og_rec_t *rec)
{
    admin_lc_t *a = ctx;
    char name[CORE_BUCKET_MAX + 1];
    core_bucket_t b;
    core_lc_t lc;
    int rc = 0;
    if (key.len >= sizeof(name) || core_bucket_parse(rec, &b) != 0)
        return 0;
    og_str_t conf = og_header_find(b.meta, b.num_meta, CORE_LC_META);
    memcpy(name, key.base, key.len);
    name[key.len] = '\0';
    if (conf.base != NULL && (rc = core_lc_decode(conf, &lc)) == 0) {
        rc = core_lc_bucket(a->cl, name, &lc, &a->o, &a->st);
        core_lc_free(&lc);
    }
    if (rc != 0) {
        admin_fail(name, rc);
        a->bucket_failed = 1;
    }
    core_bucket_free(&b);
    return a->st.bounded ? 1 : 0; /* a failed bucket does not stop the others */
}

/* Stores the pass's figures as cluster/lifecycle-status (JSON). 0 or an error. */
static int lc_status_put(admin_lc_t *a, int rc)
{
    og_rec_t rec = {0};
    char json[512];
    int n = snprintf(json, sizeof(json),
                     "{\"finished\": %llu, \"ok\": %s, \"dry_run\": %s, \"buckets\": %llu, \"scanned\": %llu, "
                     "\"expired\": %llu, \"aborted\": %llu, \"noncurrent\": %llu, \"markers\": %llu, "
                     "\"skipped_locked\": %llu, \"failed\": %llu, \"bounded\": %s}",
                     (unsigned long long)(og_time_ns() / 1000000000u), rc == 0 ? "true" : "false",
                     a->o.dry_run ? "true" : "false", (unsigned long long)a->st.buckets,
                     (unsigned long long)a->st.scanned, (unsigned long long)a->st.expired,
                     (unsigned long long)a->st.aborted, (unsigned long long)a->st.noncurrent,
                     (unsigned long long)a->st.markers, (unsigned long long)a->st.skipped_locked,
                     (unsigned long long)a->st.failed, a->st.bounded ? "true" : "false");
    cluster_stamp(a->cl, &rec.ts, &rec.tiebreak);
    rec.detail = (og_str_t){json, (size_t)n};
    return cluster_rec_put(a->cl, LC_STATUS_TABLE, OG_STR_LIT(LC_STATUS_KEY), &rec);
}

/* One pass over every bucket, with its summary line. The exit code. */
static int lc_pass(admin_lc_t *a)
{
    a->st = (core_lc_stats_t){0};
    a->bucket_failed = 0;
    a->o.now_s = og_time_ns() / 1000000000u;
    int rc = cluster_table_each(a->cl, CORE_BUCKETS_TABLE, lc_bucket, a);
    if (rc == 1)
        rc = 0;
    if (rc != 0)
        admin_fail("lifecycle: bucket list", rc);
    printf("lifecycle: %llu bucket(s) with rules, %llu record(s) scanned, %llu expired, %llu upload(s) aborted, "
           "%llu noncurrent version(s) expired, %llu delete marker(s) removed, %llu skipped (locked), "
           "%llu failed%s%s\n",
           (unsigned long long)a->st.buckets, (unsigned long long)a->st.scanned, (unsigned long long)a->st.expired,
           (unsigned long long)a->st.aborted, (unsigned long long)a->st.noncurrent,
           (unsigned long long)a->st.markers, (unsigned long long)a->st.skipped_locked,
           (unsigned long long)a->st.failed,
           a->st.bounded ? ", stopped at --max (the rest waits for the next pass)" : "",
           a->o.dry_run ? " (dry run: nothing changed)" : "");
    fflush(stdout);
    int src = lc_status_put(a, rc != 0 || a->bucket_failed ? 1 : 0);
    if (src != 0)
        admin_fail("lifecycle: status record", src);
    return rc != 0 || a->bucket_failed || a->st.failed || src != 0 ? 1 : 0;
}

/* Parses a positive number option's value. 0 or -1. */
static int lc_num(const char *s, uint64_t *v)
{
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || n == 0)
        return -1;
    *v = n;
    return 0;
}

int admin_lifecycle(cluster_t *cl, int argc, char **argv)
{
    admin_lc_t a = {.cl = cl};
    uint64_t every = 0, rate = LC_DEFAULT_RATE, max = LC_DEFAULT_MAX, day = CORE_LC_DAY_S;
    a.o = (core_lc_opts_t){.report = lc_report, .ctx = &a};
    for (int i = 0; i < argc; i++) {
        int has = i + 1 < argc, bad = 0;
        if (strcmp(argv[i], "--dry-run") == 0)
            a.o.dry_run = 1;
        else if (strcmp(argv[i], "--rate") == 0)
            bad = !has || lc_num(argv[++i], &rate) != 0 || rate > 1000000u;
        else if (strcmp(argv[i], "--max") == 0)
            bad = !has || lc_num(argv[++i], &max) != 0;
        else if (strcmp(argv[i], "--every") == 0)
            bad = !has || lc_num(argv[++i], &every) != 0;
        else if (strcmp(argv[i], "--day-seconds") == 0)
            bad = !has || lc_num(argv[++i], &day) != 0;
        else
            bad = 1;
        if (bad)
            return admin_usage();
    }
    a.o.rate = (uint32_t)rate, a.o.max_actions = max, a.o.day_s = day;
    if (day != CORE_LC_DAY_S)
        fprintf(stderr, "onggi-admin: lifecycle: a day lasts %llu s (--day-seconds: for tests only)\n",
                (unsigned long long)day);
    for (;;) {
        int ret = lc_pass(&a);
        if (every == 0)
            return ret;
        struct timespec ts = {(time_t)every, 0};
        nanosleep(&ts, NULL);
    }
}

int admin_lifecycle_status(const admin_opts_t *o, cluster_t *cl)
{
    og_rec_t rec;
    char *buf = NULL;
    int rc = cluster_rec_get(cl, LC_STATUS_TABLE, OG_STR_LIT(LC_STATUS_KEY), &rec, &buf);
    if (rc == OG_ENOTFOUND) {
        fprintf(stderr, "onggi-admin: lifecycle-status: no lifecycle pass has run yet\n");
        return 1;
    }
    if (rc != 0)
        return admin_fail("lifecycle-status", rc);
    json_t *j = json_loadb(rec.detail.base, rec.detail.len, 0, NULL);
    free(buf);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return admin_fail("lifecycle-status", OG_ECORRUPT);
    }
    if (o->json)
        return admin_json_print(j);
    admin_print_fields(j, ": ", 0);
    json_decref(j);
    return 0;
}
