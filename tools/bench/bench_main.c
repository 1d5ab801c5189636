/*
 * bench_main.c: command line of onggi-bench, an S3 load generator.
 *
 *   onggi-bench --endpoint http://127.0.0.1:9000 --access-key K --secret-key S --bucket B
 *               --workload put|get|delete|stat|list|mixed [--size 4KiB] [--conns 16]
 *               [--count N] [--duration SECONDS] [--keys seq|random] [--prefix P]
 *               [--objects N] [--mixed 45,30,15,10] [--threads N] [--timeout SECONDS]
 *               [--verify] [--json] [--first N] [--dirs N]
 *               [--delimiter D] [--start-after KEY] [--pages N]
 *               [--rate-per-conn BYTES/S] [--ramp SECONDS] [--bind IP[,IP...]] [--chunked]
 *   onggi-bench --selftest-hash [--json]
 *
 * Keys are PREFIX + "obj-%08d", or with --dirs D PREFIX + "dir%04u/obj%09u" where key k lies in
 * directory k % D. With --keys seq a PUT of --count N writes keys --first .. --first+N-1 (key
 * numbers start at --first, default 0, so a fill can go on where the last run stopped), and
 * GET/STAT/DELETE cycle over the --objects key space (default --count), so phases chain. The list
 * workload has each connection (default 1) list the bucket once, ListObjectsV2 pages of 1000 with
 * delimiter "/" (--delimiter '' for none) from the first key (or after --start-after); with
 * --pages N each connection reads N pages instead, starting again from its start at the end.
 * Every request is signed with SigV4 and UNSIGNED-PAYLOAD.
 *
 * Slow uploads (the CCTV case, tools/slow-bench.py): --rate-per-conn R sends each PUT body at R
 * bytes/s (a slice every BENCH_PACE_MS), --ramp S starts the connections evenly over S seconds,
 * --bind spreads them over source addresses (a server caps connections per address), --chunked
 * sends the bodies with Transfer-Encoding: chunked (a chunk per slice), and --verify on PUT
 * checks that each answer's ETag is the MD5 of the bytes sent.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <strings.h>

#include "bench.h"

static void usage(FILE *f)
{
    fputs("usage: onggi-bench --endpoint http://HOST:PORT --access-key K --secret-key S --bucket NAME\n"
          "         --workload put|get|delete|stat|list|mixed [--size 4KiB] [--conns 16] [--count N]\n"
          "         [--duration SECONDS] [--keys seq|random] [--prefix P] [--objects N]\n"
          "         [--mixed GET,PUT,STAT,DELETE percentages, default 45,30,15,10] [--region us-east-1]\n"
          "         [--threads N] [--timeout SECONDS (inactivity, default 60)] [--verify] [--json]\n"
          "         [--first N] [--dirs N] [--delimiter D (list, default /)] [--start-after KEY] [--pages N]\n"
          "         [--rate-per-conn BYTES/S] [--ramp SECONDS] [--bind IP[,IP...]] [--chunked]\n"
          "       onggi-bench --selftest-hash [--json]\n",
          f);
}

/* "4KiB", "1MiB", "256m", "1G", "4096": binary multiples. 0 or OG_EINVAL. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return OG_EINVAL;
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {{"", 1},           {"b", 1},           {"k", 1ull << 10}, {"kb", 1ull << 10}, {"kib", 1ull << 10},
                 {"m", 1ull << 20}, {"mb", 1ull << 20}, {"mib", 1ull << 20}, {"g", 1ull << 30}, {"gb", 1ull << 30},
                 {"gib", 1ull << 30}, {"t", 1ull << 40}, {"tib", 1ull << 40}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            *out = (uint64_t)(v * (double)units[i].mult + 0.5);
            return 0;
        }
    }
    return OG_EINVAL;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-')
        return OG_EINVAL;
    *out = v;
    return 0;
}

/* "http://host:port" into the Host header value and a resolved address. 0 or OG_EINVAL. */
static int parse_endpoint(const char *url, bench_config_t *cfg)
{
    const char *p = url;
    char host[256], port[16] = "80";
    if (strncmp(p, "http://", 7) != 0)
        return OG_EINVAL; /* https would need TLS on every connection: not a storage benchmark */
    p += 7;
    size_t hl = strcspn(p, "/");
    if (hl == 0 || hl >= sizeof(cfg->host))
        return OG_EINVAL;
    memcpy(cfg->host, p, hl);
    cfg->host[hl] = '\0';
    const char *colon = strrchr(cfg->host, ':');
    const char *hb = cfg->host, *he = colon ? colon : cfg->host + hl;
    if (colon) {
        size_t pl = hl - (size_t)(colon + 1 - cfg->host);
        if (pl == 0 || pl >= sizeof(port))
            return OG_EINVAL;
        memcpy(port, colon + 1, pl);
        port[pl] = '\0';
    }
    if (*hb == '[' && he > hb + 1 && he[-1] == ']') { /* [::1]:9000 */
        hb++;
        he--;
    }
    if ((size_t)(he - hb) >= sizeof(host))
        return OG_EINVAL;
    memcpy(host, hb, (size_t)(he - hb));
    host[he - hb] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return OG_EINVAL;
    memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
    cfg->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* "127.0.0.2,127.0.0.3": numeric source addresses for --bind, at most BENCH_BIND_MAX. 0 or OG_EINVAL. */
static int parse_bind(const char *s, bench_config_t *cfg)
{
    char ip[64];
    cfg->nbind = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        if (n == 0 || n >= sizeof(ip) || cfg->nbind == BENCH_BIND_MAX)
            return OG_EINVAL;
        memcpy(ip, s, n);
        ip[n] = '\0';
        struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM}, *res;
        if (getaddrinfo(ip, NULL, &hints, &res) != 0)
            return OG_EINVAL;
        memcpy(&cfg->bind_addr[cfg->nbind], res->ai_addr, res->ai_addrlen);
        cfg->bind_len[cfg->nbind++] = res->ai_addrlen;
        freeaddrinfo(res);
        s += n + (s[n] == ',');
    }
    return cfg->nbind > 0 ? 0 : OG_EINVAL;
}

static int parse_workload(const char *s, bench_workload_t *out)
{
    for (int i = BENCH_WL_PUT; i <= BENCH_WL_MIXED; i++) {
        if (strcmp(s, bench_workload_name((bench_workload_t)i)) == 0) {
            *out = (bench_workload_t)i;
            return 0;
        }
    }
    return OG_EINVAL;
}

static int parse_mixed(const char *s, unsigned pct[4])
{
    unsigned sum = 0;
    for (int i = 0; i < 4; i++) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s || v > 100 || (i < 3 ? *end != ',' : *end != '\0'))
            return OG_EINVAL;
        pct[i] = (unsigned)v;
        sum += pct[i];
        s = end + 1;
    }
    return sum == 100 ? 0 : OG_EINVAL;
}

/* MiB/s of one digest over 16 KiB blocks for about a second. 0 or -ENOMEM / OG_EINVAL. */
static int hash_speed(const EVP_MD *md, const unsigned char *buf, size_t len, double *mib_s)
{
    int rc = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char out[EVP_MAX_MD_SIZE];
    uint64_t bytes = 0, t0 = og_mono_ms(), t;
    if (!ctx)
        return -ENOMEM;
    do {
        for (int i = 0; i < 256; i++) {
            if (!EVP_DigestInit_ex(ctx, md, NULL) || !EVP_DigestUpdate(ctx, buf, len) ||
                !EVP_DigestFinal_ex(ctx, out, NULL)) {
                rc = OG_EINVAL;
                goto out_free_ctx;
            }
            bytes += len;
        }
        t = og_mono_ms();
    } while (t - t0 < 1000);
    *mib_s = (double)bytes / (1024.0 * 1024.0) / ((double)(t - t0) / 1000.0);
out_free_ctx:
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* --selftest-hash: the per-core cost of hashing a PUT body (S3 ETag MD5 + SHA-256), which
 * bounds what one core can ingest whatever the disks do. */
static int selftest_hash(int json)
{
    static unsigned char buf[16384];
    double md5, sha;
    int rc;
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    if ((rc = hash_speed(EVP_md5(), buf, sizeof(buf), &md5)) != 0 ||
        (rc = hash_speed(EVP_sha256(), buf, sizeof(buf), &sha)) != 0) {
        fprintf(stderr, "onggi-bench: hash self-test failed: %s\n", og_strerror(rc));
        return 1;
    }
    double both = 1.0 / (1.0 / md5 + 1.0 / sha);
    if (json)
        printf("{\"md5_mib_per_s\":%.1f,\"sha256_mib_per_s\":%.1f,\"md5_sha256_mib_per_s\":%.1f}\n", md5, sha, both);
    else
        printf("one core, 16 KiB blocks: md5 %.1f MiB/s, sha256 %.1f MiB/s, md5+sha256 %.1f MiB/s\n", md5, sha, both);
    return 0;
}

enum {
    O_ENDPOINT = 256, O_ACCESS, O_SECRET, O_REGION, O_BUCKET, O_WORKLOAD, O_SIZE, O_CONNS, O_COUNT,
    O_DURATION, O_KEYS, O_PREFIX, O_MIXED, O_JSON, O_THREADS, O_OBJECTS, O_TIMEOUT, O_VERIFY, O_SELFTEST,
    O_FIRST, O_DIRS, O_DELIMITER, O_START_AFTER, O_PAGES, O_RATE, O_RAMP, O_BIND, O_CHUNKED, O_HELP
};
static const struct option long_opts[] = {
    {"endpoint", required_argument, NULL, O_ENDPOINT}, {"access-key", required_argument, NULL, O_ACCESS},
    {"secret-key", required_argument, NULL, O_SECRET}, {"region", required_argument, NULL, O_REGION},
    {"bucket", required_argument, NULL, O_BUCKET},     {"workload", required_argument, NULL, O_WORKLOAD},
    {"size", required_argument, NULL, O_SIZE},         {"conns", required_argument, NULL, O_CONNS},
    {"count", required_argument, NULL, O_COUNT},       {"duration", required_argument, NULL, O_DURATION},
    {"keys", required_argument, NULL, O_KEYS},         {"prefix", required_argument, NULL, O_PREFIX},
    {"mixed", required_argument, NULL, O_MIXED},       {"json", no_argument, NULL, O_JSON},
    {"threads", required_argument, NULL, O_THREADS},   {"objects", required_argument, NULL, O_OBJECTS},
    {"timeout", required_argument, NULL, O_TIMEOUT},   {"verify", no_argument, NULL, O_VERIFY},
    {"selftest-hash", no_argument, NULL, O_SELFTEST},  {"help", no_argument, NULL, O_HELP},
    {"first", required_argument, NULL, O_FIRST},       {"dirs", required_argument, NULL, O_DIRS},
    {"delimiter", required_argument, NULL, O_DELIMITER}, {"start-after", required_argument, NULL, O_START_AFTER},
    {"pages", required_argument, NULL, O_PAGES},       {"rate-per-conn", required_argument, NULL, O_RATE},
    {"ramp", required_argument, NULL, O_RAMP},         {"bind", required_argument, NULL, O_BIND},
    {"chunked", no_argument, NULL, O_CHUNKED},
    {NULL, 0, NULL, 0}};

/* What the command line says besides cfg. */
typedef struct {
    const char *endpoint;
    int selftest, have_workload, have_conns;
} bench_args_t;

/* Sets the option opt (one of O_*) from its argument. 1 when the value is bad, 0 if not. */
static int parse_opt(int opt, const char *arg, bench_config_t *cfg, bench_args_t *a)
{
    uint64_t v;
    char *end;
    switch (opt) {
    case O_ENDPOINT: a->endpoint = arg; return 0;
    case O_ACCESS: cfg->access_key = arg; return 0;
    case O_SECRET: cfg->secret_key = arg; return 0;
    case O_REGION: cfg->region = arg; return 0;
    case O_BUCKET: cfg->bucket = arg; return 0;
    case O_PREFIX: cfg->prefix = arg; return 0;
    case O_WORKLOAD: a->have_workload = 1; return parse_workload(arg, &cfg->workload) != 0;
    case O_SIZE: return parse_size(arg, &cfg->size) != 0;
    case O_COUNT: return parse_u64(arg, &cfg->count) != 0;
    case O_OBJECTS: return parse_u64(arg, &cfg->objects) != 0;
    case O_MIXED: return parse_mixed(arg, cfg->mixed) != 0;
    case O_JSON: cfg->json = 1; return 0;
    case O_VERIFY: cfg->verify = 1; return 0;
    case O_CHUNKED: cfg->chunked = 1; return 0;
    case O_SELFTEST: a->selftest = 1; return 0;
    case O_FIRST: return parse_u64(arg, &cfg->first) != 0;
    case O_PAGES: return parse_u64(arg, &cfg->pages) != 0;
    case O_RATE: return parse_size(arg, &cfg->rate) != 0;
    case O_BIND: return parse_bind(arg, cfg) != 0;
    case O_DELIMITER: cfg->delimiter = arg; return strlen(arg) > 16; /* a directory separator, not a key */
    case O_START_AFTER: cfg->start_after = arg; return strlen(arg) > 250; /* list_query encodes it in 768 B */
    case O_DIRS: /* dir%04u: more directories would break the names' sort order */
        cfg->dirs = (unsigned)(parse_u64(arg, &v) == 0 && v <= 10000 ? v : 10001);
        return cfg->dirs > 10000;
    case O_KEYS:
        cfg->random_keys = strcmp(arg, "random") == 0;
        return !cfg->random_keys && strcmp(arg, "seq") != 0;
    case O_CONNS:
    case O_THREADS: {
        int bad = parse_u64(arg, &v) || v == 0 || v > 100000;
        *(opt == O_CONNS ? &cfg->conns : &cfg->threads) = (unsigned)v;
        a->have_conns |= opt == O_CONNS;
        return bad;
    }
    default: { /* O_DURATION, O_TIMEOUT, O_RAMP */
        double d = strtod(arg, &end);
        int bad = end == arg || *end || d < 0 || d > 1e7;
        if (opt == O_DURATION)
            cfg->duration = d;
        else if (opt == O_RAMP)
            cfg->ramp = d;
        else
            cfg->timeout_ms = d >= 0.001 ? (unsigned)(d * 1000.0) : 1;
        return bad;
    }
    }
}

/* Parses the command line into cfg and a. -1 to go on, else the status to exit with at once
 * (0 after --help, 2 on a usage error, said on stderr). */
static int parse_args(int argc, char **argv, bench_config_t *cfg, bench_args_t *a)
{
    int opt;
    while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (opt == O_HELP) {
            usage(stdout);
            return 0;
        }
        if (opt < O_ENDPOINT || opt > O_HELP) {
            usage(stderr);
            return 2;
        }
        if (parse_opt(opt, optarg, cfg, a)) {
            const struct option *o = long_opts;
            while (o->val != opt)
                o++;
            fprintf(stderr, "onggi-bench: bad value '%s' for --%s\n", optarg, o->name);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* Checks that a run is fully described and fills in what follows from the rest. 0, or 2 after
 * saying what is wrong on stderr. */
static int config_finish(bench_config_t *cfg, const bench_args_t *a)
{
    if (!a->have_workload || !cfg->bucket || !cfg->access_key || !cfg->secret_key) {
        fputs("onggi-bench: --workload, --bucket, --access-key and --secret-key are required\n", stderr);
        usage(stderr);
        return 2;
    }
    if (parse_endpoint(a->endpoint, cfg) != 0) {
        fprintf(stderr, "onggi-bench: cannot use endpoint '%s' (want http://HOST:PORT)\n", a->endpoint);
        return 2;
    }
    for (unsigned i = 0; i < cfg->nbind; i++) {
        if (cfg->bind_addr[i].ss_family != cfg->addr.ss_family) {
            fputs("onggi-bench: --bind addresses must be of the endpoint's family\n", stderr);
            return 2;
        }
    }
    if (cfg->count == 0 && cfg->duration == 0 && cfg->workload != BENCH_WL_LIST) {
        fputs("onggi-bench: give --count or --duration (or both): runs are always bounded\n", stderr);
        return 2;
    }
    /* Sequential PUTs without a key space simply number their keys; everything else needs one. */
    if (cfg->objects == 0 && !(cfg->workload == BENCH_WL_PUT && !cfg->random_keys))
        cfg->objects = cfg->count ? cfg->count : 10000;
    if (cfg->workload == BENCH_WL_LIST) {
        cfg->size = 0;
        /* Each connection lists the whole bucket once: one listing unless asked for more. */
        if (!a->have_conns)
            cfg->conns = 1;
    }
    return 0;
}

/* Creates the bucket if needed, runs the workload and prints the report. The exit status: 0 when
 * at least one request succeeded. */
static int bench(bench_config_t *cfg)
{
    bench_stats_t *st = malloc(sizeof(*st));
    double el = 0;
    int rc, status = 1;
    if (!st) {
        fputs("onggi-bench: out of memory\n", stderr);
        return 1;
    }
    /* Create the bucket if it is missing; an existing bucket of ours is fine too. */
    if ((rc = bench_run(cfg, 1, 1, st, &el)) != 0) {
        fprintf(stderr, "onggi-bench: %s\n", og_strerror(rc));
        goto out_free_stats;
    }
    if (st->op[BENCH_OP_MKBUCKET].ok != 1) {
        fprintf(stderr, "onggi-bench: could not create bucket %s\n", cfg->bucket);
        cfg->json = 0;
        bench_report(stderr, cfg, st, el);
        goto out_free_stats;
    }
    if ((rc = bench_run(cfg, 0, 0, st, &el)) != 0) {
        fprintf(stderr, "onggi-bench: %s\n", og_strerror(rc));
        goto out_free_stats;
    }
    bench_report(stdout, cfg, st, el);
    uint64_t ok = 0;
    for (int i = 0; i < BENCH_OP_COUNT; i++)
        ok += st->op[i].ok;
    status = ok > 0 ? 0 : 1; /* a run where nothing succeeded is a failed run, for scripts */
out_free_stats:
    free(st);
    return status;
}

int main(int argc, char **argv)
{
    bench_config_t cfg = {.region = "us-east-1", .prefix = "", .delimiter = "/", .start_after = "", .size = 4096, .conns = 16, .threads = 1,
                          .timeout_ms = 60000, .mixed = {45, 30, 15, 10}};
    bench_args_t a = {.endpoint = "http://127.0.0.1:9000"};
    int status;

    if ((status = parse_args(argc, argv, &cfg, &a)) >= 0)
        return status;
    if (a.selftest)
        return selftest_hash(cfg.json);
    if ((status = config_finish(&cfg, &a)) != 0)
        return status;
    return bench(&cfg);
}
