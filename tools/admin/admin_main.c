/*
 * onggi-admin: user management and inspection of a running cluster (docs/operations.md).
 *
 * Every command also takes --keys FILE right after --ring FILE (the cluster key file; default
 * RING.keys): node API requests are signed with it (docs/node-api.md).
 *
 *   onggi-admin --ring FILE user-add --access-key K --secret S [--account A] [--display-name N]
 *   onggi-admin --ring FILE user-list
 *   onggi-admin --ring FILE user-delete ACCESS_KEY
 *   onggi-admin --ring FILE account-add NAME [--quota-bytes N]
 *   onggi-admin --ring FILE account-list
 *   onggi-admin --ring FILE swift-user-add --account A --user U --key K [--admin] [--reseller-admin]
 *   onggi-admin --ring FILE swift-user-list
 *   onggi-admin --ring FILE swift-user-delete ACCOUNT:USER
 *   onggi-admin --ring FILE expire [--dry-run]
 *   onggi-admin --ring FILE locate BUCKET KEY
 *   onggi-admin --ring FILE stat
 *   onggi-admin --ring FILE gc [--grace SECONDS] [--dry-run]
 *   onggi-admin --ring FILE stats [--account A]
 *   onggi-admin --ring FILE replication
 *   onggi-admin --ring FILE ring push
 *   onggi-admin --ring FILE rebalance
 *   onggi-admin --ring FILE migrate-secrets
 *
 * Exits 0 on success, 1 on a cluster or data error, 2 on a usage error; errors go to stderr.
 */
#include "admin.h"
#include "cluster/cluster.h"
#include "core/core.h"

#include "iam/iam.h"
#include "node_client.h"
#include "ring.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_LOCATE_MAX 64 /* devices listed per chunk */

int admin_usage(void)
{
    fprintf(stderr, "usage: onggi-admin --ring FILE [--keys FILE] COMMAND ..., COMMAND one of:\n"
                    "       onggi-admin --ring FILE user-add --access-key K --secret S [--account A] "
                    "[--display-name N]\n"
                    "       onggi-admin --ring FILE user-list\n"
                    "       onggi-admin --ring FILE user-delete ACCESS_KEY\n"
                    "       onggi-admin --ring FILE account-add NAME [--quota-bytes N]\n"
                    "       onggi-admin --ring FILE account-list\n"
                    "       onggi-admin --ring FILE swift-user-add --account A --user U --key K [--admin] "
                    "[--reseller-admin]\n"
                    "       onggi-admin --ring FILE swift-user-list\n"
                    "       onggi-admin --ring FILE swift-user-delete ACCOUNT:USER\n"
                    "       onggi-admin --ring FILE expire [--dry-run]\n"
                    "       onggi-admin --ring FILE locate BUCKET KEY\n"
                    "       onggi-admin --ring FILE stat\n"
                    "       onggi-admin --ring FILE gc [--grace SECONDS] [--dry-run]\n"
                    "       onggi-admin --ring FILE stats [--account A]\n"
                    "       onggi-admin --ring FILE replication\n"
                    "       onggi-admin --ring FILE ring push\n"
                    "       onggi-admin --ring FILE rebalance\n"

                    "       onggi-admin --ring FILE migrate-secrets\n");
    return 2;
}

/* og_strerror() names the shared codes only; the node client's and the ring's are named here. */
const char *admin_strerror(int rc)
{
    switch (rc) {
    case NODE_EDOWN:
        return "node unreachable";
    case NODE_ESTATUS:
        return "unexpected status from node";
    case RING_EBADFILE:
        return "not a valid ring file";
    }
    return og_strerror(rc);
}

int admin_fail(const char *what, int rc)
{
    fprintf(stderr, "onggi-admin: %s: %s\n", what, admin_strerror(rc));
    return 1;
}

/* Copies src into a fixed field; 0, or prints why and returns the usage exit code. */
static int admin_set(char *dst, size_t cap, const char *src, const char *opt)
{
    size_t n = strlen(src);
    if (n == 0 || n >= cap) {
        fprintf(stderr, "onggi-admin: %s must be 1..%zu bytes\n", opt, cap - 1);
        return 2;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

static int admin_user_add(iam_t *iam, int argc, char **argv)
{
    iam_user_t u;
    int rc = 0;

    memset(&u, 0, sizeof(u));
    for (int i = 0; i < argc && rc == 0; i += 2) {
        if (i + 1 >= argc)
            return admin_usage();
        if (strcmp(argv[i], "--access-key") == 0)
            rc = admin_set(u.access_key, sizeof(u.access_key), argv[i + 1], argv[i]);
        else if (strcmp(argv[i], "--secret") == 0)
            rc = admin_set(u.secret, sizeof(u.secret), argv[i + 1], argv[i]);
        else if (strcmp(argv[i], "--account") == 0)
            rc = admin_set(u.account, sizeof(u.account), argv[i + 1], argv[i]);
        else if (strcmp(argv[i], "--display-name") == 0)
            rc = admin_set(u.display_name, sizeof(u.display_name), argv[i + 1], argv[i]);
        else
            return admin_usage();
    }
    if (rc != 0)
        return rc;
    if (!u.access_key[0] || !u.secret[0]) {
        fprintf(stderr, "onggi-admin: user-add needs --access-key and --secret\n");
        return admin_usage();
    }
    /* The account defaults to the access key: one key, one account. */
    if (!u.account[0] && (rc = admin_set(u.account, sizeof(u.account), u.access_key, "--account")) != 0)
        return rc;
    if ((rc = iam_user_put(iam, &u)) != 0)
        return admin_fail("user-add", rc);
    printf("user %s (account %s) stored\n", u.access_key, u.account);
    return 0;
}

static int admin_print_user(void *ctx, const iam_user_t *u)
{
    (void)ctx;
    printf("%s %s %s\n", u->access_key, u->account, u->display_name);
    return 0;
}

static int admin_user_list(iam_t *iam)
{
    int rc = iam_user_each(iam, admin_print_user, NULL);
    return rc ? admin_fail("user-list", rc) : 0;
}

static int admin_locate(cluster_t *cl, const char *bucket, const char *key)
{
    char table[300], hex[65];
    char(*where)[96] = NULL;
    og_rec_t rec;
    core_meta_t m;
    char *buf;
    int rc, ret = 1;

    core_table('o', bucket, table);
    if ((rc = cluster_rec_get(cl, table, og_str(key), &rec, &buf)) != 0)
        return admin_fail("locate: object record", rc);
    if (rec.flags & OG_REC_TOMBSTONE) {
        admin_fail("locate: object (deleted)", OG_ENOTFOUND);
        goto out_free_buf;
    }
    if ((rc = core_meta_decode(&rec, &m)) != 0) {
        admin_fail("locate: object record", rc);
        goto out_free_buf;
    }
    if (m.num_chunks == 0) {
        printf("inline %" PRIu64 "\n", m.size);
        ret = 0;
        goto out_free_meta;
    }
    if (!(where = calloc(ADMIN_LOCATE_MAX, sizeof(*where)))) {
        admin_fail("locate", -ENOMEM);
        goto out_free_meta;
    }
    for (size_t i = 0; i < m.num_chunks; i++) {
        const core_chunk_ref_t *c = &m.chunks[i];
        if ((rc = cluster_chunk_locate(cl, c->id, where, ADMIN_LOCATE_MAX)) < 0) {
            admin_fail("locate: chunk", rc);
            goto out_free_where;
        }
        og_hex(c->id, 32, hex);
        printf("%zu %s %" PRIu32, i, hex, c->len);
        for (int k = 0; k < rc; k++)
            printf(" %s", where[k]);
        printf("\n");
    }
    ret = 0;
out_free_where:
    free(where);
out_free_meta:
    core_meta_free(&m);
out_free_buf:
    free(buf);
    return ret;
}

node_client_t *admin_client_new(const char *ring_path, const char *keys_path, size_t max_idle)
{
    og_keys_t keys;
    int rc = og_keys_load_for(keys_path, ring_path, &keys);
    if (rc != 0) {
        fprintf(stderr, "onggi-admin: cannot load the cluster keys (%s%s): %s\n", keys_path ? keys_path : ring_path,
                keys_path ? "" : ".keys", admin_strerror(rc));
        return NULL;
    }
    node_client_t *c = node_client_new(&keys, ADMIN_TIMEOUT_MS, max_idle);
    og_keys_wipe(&keys);
    if (!c)
        admin_fail("node client", -ENOMEM);
    return c;
}

/* One line per device of the ring: its address/name and the node's stat JSON, or why not. */
static int admin_stat_report(const ring_t *ring, const node_call_t *calls, size_t n)
{
    int ret = 0;
    for (size_t i = 0; i < n; i++) {
        const ring_dev_t *d = ring_dev_at(ring, i);
        if (calls[i].rc != 0) {
            printf("%s/%s error: %s\n", d->addr, d->name, admin_strerror(calls[i].rc));
            ret = 1;
        } else if (calls[i].status != 200) {
            printf("%s/%s error: status %d\n", d->addr, d->name, calls[i].status);
            ret = 1;
        } else {
            int len = (int)calls[i].resp_len;
            /* The JSON is one line; drop a trailing newline so each device stays on one. */
            while (len > 0 && (calls[i].resp_body[len - 1] == '\n' || calls[i].resp_body[len - 1] == '\r'))
                len--;
            printf("%s/%s %.*s\n", d->addr, d->name, len, calls[i].resp_body ? calls[i].resp_body : "");
        }
    }
    if (ret)
        fprintf(stderr, "onggi-admin: stat: some devices did not answer\n");
    return ret;
}

/* ---- accounts, Swift users, S3 key pairs, expiry (docs/operations.md) ---- */

/* account-add NAME [--quota-bytes N]: creates the account's record or updates its quota,
 * keeping its other metadata. */
static int admin_account_add(cluster_t *cl, int argc, char **argv)
{
    core_account_t a;
    const char *quota = NULL;
    og_header_t *meta = NULL;
    size_t n = 0;
    int rc, ret = 1;

    if (argc != 1 && !(argc == 3 && strcmp(argv[1], "--quota-bytes") == 0))
        return admin_usage();
    if (argc == 3) {
        quota = argv[2];
        if (quota[strspn(quota, "0123456789")] != '\0') {
            fprintf(stderr, "onggi-admin: --quota-bytes takes a byte count (empty removes the quota)\n");
            return 2;
        }
    }
    rc = core_account_get(cl, argv[0], &a);
    if (rc == OG_ENOTFOUND)
        rc = 0, a.created_ns = og_time_ns();
    if (rc != 0)
        return admin_fail("account-add", rc);
    if ((meta = calloc(a.num_meta + 1, sizeof(*meta))) == NULL) {
        admin_fail("account-add", -ENOMEM);
        goto out_free;
    }
    for (size_t i = 0; i < a.num_meta; i++)
        if (quota == NULL || !og_str_eq(a.meta[i].name, "x-account-meta-quota-bytes"))
            meta[n++] = a.meta[i];
    if (quota != NULL && quota[0] != '\0')
        meta[n++] = (og_header_t){OG_STR_LIT("x-account-meta-quota-bytes"), og_str(quota)};
    core_account_t na = {.created_ns = a.created_ns, .meta = meta, .num_meta = n};
    if ((rc = core_account_put(cl, argv[0], &na)) != 0) {
        admin_fail("account-add", rc == OG_EINVAL ? OG_EINVAL : rc);
        goto out_free;
    }
    printf("account %s stored\n", argv[0]);
    ret = 0;
out_free:
    free(meta);
    core_account_free(&a);
    return ret;
}

static int admin_print_account(void *ctx, const char *name)
{
    cluster_t *cl = ctx;
    core_account_t a;
    printf("%s", name);
    if (core_account_get(cl, name, &a) == 0) {
        for (size_t i = 0; i < a.num_meta; i++)
            printf(" %.*s=%.*s", (int)a.meta[i].name.len, a.meta[i].name.base, (int)a.meta[i].value.len,
                   a.meta[i].value.base);
        core_account_free(&a);
    }
    printf("\n");
    return 0;
}

static int admin_account_list(cluster_t *cl)
{
    int rc = core_account_each(cl, admin_print_account, cl);
    return rc ? admin_fail("account-list", rc) : 0;
}

/* swift-user-add --account A --user U --key K [--admin] [--reseller-admin] */
static int admin_swift_user_add(iam_t *iam, int argc, char **argv)
{
    iam_swift_user_t u;
    int rc = 0;
    memset(&u, 0, sizeof(u));
    for (int i = 0; i < argc && rc == 0; i++) {
        if (strcmp(argv[i], "--admin") == 0) {
            u.flags |= IAM_SWIFT_ADMIN;
            continue;
        }
        if (strcmp(argv[i], "--reseller-admin") == 0) {
            u.flags |= IAM_SWIFT_ADMIN | IAM_SWIFT_RESELLER;
            continue;
        }
        if (i + 1 >= argc)
            return admin_usage();
        if (strcmp(argv[i], "--account") == 0)
            rc = admin_set(u.account, sizeof(u.account), argv[i + 1], argv[i]);
        else if (strcmp(argv[i], "--user") == 0)
            rc = admin_set(u.user, sizeof(u.user), argv[i + 1], argv[i]);
        else if (strcmp(argv[i], "--key") == 0)
            rc = admin_set(u.key, sizeof(u.key), argv[i + 1], argv[i]);
        else
            return admin_usage();
        i++;
    }
    if (rc != 0)
        return rc;
    if (!u.account[0] || !u.user[0] || !u.key[0]) {
        fprintf(stderr, "onggi-admin: swift-user-add needs --account, --user and --key\n");
        return admin_usage();
    }
    if ((rc = iam_swift_user_put(iam, &u)) != 0)
        return admin_fail("swift-user-add", rc);
    printf("swift user %s:%s stored%s\n", u.account, u.user,
           (u.flags & IAM_SWIFT_RESELLER) ? " (reseller admin)" : (u.flags & IAM_SWIFT_ADMIN) ? " (admin)" : "");
    return 0;
}

static int admin_print_swift_user(void *ctx, const iam_swift_user_t *u)
{
    (void)ctx;
    printf("%s:%s%s\n", u->account, u->user,
           (u->flags & IAM_SWIFT_RESELLER) ? " .reseller_admin" : (u->flags & IAM_SWIFT_ADMIN) ? " .admin" : "");
    return 0;
}

/* swift-user-delete ACCOUNT:USER */
static int admin_swift_user_delete(iam_t *iam, const char *who)
{
    char account[64];
    const char *colon = strchr(who, ':');
    if (colon == NULL || colon == who || (size_t)(colon - who) >= sizeof(account))
        return admin_usage();
    memcpy(account, who, (size_t)(colon - who));
    account[colon - who] = '\0';
    int rc = iam_swift_user_delete(iam, account, colon + 1);
    return rc ? admin_fail("swift-user-delete", rc) : 0;
}

/* expire [--dry-run]: reclaims every object whose X-Delete-At has passed. */
typedef struct {
    cluster_t *cl;
    int dry_run;
    uint64_t now_s, found, failed;
    const char *bucket; /* the bucket being walked */
    int bucket_failed;  /* a bucket's walk failed (said on stderr), not the bucket list */
} admin_expire_t;

/* cluster_table_each callback: one object of e->bucket, expired (counted in e) when due. */
static int admin_expire_object(void *ctx, og_str_t key, const og_rec_t *rec)
{
    admin_expire_t *e = ctx;
    core_meta_t m;
    if (core_meta_decode(rec, &m) != 0)
        return 0;
    if (core_meta_expired(&m, e->now_s)) {
        e->found++;
        printf("%s %s/%.*s\n", e->dry_run ? "would expire" : "expired", e->bucket, (int)key.len, key.base);
        if (!e->dry_run && core_obj_expire(e->cl, e->bucket, key, &m) != 0)
            e->failed++;
    }
    core_meta_free(&m);
    return 0;
}

/* cluster_table_each callback: walks one bucket (its name is the key of the buckets table). */
static int admin_expire_bucket(void *ctx, og_str_t key, const og_rec_t *rec)
{
    admin_expire_t *e = ctx;
    char name[64], table[CORE_TABLE_CAP];
    if (key.len >= sizeof(name))
        return 0;
    memcpy(name, key.base, key.len);
    name[key.len] = '\0';
    core_table('o', name, table);
    e->bucket = name;
    int rc = cluster_table_each(e->cl, table, admin_expire_object, e);
    if (rc != 0) {
        admin_fail(name, rc);
        e->bucket_failed = 1;
    }
    return rc;
}

static int admin_expire(cluster_t *cl, int argc, char **argv)
{
    admin_expire_t e = {.cl = cl, .now_s = og_time_ns() / 1000000000u};
    if (argc > 1 || (argc == 1 && strcmp(argv[0], "--dry-run") != 0))
        return admin_usage();
    e.dry_run = argc == 1;
    int rc = cluster_table_each(cl, "buckets", admin_expire_bucket, &e);
    if (rc != 0 && !e.bucket_failed)
        return admin_fail("expire: bucket list", rc);
    printf("%llu expired object(s)%s, %llu failed\n", (unsigned long long)e.found, e.dry_run ? " found" : "",
           (unsigned long long)e.failed);
    return rc != 0 || e.failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    cluster_t *cl;
    iam_t *iam;
    int rc, ret;

    if (argc < 4 || strcmp(argv[1], "--ring") != 0)
        return admin_usage();
    const char *ring_path = argv[2], *keys_path = NULL;
    if (strcmp(argv[3], "--keys") == 0) {
        if (argc < 6)
            return admin_usage();
        keys_path = argv[4];
        argc -= 2, argv += 2;
    }
    const char *cmd = argv[3];
    if (strcmp(cmd, "stat") == 0)
        return argc == 4 ? admin_each_dev(ring_path, keys_path, "stat", "/stat", admin_stat_report) : admin_usage();
    if (strcmp(cmd, "gc") == 0)
        return admin_gc(ring_path, keys_path, argc - 4, argv + 4);
    if (strcmp(cmd, "stats") == 0)
        return admin_stats(ring_path, keys_path, argc - 4, argv + 4);
    if (strcmp(cmd, "replication") == 0)
        return admin_replication(ring_path, keys_path, argc - 4, argv + 4);
    if (strcmp(cmd, "ring") == 0)
        return argc >= 5 && strcmp(argv[4], "push") == 0 ? admin_ring_push(ring_path, keys_path, argc - 5, argv + 5)
                                                         : admin_usage();
    if (strcmp(cmd, "rebalance") == 0)
        return admin_rebalance(ring_path, keys_path, argc - 4, argv + 4);
    static const char *const cluster_cmds[] = {"user-add", "user-list", "user-delete", "locate", "account-add",
                                               "account-list", "swift-user-add", "swift-user-list",
                                               "swift-user-delete", "expire", "migrate-secrets", NULL};
    int known = 0;
    for (size_t i = 0; cluster_cmds[i] != NULL; i++)
        known |= strcmp(cmd, cluster_cmds[i]) == 0;
    if (!known)
        return admin_usage();
    if ((rc = cluster_open(ring_path, keys_path, ADMIN_TIMEOUT_MS, &cl)) != 0)
        return admin_fail(ring_path, rc);
    if ((ret = admin_iam_open(cl, ring_path, keys_path, &iam)) != 0) {
        cluster_close(cl);
        return ret;
    }
    if (strcmp(cmd, "user-add") == 0)
        ret = admin_user_add(iam, argc - 4, argv + 4);
    else if (strcmp(cmd, "user-list") == 0)
        ret = argc == 4 ? admin_user_list(iam) : admin_usage();
    else if (strcmp(cmd, "user-delete") == 0)
        ret = argc != 5 ? admin_usage() : (rc = iam_user_delete(iam, argv[4])) ? admin_fail("user-delete", rc) : 0;
    else if (strcmp(cmd, "account-add") == 0)
        ret = argc >= 5 ? admin_account_add(cl, argc - 4, argv + 4) : admin_usage();
    else if (strcmp(cmd, "account-list") == 0)
        ret = argc == 4 ? admin_account_list(cl) : admin_usage();
    else if (strcmp(cmd, "swift-user-add") == 0)
        ret = admin_swift_user_add(iam, argc - 4, argv + 4);
    else if (strcmp(cmd, "swift-user-list") == 0)
        ret = argc != 4 ? admin_usage()
              : (rc = iam_swift_user_each(iam, admin_print_swift_user, NULL)) ? admin_fail("swift-user-list", rc)
                                                                             : 0;
    else if (strcmp(cmd, "swift-user-delete") == 0)
        ret = argc == 5 ? admin_swift_user_delete(iam, argv[4]) : admin_usage();
    else if (strcmp(cmd, "expire") == 0)
        ret = admin_expire(cl, argc - 4, argv + 4);
    else if (strcmp(cmd, "migrate-secrets") == 0)
        ret = argc == 4 ? admin_migrate_secrets(iam) : admin_usage();
    else
        ret = argc == 6 ? admin_locate(cl, argv[4], argv[5]) : admin_usage();
    iam_close(iam);
    cluster_close(cl);
    return ret;
}
