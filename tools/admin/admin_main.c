/*
 * onggi-admin: user management and inspection of a running cluster (docs/operations.md).
 *
 *   onggi-admin --ring FILE user-add --access-key K --secret S [--account A] [--display-name N]
 *   onggi-admin --ring FILE user-list
 *   onggi-admin --ring FILE locate BUCKET KEY
 *   onggi-admin --ring FILE stat
 *
 * Exits 0 on success, 1 on a cluster or data error, 2 on a usage error; errors go to stderr.
 */
#include "gw_cluster.h"
#include "gw_meta.h"
#include "gw_users.h"
#include "node_client.h"
#include "ring.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_TIMEOUT_MS 5000
#define ADMIN_LOCATE_MAX 64 /* devices listed per chunk */

static int admin_usage(void)
{
    fprintf(stderr, "usage: onggi-admin --ring FILE user-add --access-key K --secret S [--account A] "
                    "[--display-name N]\n"
                    "       onggi-admin --ring FILE user-list\n"
                    "       onggi-admin --ring FILE locate BUCKET KEY\n"
                    "       onggi-admin --ring FILE stat\n");
    return 2;
}

/* og_strerror() names the shared codes only; the node client's and the ring's are named here. */
static const char *admin_strerror(int rc)
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

static int admin_fail(const char *what, int rc)
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

static int admin_user_add(gw_cluster_t *cl, int argc, char **argv)
{
    gw_user_t u;
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
    if ((rc = gw_users_put(cl, &u)) != 0)
        return admin_fail("user-add", rc);
    printf("user %s (account %s) stored\n", u.access_key, u.account);
    return 0;
}

static int admin_print_user(void *ctx, const gw_user_t *u)
{
    (void)ctx;
    printf("%s %s %s\n", u->access_key, u->account, u->display_name);
    return 0;
}

static int admin_user_list(gw_cluster_t *cl)
{
    int rc = gw_users_each(cl, admin_print_user, NULL);
    return rc ? admin_fail("user-list", rc) : 0;
}

static int admin_locate(gw_cluster_t *cl, const char *bucket, const char *key)
{
    char table[300], hex[65];
    char(*where)[96] = NULL;
    og_rec_t rec;
    gw_meta_t m;
    char *buf;
    int rc, ret = 1;

    if ((size_t)snprintf(table, sizeof(table), "o.%s", bucket) >= sizeof(table))
        return admin_fail("locate", OG_EINVAL);
    if ((rc = gw_cluster_rec_get(cl, table, og_str(key), &rec, &buf)) != 0)
        return admin_fail("locate: object record", rc);
    if (rec.flags & OG_REC_TOMBSTONE) {
        admin_fail("locate: object (deleted)", OG_ENOTFOUND);
        goto out_free_buf;
    }
    if ((rc = gw_meta_decode(&rec, &m)) != 0) {
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
        const gw_chunk_ref_t *c = &m.chunks[i];
        if ((rc = gw_cluster_chunk_locate(cl, c->id, where, ADMIN_LOCATE_MAX)) < 0) {
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
    gw_meta_free(&m);
out_free_buf:
    free(buf);
    return ret;
}

/* One line per device of the ring: its address/name and the node's stat JSON, or why not. */
static int admin_stat(const char *ring_path)
{
    enum { PATH_LEN = 1 + RING_NAME_MAX + sizeof("/stat") };
    node_client_t *client = NULL;
    node_call_t *calls = NULL;
    char(*paths)[PATH_LEN] = NULL;
    ring_t *ring;
    int rc, ret = 1;

    if ((rc = ring_load(ring_path, &ring)) != 0)
        return admin_fail(ring_path, rc);
    size_t n = ring_dev_count(ring);
    client = node_client_new(ADMIN_TIMEOUT_MS, 1);
    calls = calloc(n ? n : 1, sizeof(*calls));
    paths = calloc(n ? n : 1, sizeof(*paths));
    if (!client || !calls || !paths) {
        admin_fail("stat", -ENOMEM);
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        const ring_dev_t *d = ring_dev_at(ring, i);
        snprintf(paths[i], PATH_LEN, "/%s/stat", d->name);
        calls[i] = (node_call_t){.addr = d->addr, .method = "GET", .path = paths[i], .resp_cap = 1 << 16};
    }
    node_call_many(client, calls, n);
    ret = 0;
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
        free(calls[i].resp_body);
    }
    if (ret)
        fprintf(stderr, "onggi-admin: stat: some devices did not answer\n");
out_free:
    free(paths);
    free(calls);
    node_client_free(client);
    ring_free(ring);
    return ret;
}

int main(int argc, char **argv)
{
    gw_cluster_t *cl;
    int rc, ret;

    if (argc < 4 || strcmp(argv[1], "--ring") != 0)
        return admin_usage();
    const char *ring_path = argv[2], *cmd = argv[3];
    if (strcmp(cmd, "stat") == 0)
        return argc == 4 ? admin_stat(ring_path) : admin_usage();
    if (strcmp(cmd, "user-add") != 0 && strcmp(cmd, "user-list") != 0 && strcmp(cmd, "locate") != 0)
        return admin_usage();
    if ((rc = gw_cluster_open(ring_path, ADMIN_TIMEOUT_MS, &cl)) != 0)
        return admin_fail(ring_path, rc);
    if (strcmp(cmd, "user-add") == 0)
        ret = admin_user_add(cl, argc - 4, argv + 4);
    else if (strcmp(cmd, "user-list") == 0)
        ret = argc == 4 ? admin_user_list(cl) : admin_usage();
    else
        ret = argc == 6 ? admin_locate(cl, argv[4], argv[5]) : admin_usage();
    gw_cluster_close(cl);
    return ret;
}
