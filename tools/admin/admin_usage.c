/*
 * admin_usage.c: onggi-admin bucket-list, usage and quota-set (docs/operations.md, "Usage and
 * quotas"). Usage comes from the nodes' per-table counters (core_usage_bucket, O(1) per bucket);
 * quotas are the metadata Swift's quota middlewares read (X-Account-Meta-Quota-Bytes on the
 * account, X-Container-Meta-Quota-Bytes / -Count on the container), which core_quota_check
 * enforces for S3 and Swift alike, so a quota set here holds for both APIs at once.
 */
#include "admin.h"
#include "core/core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define Q_ACCOUNT_BYTES "x-account-meta-quota-bytes"
#define Q_BUCKET_BYTES "x-container-meta-quota-bytes"
#define Q_BUCKET_COUNT "x-container-meta-quota-count"

int admin_quota_arg(const char *opt, const char *v, const char **out)
{
    if (v[0] == '\0' || strcmp(v, "none") == 0 || strspn(v, "0") == strlen(v)) {
        *out = NULL;
        return 0;
    }
    uint64_t n;
    if (og_parse_dec(og_str(v), 19, &n) != 0) {
        fprintf(stderr, "onggi-admin: %s takes a count (0 or none removes the quota)\n", opt);
        return 2;
    }
    *out = v;
    return 0;
}

/* old[0..n) with each names[i] (i < k, set[i] != 0) replaced by values[i] (NULL: removed), into
 * *out (calloc'd, the caller frees; the slices point into old and values). 0 or -ENOMEM. */
static int meta_replace(const og_header_t *old, size_t n, const char *const *names, const char *const *values,
                        const int *set, size_t k, og_header_t **out, size_t *nout)
{
    og_header_t *m = calloc(n + k + 1, sizeof(*m));
    size_t o = 0;
    if (m == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < k && !(set[j] && og_str_eq(old[i].name, names[j])))
            j++;
        if (j == k)
            m[o++] = old[i];
    }
    for (size_t j = 0; j < k; j++)
        if (set[j] && values[j] != NULL)
            m[o++] = (og_header_t){og_str(names[j]), og_str(values[j])};
    *out = m;
    *nout = o;
    return 0;
}

int admin_account_store(cluster_t *cl, const char *name, int set_quota, const char *quota)
{
    const char *const names[] = {Q_ACCOUNT_BYTES};
    core_account_t a;
    og_header_t *meta = NULL;
    size_t n = 0;

    int rc = core_account_get(cl, name, &a);
    if (rc == OG_ENOTFOUND)
        rc = 0, a = (core_account_t){.created_ns = og_time_ns()};
    if (rc != 0)
        return admin_fail(name, rc);
    if ((rc = meta_replace(a.meta, a.num_meta, names, &quota, &set_quota, 1, &meta, &n)) == 0)
        rc = core_account_put(cl, name, &(core_account_t){.created_ns = a.created_ns, .meta = meta, .num_meta = n});
    free(meta);
    core_account_free(&a);
    if (rc != 0)
        return admin_fail(name, rc);
    printf("account %s stored%s%s\n", name, set_quota ? ", quota-bytes " : "",
           set_quota ? (quota ? quota : "none") : "");
    return 0;
}

/* quota-set [--account A] --bucket B [--bytes N] [--count N]: the container quota metadata of
 * the global bucket B, or of account A's container B (core_bucket_find), other metadata kept. */
static int bucket_quota_store(cluster_t *cl, const char *account, const char *bucket, const char *const values[2],
                              const int set[2])
{
    const char *const names[] = {Q_BUCKET_BYTES, Q_BUCKET_COUNT};
    core_bucket_t b, nb;
    int rc = account ? core_bucket_find(cl, account, bucket, &b) : core_bucket_get(cl, bucket, &b);
    if (rc != 0)
        return admin_fail(bucket, rc);
    nb = b;
    if ((rc = meta_replace(b.meta, b.num_meta, names, values, set, 2, &nb.meta, &nb.num_meta)) == 0) {
        rc = core_bucket_put(cl, bucket, &nb);
        free(nb.meta);
    }
    core_bucket_free(&b);
    if (rc != 0)
        return admin_fail(bucket, rc);
    printf("bucket %s stored", bucket);
    for (size_t j = 0; j < 2; j++)
        if (set[j])
            printf(", quota-%s %s", j ? "count" : "bytes", values[j] ? values[j] : "none");
    printf("\n");
    return 0;
}

int admin_quota_set(cluster_t *cl, int argc, char **argv)
{
    const char *account = NULL, *bucket = NULL, *values[2] = {NULL, NULL};
    int set[2] = {0, 0}, rc = 0;
    for (int i = 0; i + 1 < argc && rc == 0; i += 2) {
        if (strcmp(argv[i], "--account") == 0)
            account = argv[i + 1];
        else if (strcmp(argv[i], "--bucket") == 0)
            bucket = argv[i + 1];
        else if (strcmp(argv[i], "--bytes") == 0)
            set[0] = 1, rc = admin_quota_arg(argv[i], argv[i + 1], &values[0]);
        else if (strcmp(argv[i], "--count") == 0)
            set[1] = 1, rc = admin_quota_arg(argv[i], argv[i + 1], &values[1]);
        else
            return admin_usage();
    }
    if (rc != 0)
        return rc;
    /* An account quota is in bytes only (Swift's account_quotas); a bucket's in bytes and/or count. */
    if (argc % 2 != 0 || (!account && !bucket) || (!bucket && (!set[0] || set[1])) || (bucket && !set[0] && !set[1]))
        return admin_usage();
    return bucket ? bucket_quota_store(cl, account, bucket, values, set) : admin_account_store(cl, account, 1, values[0]);
}

/* ---- usage and bucket-list: one JSON object per bucket or account, printed as JSON or text ---- */

typedef struct {
    cluster_t *cl;
    const char *account; /* NULL: every account */
    json_t *list;        /* the report (an array), printed at the end */
    uint64_t now_s;
} usage_ctx_t;

/* The quota metadata `name` of h[0..n) as a JSON integer, or JSON null when none is set. */
static json_t *quota_json(const og_header_t *h, size_t n, const char *name)
{
    uint64_t v;
    og_str_t s = og_header_find(h, n, name);
    return s.base != NULL && og_parse_dec(s, 19, &v) == 0 ? json_integer((json_int_t)v) : json_null();
}

/* Prints the report: the JSON array, or one line per entry ("first-value name=value ..."). */
static int usage_print(const admin_opts_t *o, json_t *list)
{
    size_t i;
    json_t *e;
    if (o->json)
        return admin_json_print(list);
    json_array_foreach(list, i, e)
    {
        json_t *first = json_object_iter_value(json_object_iter(e));
        printf("%s", json_string_value(first));
        admin_print_fields(e, "=", 1);
    }
    json_decref(list);
    return 0;
}

/* core_bucket_each callback: one entry of u->list per bucket (of u->account, when given) with its
 * owner, creation time and usage (read through its id: containers are named per account). */
static int bucket_list_one(void *ctx, const char *name, const core_bucket_t *b)
{
    usage_ctx_t *u = ctx;
    char created[32];
    core_usage_t use;
    if (u->account != NULL && strcmp(b->owner, u->account) != 0)
        return 0;
    int rc = core_usage_bucket(u->cl, b->id, u->now_s, &use);
    if (rc != 0) {
        admin_fail(name, rc);
        return rc;
    }
    time_t t = (time_t)(b->created_ns / 1000000000u);
    struct tm tm;
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    return json_array_append_new(u->list, json_pack("{s:s, s:s, s:s, s:I, s:I}", "bucket", name, "owner", b->owner,
                                                    "created", created, "objects", (json_int_t)use.objects,
                                                    "bytes", (json_int_t)use.bytes)) == 0 ? 0 : -ENOMEM;
}

int admin_bucket_list(const admin_opts_t *o, cluster_t *cl, int argc, char **argv)
{
    usage_ctx_t u = {cl, NULL, json_array(), og_time_ns() / 1000000000u};
    if (argc == 2 && strcmp(argv[0], "--account") == 0)
        u.account = argv[1];
    else if (argc != 0) {
        json_decref(u.list);
        return admin_usage();
    }
    int rc = u.list ? core_bucket_each(cl, bucket_list_one, &u) : -ENOMEM;
    if (rc != 0) {
        json_decref(u.list);
        return admin_fail("bucket-list", rc);
    }
    return usage_print(o, u.list);
}

/* One account's usage against its quota, appended to u->list. 0 or an error (said on stderr). */
static int usage_account(void *ctx, const char *name)
{
    usage_ctx_t *u = ctx;
    core_account_t a = {0};
    core_usage_t use;
    uint64_t buckets;
    int rc = core_account_get(u->cl, name, &a);
    if ((rc != 0 && rc != OG_ENOTFOUND) || (rc = core_usage_account(u->cl, name, u->now_s, &buckets, &use)) != 0) {
        core_account_free(&a);
        return admin_fail(name, rc);
    }
    json_t *q = quota_json(a.meta, a.num_meta, Q_ACCOUNT_BYTES);
    core_account_free(&a);
    return json_array_append_new(u->list, json_pack("{s:s, s:I, s:I, s:I, s:o}", "account", name, "buckets",
                                                    (json_int_t)buckets, "objects", (json_int_t)use.objects,
                                                    "bytes", (json_int_t)use.bytes, "quota_bytes", q)) == 0
               ? 0
               : admin_fail(name, -ENOMEM);
}

/* One bucket's usage against its quotas: the global bucket, or with an account that account's
 * container of that name (core_bucket_find: containers are named per account). */
static int usage_bucket(usage_ctx_t *u, const char *bucket)
{
    core_bucket_t b;
    core_usage_t use;
    int rc = u->account ? core_bucket_find(u->cl, u->account, bucket, &b) : core_bucket_get(u->cl, bucket, &b);
    if (rc != 0)
        return admin_fail(bucket, rc);
    rc = core_usage_bucket(u->cl, b.id, u->now_s, &use);
    if (rc == 0 && json_array_append_new(u->list, json_pack("{s:s, s:s, s:I, s:I, s:o, s:o}", "bucket", bucket,
                                                           "owner", b.owner, "objects", (json_int_t)use.objects,
                                                           "bytes", (json_int_t)use.bytes, "quota_bytes",
                                                           quota_json(b.meta, b.num_meta, Q_BUCKET_BYTES),
                                                           "quota_count",
                                                           quota_json(b.meta, b.num_meta, Q_BUCKET_COUNT))) != 0)
        rc = -ENOMEM;
    core_bucket_free(&b);
    return rc ? admin_fail(bucket, rc) : 0;
}

int admin_usage_cmd(const admin_opts_t *o, cluster_t *cl, int argc, char **argv)
{
    usage_ctx_t u = {cl, NULL, json_array(), og_time_ns() / 1000000000u};
    const char *bucket = NULL;
    int rc = u.list ? 0 : admin_fail("usage", -ENOMEM);
    for (int i = 0; rc == 0 && i < argc; i += 2) {
        if (i + 1 < argc && strcmp(argv[i], "--account") == 0)
            u.account = argv[i + 1];
        else if (i + 1 < argc && strcmp(argv[i], "--bucket") == 0)
            bucket = argv[i + 1];
        else
            rc = admin_usage();
    }
    if (rc == 0 && bucket != NULL)
        rc = usage_bucket(&u, bucket);
    else if (rc == 0 && u.account != NULL)
        rc = usage_account(&u, u.account);
    else if (rc == 0 && (rc = core_account_each(cl, usage_account, &u)) < 0)
        rc = admin_fail("usage: account list", rc);
    if (rc != 0) {
        json_decref(u.list);
        return rc < 0 ? 1 : rc;
    }
    return usage_print(o, u.list);
}
