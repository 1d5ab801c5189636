/*
 * onggi-admin: user management and inspection of a running cluster (docs/operations.md).
 *
 * The cluster is found by itself: --config FILE, else $ONGGI_CONFIG, else /etc/onggi/onggi.conf
 * when it exists ([cluster] ring = and keys =, [admin] json =); --ring FILE and --keys FILE (the
 * cluster key file; default RING.keys, node API requests are signed with it, docs/node-api.md)
 * override the file. Read commands print one JSON document with --json (before or after the
 * command). Long operations (gc, rebalance --watch, replication --watch) draw a progress line when
 * stdout is a terminal.
 *
 *   onggi-admin [--config FILE] [--ring FILE] [--keys FILE] [--json] COMMAND ...
 *   onggi-admin status [--json]
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
 *   onggi-admin --ring FILE replication [--watch [--interval S] [--timeout S]]
 *   onggi-admin --ring FILE ring push
 *   onggi-admin --ring FILE rebalance [--watch [--interval S] [--timeout S]]
 *   onggi-admin --ring FILE migrate-secrets
 *
 * Exits 0 on success, 1 on a cluster or data error, 2 on a usage error; errors go to stderr.
 */
#include "admin.h"
#include "og_conf.h"
#include "cluster/cluster.h"
#include "core/core.h"

#include "iam/iam.h"
#include "node_client.h"
#include "ring.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_LOCATE_MAX 64 /* devices listed per chunk */

#define OPT(name, type, field, arg, flags) {name, type, offsetof(admin_opts_t, field), 0, 0, arg, flags}
/* The options before the command, for the command line and the [admin] section of the file. */
static const og_conf_opt_t admin_optv[] = {
    OPT("ring", OG_CONF_STR, ring, "FILE", OG_CONF_CLUSTER),
    OPT("keys", OG_CONF_STR, keys, "FILE", OG_CONF_CLUSTER),
    OPT("json", OG_CONF_FLAG, json, NULL, 0),
};
static const og_conf_spec_t admin_spec = {"onggi-admin", "admin", admin_optv,
                                          sizeof(admin_optv) / sizeof(admin_optv[0]), 1, "ONGGI_CONFIG",
                                          ADMIN_DEFAULT_CONFIG};

/* What follows the options in the usage. */
static const char admin_commands[] = "COMMAND ..., COMMAND one of:\n"
                               "  status                       nodes, devices, health, under-replicated count\n"
                               "  user-add --access-key K --secret S [--account A] [--display-name N]\n"
                               "  user-list\n"
                               "  user-delete ACCESS_KEY\n"
                               "  account-add NAME [--quota-bytes N]\n"
                               "  account-list\n"
                               "  swift-user-add --account A --user U --key K [--admin] [--reseller-admin]\n"
                               "  swift-user-list\n"
                               "  swift-user-delete ACCOUNT:USER\n"
                               "  expire [--dry-run]\n"
                               "  locate BUCKET KEY\n"
                               "  stat\n"
                               "  gc [--grace SECONDS] [--dry-run]\n"
                               "  stats [--account A]\n"
                               "  replication [--watch [--interval S] [--timeout S]]   until nothing is under-replicated\n"
                               "  ring push\n"
                               "  rebalance [--watch [--interval S] [--timeout S]]     until done=yes\n"
                               "  migrate-secrets\n"
                               "Read commands (status, user-list, account-list, swift-user-list, locate, stat, stats,\n"
                               "replication, rebalance) take --json. The cluster: --config FILE, else $ONGGI_CONFIG,\n"
                               "else " ADMIN_DEFAULT_CONFIG " ([cluster] ring = FILE).";

int admin_usage(void)
{
    og_conf_usage(&admin_spec, admin_commands, stderr);
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

/* A list command's output: text lines as they come, or one JSON array at the end. */
typedef struct {
    json_t *list; /* NULL for text */
    cluster_t *cl;
} admin_list_t;

/* Starts a list; 0, or exit code 1 when memory ran out. */
static int admin_list_begin(const admin_opts_t *o, cluster_t *cl, admin_list_t *l)
{
    *l = (admin_list_t){o->json ? json_array() : NULL, cl};
    return o->json && l->list == NULL ? admin_fail("json", -ENOMEM) : 0;
}

/* Ends a list whose walk returned rc: prints the JSON array. The exit code. */
static int admin_list_end(admin_list_t *l, const char *what, int rc)
{
    if (rc != 0) {
        json_decref(l->list);
        return admin_fail(what, rc);
    }
    return l->list != NULL ? admin_json_print(l->list) : 0;
}

static int admin_print_user(void *ctx, const iam_user_t *u)
{
    admin_list_t *l = ctx;
    if (l->list == NULL)
        printf("%s %s %s\n", u->access_key, u->account, u->display_name);
    else
        json_array_append_new(l->list, json_pack("{s:s, s:s, s:s}", "access_key", u->access_key, "account",
                                                 u->account, "display_name", u->display_name));
    return 0;
}

static int admin_user_list(const admin_opts_t *o, iam_t *iam)
{
    admin_list_t l;
    int rc = admin_list_begin(o, NULL, &l);
    return rc ? rc : admin_list_end(&l, "user-list", iam_user_each(iam, admin_print_user, &l));
}

/* One chunk's line (text) or entry of *out (JSON). */
static void admin_locate_chunk(json_t *out, size_t i, const core_chunk_ref_t *c, char (*where)[96], int n)
{
    char hex[65];
    og_hex(c->id, 32, hex);
    if (out == NULL) {
        printf("%zu %s %" PRIu32, i, hex, c->len);
        for (int k = 0; k < n; k++)
            printf(" %s", where[k]);
        printf("\n");
        return;
    }
    json_t *devs = json_array();
    for (int k = 0; devs && k < n; k++)
        json_array_append_new(devs, json_string(where[k]));
    json_array_append_new(out, json_pack("{s:I, s:s, s:I, s:o}", "index", (json_int_t)i, "id", hex, "len",
                                         (json_int_t)c->len, "devices", devs));
}

static int admin_locate(const admin_opts_t *o, cluster_t *cl, const char *bucket, const char *key)
{
    char table[300];
    char(*where)[96] = NULL;
    json_t *chunks = NULL;
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
        ret = o->json ? admin_json_print(json_pack("{s:I, s:b}", "size", (json_int_t)m.size, "inline", 1))
                      : (printf("inline %" PRIu64 "\n", m.size), 0);
        goto out_free_meta;
    }
    if (!(where = calloc(ADMIN_LOCATE_MAX, sizeof(*where))) || (o->json && !(chunks = json_array()))) {
        admin_fail("locate", -ENOMEM);
        goto out_free_meta;
    }
    for (size_t i = 0; i < m.num_chunks; i++) {
        const core_chunk_ref_t *c = &m.chunks[i];
        if ((rc = cluster_chunk_locate(cl, c->id, where, ADMIN_LOCATE_MAX)) < 0) {
            admin_fail("locate: chunk", rc);
            goto out_free_where;
        }
        admin_locate_chunk(chunks, i, c, where, rc);
    }
    ret = 0;
    if (chunks != NULL) {
        ret = admin_json_print(json_pack("{s:I, s:b, s:O}", "size", (json_int_t)m.size, "inline", 0, "chunks", chunks));
    }
out_free_where:
    json_decref(chunks);
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

/* The devices' stat answers as one JSON array: addr, name and the node's stat, or an error. */
static int admin_stat_json(const ring_t *ring, const node_call_t *calls, size_t n)
{
    json_t *list = json_array();
    int ret = 0;
    for (size_t i = 0; list && i < n; i++) {
        const ring_dev_t *d = ring_dev_at(ring, i);
        json_t *stat = calls[i].rc == 0 && calls[i].status == 200 && calls[i].resp_body
                           ? json_loadb(calls[i].resp_body, calls[i].resp_len, 0, NULL)
                           : NULL;
        ret |= stat == NULL;
        json_array_append_new(list, stat ? json_pack("{s:s, s:s, s:o}", "addr", d->addr, "name", d->name, "stat", stat)
                                         : json_pack("{s:s, s:s, s:s}", "addr", d->addr, "name", d->name, "error",
                                                     calls[i].rc ? admin_strerror(calls[i].rc) : "bad answer"));
    }
    int rc = admin_json_print(list);
    return rc ? rc : ret;
}

/* One line per device of the ring: its address/name and the node's stat JSON, or why not. */
static int admin_stat_report(const admin_opts_t *o, const ring_t *ring, const node_call_t *calls, size_t n)
{
    int ret = 0;
    if (o->json)
        return admin_stat_json(ring, calls, n);
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
    admin_list_t *l = ctx;
    core_account_t a;
    json_t *meta = l->list ? json_object() : NULL;
    if (l->list == NULL)
        printf("%s", name);
    if (core_account_get(l->cl, name, &a) == 0) {
        for (size_t i = 0; i < a.num_meta; i++) {
            const og_header_t *h = &a.meta[i];
            if (meta != NULL)
                json_object_setn_new(meta, h->name.base, h->name.len, json_stringn(h->value.base, h->value.len));
            else
                printf(" %.*s=%.*s", (int)h->name.len, h->name.base, (int)h->value.len, h->value.base);
        }
        core_account_free(&a);
    }
    if (l->list == NULL)
        printf("\n");
    else
        json_array_append_new(l->list, json_pack("{s:s, s:o}", "name", name, "meta", meta));
    return 0;
}

static int admin_account_list(const admin_opts_t *o, cluster_t *cl)
{
    admin_list_t l;
    int rc = admin_list_begin(o, cl, &l);
    return rc ? rc : admin_list_end(&l, "account-list", core_account_each(cl, admin_print_account, &l));
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
    admin_list_t *l = ctx;
    if (l->list == NULL)
        printf("%s:%s%s\n", u->account, u->user,
               (u->flags & IAM_SWIFT_RESELLER) ? " .reseller_admin" : (u->flags & IAM_SWIFT_ADMIN) ? " .admin" : "");
    else
        json_array_append_new(l->list, json_pack("{s:s, s:s, s:b, s:b}", "account", u->account, "user", u->user,
                                                 "admin", (u->flags & IAM_SWIFT_ADMIN) != 0, "reseller_admin",
                                                 (u->flags & IAM_SWIFT_RESELLER) != 0));
    return 0;
}

static int admin_swift_user_list(const admin_opts_t *o, iam_t *iam)
{
    admin_list_t l;
    int rc = admin_list_begin(o, NULL, &l);
    return rc ? rc : admin_list_end(&l, "swift-user-list", iam_swift_user_each(iam, admin_print_swift_user, &l));
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

/* core_bucket_each callback: walks one bucket (by its id: its name, or 64 hex digits for a
 * container named like another account's bucket). */
static int admin_expire_bucket(void *ctx, const char *id)
{
    admin_expire_t *e = ctx;
    char table[CORE_TABLE_CAP];
    core_table('o', id, table);
    e->bucket = id;
    int rc = cluster_table_each(e->cl, table, admin_expire_object, e);
    if (rc != 0) {
        admin_fail(id, rc);
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
    int rc = core_bucket_each(cl, admin_expire_bucket, &e);
    if (rc != 0 && !e.bucket_failed)
        return admin_fail("expire: bucket list", rc);
    printf("%llu expired object(s)%s, %llu failed\n", (unsigned long long)e.found, e.dry_run ? " found" : "",
           (unsigned long long)e.failed);
    return rc != 0 || e.failed ? 1 : 0;
}

/* The commands that only read: they take --json. */
static int admin_is_read(const char *cmd)
{
    static const char *const reads[] = {"status", "user-list", "account-list", "swift-user-list", "locate",
                                        "stat", "stats", "replication", "rebalance"};
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
        if (strcmp(cmd, reads[i]) == 0)
            return 1;
    return 0;
}

/* Takes every --json out of the command's arguments args[0..*n) into o->json. */
static void admin_take_json(admin_opts_t *o, int *n, char **args)
{
    int k = 0;
    for (int i = 0; i < *n; i++) {
        if (strcmp(args[i], "--json") == 0)
            o->json = 1;
        else
            args[k++] = args[i];
    }
    *n = k;
}

/* The commands that talk to the nodes themselves. The exit code, or -1 when cmd is not one. */
static int admin_node_cmd(const admin_opts_t *o, const char *cmd, int n, char **args)
{
    if (strcmp(cmd, "status") == 0)
        return admin_status(o, n, args);
    if (strcmp(cmd, "stat") == 0)
        return n == 0 ? admin_each_dev(o, "stat", "/stat", admin_stat_report) : admin_usage();
    if (strcmp(cmd, "gc") == 0)
        return admin_gc(o, n, args);
    if (strcmp(cmd, "stats") == 0)
        return admin_stats(o, n, args);
    if (strcmp(cmd, "replication") == 0)
        return admin_replication(o, n, args);
    if (strcmp(cmd, "ring") == 0)
        return n >= 1 && strcmp(args[0], "push") == 0 ? admin_ring_push(o, n - 1, args + 1) : admin_usage();
    if (strcmp(cmd, "rebalance") == 0)
        return admin_rebalance(o, n, args);
    return -1;
}

/* The commands on the cluster's tables (IAM, accounts, objects). The exit code. */
static int admin_cluster_cmd(const admin_opts_t *o, const char *cmd, int n, char **args)
{
    static const char *const cluster_cmds[] = {"user-add", "user-list", "user-delete", "locate", "account-add",
                                               "account-list", "swift-user-add", "swift-user-list",
                                               "swift-user-delete", "expire", "migrate-secrets", NULL};
    cluster_t *cl;
    iam_t *iam;
    int rc, ret, known = 0;
    for (size_t i = 0; cluster_cmds[i] != NULL; i++)
        known |= strcmp(cmd, cluster_cmds[i]) == 0;
    if (!known)
        return admin_usage();
    if ((rc = cluster_open(o->ring, o->keys, ADMIN_TIMEOUT_MS, &cl)) != 0)
        return admin_fail(o->ring, rc);
    if ((ret = admin_iam_open(cl, o->ring, o->keys, &iam)) != 0) {
        cluster_close(cl);
        return ret;
    }
    if (strcmp(cmd, "user-add") == 0)
        ret = admin_user_add(iam, n, args);
    else if (strcmp(cmd, "user-list") == 0)
        ret = n == 0 ? admin_user_list(o, iam) : admin_usage();
    else if (strcmp(cmd, "user-delete") == 0)
        ret = n != 1 ? admin_usage() : (rc = iam_user_delete(iam, args[0])) ? admin_fail("user-delete", rc) : 0;
    else if (strcmp(cmd, "account-add") == 0)
        ret = n >= 1 ? admin_account_add(cl, n, args) : admin_usage();
    else if (strcmp(cmd, "account-list") == 0)
        ret = n == 0 ? admin_account_list(o, cl) : admin_usage();
    else if (strcmp(cmd, "swift-user-add") == 0)
        ret = admin_swift_user_add(iam, n, args);
    else if (strcmp(cmd, "swift-user-list") == 0)
        ret = n == 0 ? admin_swift_user_list(o, iam) : admin_usage();
    else if (strcmp(cmd, "swift-user-delete") == 0)
        ret = n == 1 ? admin_swift_user_delete(iam, args[0]) : admin_usage();
    else if (strcmp(cmd, "expire") == 0)
        ret = admin_expire(cl, n, args);
    else if (strcmp(cmd, "migrate-secrets") == 0)
        ret = n == 0 ? admin_migrate_secrets(iam) : admin_usage();
    else
        ret = n == 2 ? admin_locate(o, cl, args[0], args[1]) : admin_usage();
    iam_close(iam);
    cluster_close(cl);
    return ret;
}

int main(int argc, char **argv)
{
    admin_opts_t o = {0};
    og_conf_t *conf;
    int next, ret;

    int rc = og_conf_main(&admin_spec, admin_commands, argc, argv, &o, &conf, &next);
    if (rc != 0)
        return rc - 1;
    int n = argc - next - 1;
    char **args = argv + next + 1;
    if (next >= argc) {
        ret = admin_usage();
    } else if (o.ring == NULL) {
        fprintf(stderr, "onggi-admin: no ring: give --ring FILE, or a configuration file with `ring =` in [cluster] "
                        "(--config FILE, $ONGGI_CONFIG or " ADMIN_DEFAULT_CONFIG ")\n");
        ret = 2;
    } else {
        admin_take_json(&o, &n, args);
        if (o.json && !admin_is_read(argv[next])) {
            fprintf(stderr, "onggi-admin: --json is for the read commands, not %s\n", argv[next]);
            ret = 2;
        } else if ((ret = admin_node_cmd(&o, argv[next], n, args)) < 0) {
            ret = admin_cluster_cmd(&o, argv[next], n, args);
        }
    }
    og_conf_free(conf);
    return ret;
}
