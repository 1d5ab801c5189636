/*
 * admin_iam.c: onggi-admin's IAM handle (with the cluster key file's secrets keys) and
 * `migrate-secrets` (docs/operations.md, "Secrets at rest").
 */
#include "admin.h"

#include "iam/iam.h"
#include "og_keys.h"

#include <inttypes.h>
#include <stdio.h>

int admin_iam_open(cluster_t *cl, const char *ring_path, const char *keys_path, iam_t **iam)
{
    og_keys_t keys;
    int rc = og_keys_load_for(keys_path, ring_path, &keys);
    if (rc != 0)
        return admin_fail("cluster key file (--keys)", rc);
    rc = iam_open(cl, &keys, iam);
    og_keys_wipe(&keys);
    return rc ? admin_fail("iam (the key file needs a `secrets` key)", rc) : 0;
}

int admin_migrate_secrets(iam_t *iam)
{
    iam_migrate_stats_t st;
    int rc = iam_migrate(iam, &st);
    printf("s3 keys: %" PRIu64 " resealed, %" PRIu64 " current; swift users: %" PRIu64 " hashed, %" PRIu64
           " current; token key: %s; %" PRIu64 " failed\n",
           st.s3_rewritten, st.s3_current, st.swift_rewritten, st.swift_current,
           st.token_key_rewritten ? "resealed" : "current", st.failed);
    if (rc != 0)
        return admin_fail("migrate-secrets", rc);
    return st.failed ? 1 : 0;
}
