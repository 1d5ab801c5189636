/*
 * onggi-ring: builds and inspects ring files (see docs/operations.md).
 *
 *   onggi-ring create FILE PART_POWER REPLICAS MIN_PART_HOURS   (also writes FILE.keys, og_keys.h)
 *   onggi-ring add FILE --zone Z --addr IP:PORT --name DEV --weight W
 *   onggi-ring remove FILE ID
 *   onggi-ring set-weight FILE ID WEIGHT
 *   onggi-ring rebalance FILE
 *   onggi-ring pretend-min-part-hours-passed FILE
 *   onggi-ring show FILE
 *   onggi-ring lookup FILE KEY
 *   onggi-ring lookup FILE --part N
 *
 * Every command that changes the ring loads FILE, changes it and saves it atomically; on any
 * error the file is left as it was, a message goes to stderr and the exit status is 1
 * (2 for a usage error).
 */
#include "ring.h"
#include "og_keys.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#define PROG "onggi-ring"
#define EXIT_USAGE 2

/* What a changing sub-command leaves for main: whether to save, and the line to print once
 * the save succeeded (so a printed id or count always refers to a ring on disk). */
typedef struct {
    int dirty;
    char result[32];
} ring_main_out_t;

static const char *ring_main_strerror(int rc)
{
    switch (rc) {
    case RING_EBADFILE:
        return "not a valid ring file (bad magic, version or checksum)";
    case RING_ENODEV:
        return "no such device";
    case RING_ETOOFEW:
        return "fewer devices with weight > 0 than replicas";
    case RING_EDUPDEV:
        return "a device with this addr and name is already in the ring";
    }
    return og_strerror(rc);
}

static int ring_main_usage(void)
{
    fprintf(stderr, "usage:\n"
                    "  " PROG " create FILE PART_POWER REPLICAS MIN_PART_HOURS\n"
                    "  " PROG " add FILE --zone Z --addr IP:PORT --name DEV --weight W\n"
                    "  " PROG " remove FILE ID\n"
                    "  " PROG " set-weight FILE ID WEIGHT\n"
                    "  " PROG " rebalance FILE\n"
                    "  " PROG " pretend-min-part-hours-passed FILE\n"
                    "  " PROG " show FILE\n"
                    "  " PROG " lookup FILE KEY\n"
                    "  " PROG " lookup FILE --part N\n");
    return EXIT_USAGE;
}

/* Reports rc for what (a command and a file) and returns the exit status. */
static int ring_main_fail(const char *what, const char *file, int rc)
{
    fprintf(stderr, PROG ": %s %s: %s\n", what, file, ring_main_strerror(rc));
    return EXIT_FAILURE;
}

/* Parses a whole decimal u32. 0 or OG_EINVAL. */
static int ring_main_u32(const char *s, uint32_t *out)
{
    char *end;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9')
        return OG_EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > UINT32_MAX)
        return OG_EINVAL;
    *out = (uint32_t)v;
    return 0;
}

/* Parses a finite, non-negative weight. 0 or OG_EINVAL. */
static int ring_main_weight(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0)
        return OG_EINVAL;
    *out = v;
    return 0;
}

static int ring_main_arg_error(const char *cmd, const char *what, const char *value)
{
    fprintf(stderr, PROG ": %s: invalid %s '%s'\n", cmd, what, value);
    return EXIT_USAGE;
}

/* The cluster key file is born with the ring (FILE.keys). An existing one is kept: a ring
 * re-created for the same cluster must not change the keys its processes share. */
static int ring_main_create_keys(const char *ring_path)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s.keys", ring_path) >= (int)sizeof(path))
        return ring_main_fail("create", ring_path, OG_ETOOBIG);
    int rc = og_keys_create(path);
    if (rc == OG_EEXIST) {
        fprintf(stderr, PROG ": create: keeping the existing key file %s\n", path);
        return EXIT_SUCCESS;
    }
    return rc == 0 ? EXIT_SUCCESS : ring_main_fail("create", path, rc);
}

static int ring_main_create(int argc, char **argv)
{
    int rc;
    uint32_t part_power, replicas, hours;
    ring_t *ring = NULL;
    struct stat st;

    if (argc != 4)
        return ring_main_usage();
    if (ring_main_u32(argv[1], &part_power) != 0)
        return ring_main_arg_error("create", "PART_POWER", argv[1]);
    if (ring_main_u32(argv[2], &replicas) != 0)
        return ring_main_arg_error("create", "REPLICAS", argv[2]);
    if (ring_main_u32(argv[3], &hours) != 0)
        return ring_main_arg_error("create", "MIN_PART_HOURS", argv[3]);
    /* Overwriting a live ring would throw away every placement; make the operator delete it. */
    if (stat(argv[0], &st) == 0) {
        fprintf(stderr, PROG ": create %s: file exists\n", argv[0]);
        return EXIT_FAILURE;
    }
    if ((rc = ring_create(part_power, replicas, hours, &ring)) != 0) {
        if (rc != OG_EINVAL)
            return ring_main_fail("create", argv[0], rc);
        fprintf(stderr, PROG ": create: part power must be 1..24 and replicas 1..%d\n", RING_MAX_REPLICAS);
        return EXIT_USAGE;
    }
    rc = ring_save(ring, argv[0]);
    ring_free(ring);
    if (rc != 0)
        return ring_main_fail("create", argv[0], rc);
    return ring_main_create_keys(argv[0]);
}

static int ring_main_add(int argc, char **argv, ring_t *ring, ring_main_out_t *out)
{
    int rc;
    uint32_t zone = 0, id;
    const char *addr = NULL, *name = NULL;
    double weight = -1;
    int have_zone = 0;

    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            return ring_main_usage();
        if (strcmp(argv[i], "--zone") == 0) {
            if (ring_main_u32(argv[i + 1], &zone) != 0)
                return ring_main_arg_error("add", "zone", argv[i + 1]);
            have_zone = 1;
        } else if (strcmp(argv[i], "--addr") == 0) {
            addr = argv[i + 1];
        } else if (strcmp(argv[i], "--name") == 0) {
            name = argv[i + 1];
        } else if (strcmp(argv[i], "--weight") == 0) {
            if (ring_main_weight(argv[i + 1], &weight) != 0)
                return ring_main_arg_error("add", "weight", argv[i + 1]);
        } else {
            return ring_main_usage();
        }
    }
    if (!have_zone || addr == NULL || name == NULL || weight < 0)
        return ring_main_usage();
    if (strchr(addr, ':') == NULL)
        return ring_main_arg_error("add", "addr (want IP:PORT)", addr);
    if ((rc = ring_dev_add(ring, zone, addr, name, weight, &id)) != 0) {
        if (rc == OG_EINVAL)
            fprintf(stderr, PROG ": add: addr must be 1..%d and name 1..%d printable characters, name without '/'\n",
                    RING_ADDR_MAX - 1, RING_NAME_MAX - 1);
        return rc == OG_EINVAL ? EXIT_USAGE : ring_main_fail("add", argv[0], rc);
    }
    snprintf(out->result, sizeof(out->result), "%" PRIu32, id);
    out->dirty = 1;
    return EXIT_SUCCESS;
}

static int ring_main_remove(int argc, char **argv, ring_t *ring, ring_main_out_t *out)
{
    int rc;
    uint32_t id;

    if (argc != 2)
        return ring_main_usage();
    if (ring_main_u32(argv[1], &id) != 0)
        return ring_main_arg_error("remove", "ID", argv[1]);
    if ((rc = ring_dev_remove(ring, id)) != 0)
        return ring_main_fail("remove", argv[0], rc);
    out->dirty = 1;
    return EXIT_SUCCESS;
}

static int ring_main_set_weight(int argc, char **argv, ring_t *ring, ring_main_out_t *out)
{
    int rc;
    uint32_t id;
    double weight;

    if (argc != 3)
        return ring_main_usage();
    if (ring_main_u32(argv[1], &id) != 0)
        return ring_main_arg_error("set-weight", "ID", argv[1]);
    if (ring_main_weight(argv[2], &weight) != 0)
        return ring_main_arg_error("set-weight", "WEIGHT", argv[2]);
    if ((rc = ring_dev_set_weight(ring, id, weight)) != 0)
        return ring_main_fail("set-weight", argv[0], rc);
    out->dirty = 1;
    return EXIT_SUCCESS;
}

static int ring_main_rebalance(int argc, char **argv, ring_t *ring, ring_main_out_t *out)
{
    int rc;
    size_t moved = 0;

    if (argc != 1)
        return ring_main_usage();
    if ((rc = ring_rebalance(ring, (int64_t)time(NULL), &moved)) != 0)
        return ring_main_fail("rebalance", argv[0], rc);
    snprintf(out->result, sizeof(out->result), "%zu", moved);
    out->dirty = 1;
    return EXIT_SUCCESS;
}

static int ring_main_pretend(int argc, char **argv, ring_t *ring, ring_main_out_t *out)
{
    (void)argv;
    if (argc != 1)
        return ring_main_usage();
    ring_pretend_min_part_hours_passed(ring);
    out->dirty = 1;
    return EXIT_SUCCESS;
}

static int ring_main_show(int argc, char **argv, const ring_t *ring)
{
    int rc;
    double balance = 0;
    size_t ndev = ring_dev_count(ring);

    if (argc != 1)
        return ring_main_usage();
    printf("%s: part_power %" PRIu32 " (%" PRIu32 " partitions), %" PRIu32 " replicas, %zu devices, epoch %" PRIu64
           "\n",
           argv[0], ring_part_power(ring), (uint32_t)1 << ring_part_power(ring), ring_replica_count(ring), ndev,
           ring_epoch(ring));
    printf("%6s %6s %-22s %-12s %10s %8s %10s %9s\n", "id", "zone", "addr", "name", "weight", "parts", "ideal", "dev%");
    for (size_t i = 0; i < ndev; i++) {
        const ring_dev_t *dev = ring_dev_at(ring, i);
        size_t parts;
        double ideal, dev_pct;
        if ((rc = ring_dev_parts(ring, dev->id, &parts, &ideal)) != 0)
            return ring_main_fail("show", argv[0], rc);
        /* Like swift-ring-builder: a device that should hold nothing but does is 999.99 off. */
        if (ideal > 0)
            dev_pct = ((double)parts - ideal) * 100.0 / ideal;
        else
            dev_pct = parts > 0 ? 999.99 : 0;
        if (fabs(dev_pct) > balance)
            balance = fabs(dev_pct);
        printf("%6" PRIu32 " %6" PRIu32 " %-22s %-12s %10.2f %8zu %10.2f %9.2f\n", dev->id, dev->zone, dev->addr,
               dev->name, dev->weight, parts, ideal, dev_pct);
    }
    printf("balance %.2f%%\n", balance);
    return EXIT_SUCCESS;
}

static void ring_main_print_dev(const char *role, size_t i, const ring_dev_t *dev)
{
    printf("%s %zu: id %" PRIu32 " addr %s name %s zone %" PRIu32 "\n", role, i, dev->id, dev->addr, dev->name,
           dev->zone);
}

static int ring_main_lookup(int argc, char **argv, const ring_t *ring)
{
    const ring_dev_t *prim[RING_MAX_REPLICAS];
    uint32_t part;
    size_t n;

    if (argc == 3 && strcmp(argv[1], "--part") == 0) {
        /* Placement keys that are not text (chunk ids) are looked up by their partition. */
        if (ring_main_u32(argv[2], &part) != 0 || part >> ring_part_power(ring) != 0)
            return ring_main_arg_error("lookup", "partition", argv[2]);
    } else if (argc == 2) {
        part = ring_part(ring, argv[1], strlen(argv[1]));
    } else {
        return ring_main_usage();
    }
    n = ring_primaries(ring, part, prim, RING_MAX_REPLICAS);
    printf("partition %" PRIu32 "\n", part);
    if (n == 0) {
        fprintf(stderr, PROG ": lookup %s: ring has no partitions assigned (run rebalance)\n", argv[0]);
        return EXIT_FAILURE;
    }
    for (size_t i = 0; i < n; i++)
        ring_main_print_dev("primary", i, prim[i]);
    /* As many handoffs as replicas: enough to cover every primary failing at once. */
    for (size_t i = 0; i < ring_replica_count(ring); i++) {
        const ring_dev_t *dev = ring_handoff(ring, part, i);
        if (dev == NULL)
            break;
        ring_main_print_dev("handoff", i, dev);
    }
    return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
    int rc, status;
    ring_main_out_t out = {0, ""};
    const char *cmd;
    ring_t *ring = NULL;

    if (argc < 3)
        return ring_main_usage();
    cmd = argv[1];
    /* Sub-commands see argv starting at FILE. */
    argc -= 2;
    argv += 2;
    if (strcmp(cmd, "create") == 0)
        return ring_main_create(argc, argv);
    if (strcmp(cmd, "add") != 0 && strcmp(cmd, "remove") != 0 && strcmp(cmd, "set-weight") != 0 &&
        strcmp(cmd, "rebalance") != 0 && strcmp(cmd, "show") != 0 && strcmp(cmd, "lookup") != 0 &&
        strcmp(cmd, "pretend-min-part-hours-passed") != 0)
        return ring_main_usage();
    if ((rc = ring_load(argv[0], &ring)) != 0)
        return ring_main_fail(cmd, argv[0], rc);
    if (strcmp(cmd, "add") == 0)
        status = ring_main_add(argc, argv, ring, &out);
    else if (strcmp(cmd, "remove") == 0)
        status = ring_main_remove(argc, argv, ring, &out);
    else if (strcmp(cmd, "set-weight") == 0)
        status = ring_main_set_weight(argc, argv, ring, &out);
    else if (strcmp(cmd, "rebalance") == 0)
        status = ring_main_rebalance(argc, argv, ring, &out);
    else if (strcmp(cmd, "pretend-min-part-hours-passed") == 0)
        status = ring_main_pretend(argc, argv, ring, &out);
    else if (strcmp(cmd, "show") == 0)
        status = ring_main_show(argc, argv, ring);
    else
        status = ring_main_lookup(argc, argv, ring);
    if (status == EXIT_SUCCESS && out.dirty) {
        if ((rc = ring_save(ring, argv[0])) != 0)
            status = ring_main_fail(cmd, argv[0], rc);
        else if (out.result[0] != '\0')
            printf("%s\n", out.result);
    }
    ring_free(ring);
    return status;
}
