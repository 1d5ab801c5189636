/*
 * iam_migrate.c: `onggi-admin migrate-secrets`: every stored secret into its current form
 * (iam.h). Readers upgrade records as they meet them; this walks the tables so that records
 * nobody reads (an unused key) are upgraded too, and re-seals after a `secrets` key rotation so
 * the old key can be dropped from the key file.
 */
#include "iam_int.h"

#include <openssl/crypto.h>

typedef struct {
    iam_t *iam;
    iam_migrate_stats_t *st;
} migrate_t;

/* cluster_table_each callbacks (live records only); a record that fails is counted, not fatal. */
static int migrate_s3_one(void *ctx, og_str_t key, const og_rec_t *rec)
{
    migrate_t *m = ctx;
    iam_t *iam = m->iam;
    iam_migrate_stats_t *st = m->st;
    iam_user_t u;
    int stale;
    if (iam_user_decode(iam, key, rec, &u, &stale) != 0)
        st->failed++;
    else if (!stale)
        st->s3_current++;
    else if (iam_user_store(iam, &u, rec->ts) != 0)
        st->failed++;
    else
        st->s3_rewritten++;
    OPENSSL_cleanse(&u, sizeof(u));
    return 0;
}

static int migrate_swift_one(void *ctx, og_str_t key, const og_rec_t *rec)
{
    migrate_t *m = ctx;
    iam_migrate_stats_t *st = m->st;
    int rewritten;
    if (iam_swift_user_upgrade(m->iam, key, rec, &rewritten) != 0)
        st->failed++;
    else if (rewritten)
        st->swift_rewritten++;
    else
        st->swift_current++;
    return 0;
}

int iam_migrate(iam_t *iam, iam_migrate_stats_t *st)
{
    migrate_t m = {iam, st};
    int rc;
    *st = (iam_migrate_stats_t){0};
    if ((rc = cluster_table_each(iam->cl, IAM_USERS_TABLE, migrate_s3_one, &m)) != 0 ||
        (rc = cluster_table_each(iam->cl, IAM_SWIFT_USERS_TABLE, migrate_swift_one, &m)) != 0)
        return rc;
    return iam_token_key_upgrade(iam, &st->token_key_rewritten);
}
