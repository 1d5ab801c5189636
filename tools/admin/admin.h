/*
 * admin.h (private to tools/admin/): what the onggi-admin command files share.
 */
#ifndef ADMIN_H
#define ADMIN_H

#include "node_client.h"
#include "iam/iam.h"
#include "og.h"
#include "ring.h"

#include <jansson.h>

#define ADMIN_TIMEOUT_MS 5000
/* The configuration file read when neither --config nor $ONGGI_CONFIG names one. */
#define ADMIN_DEFAULT_CONFIG "/etc/onggi/onggi.conf"
/* Default garbage-collection grace: longer than any single upload may take (a 5 GiB PUT over a
 * slow link), plus clock skew between the nodes and the machine running gc. */
#define GC_DEFAULT_GRACE_S (24u * 3600u)

/* What every command gets: the cluster (from --config / $ONGGI_CONFIG / /etc/onggi/onggi.conf or
 * the command line) and the output form. */
typedef struct {
    const char *ring, *keys; /* keys NULL: RING.keys */
    int json;                /* --json: read commands print one JSON document instead of text */
    int watch;               /* set by admin_watch: a report not done yet draws progress instead */
} admin_opts_t;

/* What a report returns under admin_watch while the state it watches is not reached yet. */
#define ADMIN_AGAIN 3

/* Prints the usage text; returns the usage exit code (2). */
int admin_usage(void);
/* Names any error code, the node client's and the ring's included. Never NULL. */
const char *admin_strerror(int rc);
/* Prints "onggi-admin: what: error" to stderr; returns exit code 1. */
int admin_fail(const char *what, int rc);

/* Prints j (taken: freed here) on stdout, indented, and a newline. 0, or 1 after saying why
 * (admin_out.c). */
int admin_json_print(json_t *j);
/* The text form of a flat JSON object: " name<sep>value" for each member after the first `skip`
 * (reals as %.3f, null as none, booleans as yes/no), then a newline. */
void admin_print_fields(json_t *obj, const char *sep, size_t skip);
/* Progress of a long operation on one line of the terminal ("\rwhat [####    ] 40% done/total"):
 * only when stdout is a terminal and the output is not JSON, so pipes and scripts never see it.
 * admin_progress_end clears the line before the next output. */
void admin_progress(const admin_opts_t *a, const char *what, uint64_t done, uint64_t total);
void admin_progress_end(const admin_opts_t *a);

/* Sends GET /<dev><suffix> (suffix under 16 bytes) to every device of the ring in one parallel
 * round, then returns report(a, ring, calls, n), calls[i] being ring_dev_at(ring, i)'s answer
 * (freed afterwards). 1 after saying why (what names the command) when the ring cannot be loaded
 * or memory runs out. */
int admin_each_dev(const admin_opts_t *a, const char *what, const char *suffix,
                   int (*report)(const admin_opts_t *a, const ring_t *ring, const node_call_t *calls, size_t n));

/* A report command with optional `--watch [--interval S] [--timeout S]` (argv): without it, one
 * admin_each_dev round. With it, rounds every S seconds (default 2) while report returns
 * ADMIN_AGAIN (drawing its progress line), until it reports the final state (its exit code) or
 * the timeout passes (default 3600 s; the last state is printed and the exit code is 1). */
int admin_watch(const admin_opts_t *a, const char *what, const char *suffix,
                int (*report)(const admin_opts_t *a, const ring_t *ring, const node_call_t *calls, size_t n), int argc,
                char **argv);

/* The replication figures of one round of GET /<dev>/summaries answers (calls[i] for device i):
 * per device (t: n zeroed entries) and in total (admin_repl.c). */
typedef struct {
    uint64_t disagree, missing, handoff;
} admin_dev_tally_t;
typedef struct {
    uint64_t parts, disagree, unknown, under;
} admin_repl_total_t;
void admin_repl_tally(const ring_t *ring, const node_call_t *calls, size_t n, admin_dev_tally_t *t,
                      admin_repl_total_t *tot);

/* onggi-admin status: nodes, devices, health and the under-replicated count (admin_status.c).
 * Exit code 0 when healthy, 1 otherwise (the report is printed either way), 2 on a usage error. */
int admin_status(const admin_opts_t *a, int argc, char **argv);
/* onggi-admin gc [--grace SECONDS] [--dry-run]: mark and sweep (admin_gc.c). Exit code: 0 when
 * the mark completed and every device was swept, 1 otherwise (nothing is deleted when the mark
 * is incomplete), 2 on a usage error. */
int admin_gc(const admin_opts_t *a, int argc, char **argv);
/* onggi-admin stats [--account A]: logical vs unique vs physical bytes. Exit code as admin_gc. */
int admin_stats(const admin_opts_t *a, int argc, char **argv);
/* onggi-admin replication: per device and in total, the partitions whose primaries disagree and
 * an estimate of under-replicated items (admin_repl.c). Exit code 0, 1 when a device did not
 * answer, 2 on a usage error. */
int admin_replication(const admin_opts_t *a, int argc, char **argv);
/* onggi-admin ring push: sends the ring file to every node (admin_ring.c). Exit code 0 when every
 * node took it or already used it, 1 otherwise, 2 on a usage error. */
int admin_ring_push(const admin_opts_t *a, int argc, char **argv);
/* onggi-admin rebalance [--watch ...]: the data move after a ring change, per device and in total
 * (admin_watch). Exit code 0,
 * 1 when a device did not answer, 2 on a usage error. */
int admin_rebalance(const admin_opts_t *a, int argc, char **argv);
/* onggi-admin scrub [--watch ...]: every device's scrubber state (admin_scrub.c). Exit code 0,
 * 1 when a device did not answer, 2 on a usage error. */
int admin_scrub(const admin_opts_t *a, int argc, char **argv);
/* A quota option's value v (opt names it): *out = v for a byte or object count, NULL for 0, `none`
 * or empty (the quota is removed). 0, or the usage exit code 2 after saying why (admin_usage.c). */
int admin_quota_arg(const char *opt, const char *v, const char **out);
/* Creates account `name`'s record or keeps it; with set_quota its X-Account-Meta-Quota-Bytes
 * becomes quota (NULL: removed), other metadata kept. Exit code 0, or 1 after saying why. */
int admin_account_store(cluster_t *cl, const char *name, int set_quota, const char *quota);
/* onggi-admin quota-set --account A --bytes N | [--account A] --bucket B [--bytes N] [--count N]
 * (with --account: that account's container B). Exit code 0,
 * 1 on a cluster error (a bucket that does not exist included), 2 on a usage error. */
int admin_quota_set(cluster_t *cl, int argc, char **argv);
/* onggi-admin bucket-list [--account A]: every bucket with its owner, creation time, objects and
 * bytes. Exit code 0, 1 on a cluster error, 2 on a usage error. */
int admin_bucket_list(const admin_opts_t *o, cluster_t *cl, int argc, char **argv);
/* onggi-admin usage [--account A] [--bucket B]: objects, bytes (and buckets) against the quotas,
 * of one bucket (with --account: that account's container), one account or every account. Exit code as admin_bucket_list. */
int admin_usage_cmd(const admin_opts_t *o, cluster_t *cl, int argc, char **argv);
/* A node client signing with the cluster key file (keys_path, or NULL for ring_path + ".keys");
 * NULL after saying why on stderr. Free with node_client_free. */
node_client_t *admin_client_new(const char *ring_path, const char *keys_path, size_t max_idle);
/* Opens IAM on cl with the secrets keys of keys_path (NULL: the ring's RING.keys). 0, or exit code
 * 1 after saying why (admin_iam.c). */
int admin_iam_open(cluster_t *cl, const char *ring_path, const char *keys_path, iam_t **iam);
/* onggi-admin migrate-secrets: iam_migrate, with a one-line summary. Exit code 0, or 1 when a
 * record or the walk failed. */
int admin_migrate_secrets(iam_t *iam);

/* onggi-admin lifecycle [--dry-run] [--rate N] [--max N] [--every S] [--day-seconds S]: the S3
 * lifecycle worker (admin_lc.c): one pass (or one every S seconds, forever) over the buckets with a
 * lifecycle configuration, at most N actions per second and per pass. Exit code 0, 1 when an action
 * or a walk failed (the other buckets are still done), 2 on a usage error. */
int admin_lifecycle(struct st_cluster_t *cl, int argc, char **argv);
/* onggi-admin lifecycle-status: the figures of the last pass. 0, 1 when none ran or on an error. */
int admin_lifecycle_status(const admin_opts_t *o, struct st_cluster_t *cl);

#endif
