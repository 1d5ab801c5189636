/*
 * test_og_conf.c: og_conf_load, one option table for the command line and the configuration
 * file: defaults kept, file values, the command line winning, lists, flags, numbers and their
 * ranges, [cluster] keys, other programs' sections skipped, and every error naming FILE:LINE.
 */
#include "og.h"
#include "og_conf.h"

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *ring, *keys, *listen;
    size_t workers;
    uint64_t rate;
    double interval;
    int verbose;
    og_conf_list_t certs;
} t_opts_t;

static const og_conf_opt_t t_table[] = {
    {"ring", OG_CONF_STR, offsetof(t_opts_t, ring), 0, 0, "FILE", OG_CONF_CLUSTER | OG_CONF_REQUIRED},
    {"keys", OG_CONF_STR, offsetof(t_opts_t, keys), 0, 0, "FILE", OG_CONF_CLUSTER},
    {"listen", OG_CONF_STR, offsetof(t_opts_t, listen), 0, 0, "IP:PORT", 0},
    {"workers", OG_CONF_SIZE, offsetof(t_opts_t, workers), 1, 4096, "N", 0},
    {"rate", OG_CONF_U64, offsetof(t_opts_t, rate), 0, 1e12, "N", 0},
    {"interval", OG_CONF_NUM, offsetof(t_opts_t, interval), 0, 86400, "S", 0},
    {"verbose", OG_CONF_FLAG, offsetof(t_opts_t, verbose), 0, 0, NULL, 0},
    {"cert", OG_CONF_LIST, offsetof(t_opts_t, certs), 0, 0, "FILE", 0},
};

static const og_conf_spec_t t_spec = {"onggi-test", "gateway", t_table, sizeof(t_table) / sizeof(t_table[0]), 0,
                                      NULL, NULL};

static char t_path[64];

/* Writes text to a fresh temporary file named in t_path. */
static void t_file(const char *text)
{
    strcpy(t_path, "/tmp/og_conf_test_XXXXXX");
    int fd = mkstemp(t_path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* og_conf_load with argv (NULL-terminated, argv[0] added) into *o, which starts at the defaults. */
static int t_load(const og_conf_spec_t *spec, t_opts_t *o, og_conf_t **conf, char *err, const char **args)
{
    char *argv[32] = {"prog"};
    int argc = 1, next;
    while (args[argc - 1] != NULL)
        argv[argc] = (char *)args[argc - 1], argc++;
    *o = (t_opts_t){.workers = 128, .interval = 30};
    return og_conf_load(spec, argc, argv, o, conf, &next, err, 512);
}

static void t_cleanup(og_conf_t *conf)
{
    og_conf_free(conf);
    if (t_path[0])
        unlink(t_path);
    t_path[0] = '\0';
}

Test(og_conf, command_line_only_keeps_defaults)
{
    t_opts_t o;
    og_conf_t *conf;
    char err[512];
    const char *args[] = {"--ring", "r.bin", "--verbose", "--cert", "a", "--cert", "b", NULL};
    cr_assert_eq(t_load(&t_spec, &o, &conf, err, args), 0, "%s", err);
    cr_assert_str_eq(o.ring, "r.bin");
    cr_assert_null(o.keys);
    cr_assert_eq(o.workers, 128);
    cr_assert_eq(o.interval, 30);
    cr_assert_eq(o.verbose, 1);
    cr_assert_eq(o.certs.n, 2);
    cr_assert_str_eq(o.certs.v[1], "b");
    cr_assert_null(og_conf_path(conf));
    t_cleanup(conf);
}

Test(og_conf, file_values_and_command_line_wins)
{
    t_opts_t o;
    og_conf_t *conf;
    char err[512];
    t_file("# a comment\n[cluster]\nring = /etc/onggi/ring.bin\nkeys = /etc/onggi/ring.bin.keys\n\n"
           "[node]\nlisten = 10.0.0.1:7001\nbogus = ignored, another program's section\n"
           "[gateway]\nlisten = 10.0.0.9:9000 ; inline comment\nworkers = 64\nrate = 1000000\n"
           "interval = 0.5\nverbose = yes\ncert = /a.pem\ncert = /b.pem\n");
    const char *args[] = {"--config", t_path, "--workers", "8", "--cert", "/c.pem", NULL};
    cr_assert_eq(t_load(&t_spec, &o, &conf, err, args), 0, "%s", err);
    cr_assert_str_eq(o.ring, "/etc/onggi/ring.bin");
    cr_assert_str_eq(o.keys, "/etc/onggi/ring.bin.keys");
    cr_assert_str_eq(o.listen, "10.0.0.9:9000");
    cr_assert_eq(o.workers, 8, "the command line overrides the file");
    cr_assert_eq(o.rate, 1000000);
    cr_assert_eq(o.interval, 0.5);
    cr_assert_eq(o.verbose, 1);
    cr_assert_eq(o.certs.n, 1, "a list on the command line replaces the file's");
    cr_assert_str_eq(o.certs.v[0], "/c.pem");
    cr_assert_str_eq(og_conf_path(conf), t_path);
    t_cleanup(conf);
}

Test(og_conf, file_list_kept_without_command_line)
{
    t_opts_t o;
    og_conf_t *conf;
    char err[512];
    t_file("[gateway]\nring = r\ncert = /a.pem\ncert = /b.pem\nverbose = off\n");
    const char *args[] = {"--config", t_path, NULL};
    cr_assert_eq(t_load(&t_spec, &o, &conf, err, args), 0, "%s", err);
    cr_assert_eq(o.certs.n, 2);
    cr_assert_str_eq(o.certs.v[0], "/a.pem");
    cr_assert_eq(o.verbose, 0);
    t_cleanup(conf);
}

/* Loads `text` as the config file and expects OG_EINVAL with `want` in the message. */
static void t_expect_error(const char *text, const char *want)
{
    t_opts_t o;
    og_conf_t *conf;
    char err[512];
    t_file(text);
    const char *args[] = {"--config", t_path, NULL};
    cr_assert_eq(t_load(&t_spec, &o, &conf, err, args), OG_EINVAL, "accepted: %s", text);
    cr_assert_null(conf);
    cr_assert(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
    t_cleanup(NULL);
}

Test(og_conf, file_errors_name_file_and_line)
{
    t_expect_error("[gateway]\nring = r\nlisen = 1.2.3.4:5\n", ":3: unknown key 'lisen' in [gateway]");
    t_expect_error("[cluster]\nring = r\nlisten = 1.2.3.4:5\n", ":3: unknown key 'listen' in [cluster]");
    t_expect_error("[gatway]\nring = r\n", ":1: unknown section [gatway]");
    t_expect_error("[gateway]\nring = r\nworkers = 0\n", ":3: workers: '0' is not a number from 1 to 4096");
    t_expect_error("[gateway]\nring = r\nworkers = 12x\n", ":3: workers: '12x'");
    t_expect_error("[gateway]\nring = r\nrate = -1\n", ":3: rate");
    t_expect_error("[gateway]\nring = r\ninterval = nan\n", ":3: interval");
    t_expect_error("[gateway]\nring = r\nverbose = maybe\n", ":3: verbose: 'maybe' is not true or false");
    t_expect_error("[gateway]\nring = a\nring = b\n", ":3: ring is set twice");
    t_expect_error("[gateway]\nring = r\njust words\n", ":3: not `key = value`");
    t_expect_error("ring = r\n", ":1: 'ring' is outside any [section]");
    t_expect_error("[gateway]\nlisten = 1.2.3.4:5\n", "--ring is required");
}

Test(og_conf, error_carries_the_real_path)
{
    t_opts_t o;
    og_conf_t *conf;
    char err[512], want[128];
    t_file("[gateway]\n\nnope = 1\n");
    snprintf(want, sizeof(want), "%s:3: ", t_path);
    const char *args[] = {"--config", t_path, NULL};
    cr_assert_eq(t_load(&t_spec, &o, &conf, err, args), OG_EINVAL);
    cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
    t_cleanup(NULL);
}

Test(og_conf, long_line_refused)
{
    char text[600];
    memset(text, 'x', sizeof(text));
    memcpy(text, "[gateway]\nring = ", 17);
    text[sizeof(text) - 2] = '\n';
    text[sizeof(text) - 1] = '\0';
    t_expect_error(text, ":2: line longer than");
}

Test(og_conf, command_line_errors)
{
    t_opts_t o;
    og_conf_t *conf;
    char err[512];
    const char *unknown[] = {"--ring", "r", "--nope", "1", NULL};
    cr_assert_eq(t_load(&t_spec, &o, &conf, err, unknown), OG_EINVAL);
    cr_assert(strstr(err, "unknown option --nope") != NULL, "%s", err);
    const char *noval[] = {"--ring", NULL};
    cr_assert_eq(t_load(&t_spec, &o, &conf, err, noval), OG_EINVAL);
    cr_assert(strstr(err, "--ring needs a value") != NULL, "%s", err);
    const char *range[] = {"--ring", "r", "--workers", "5000", NULL};
    cr_assert_eq(t_load(&t_spec, &o, &conf, err, range), OG_EINVAL);
    const char *extra[] = {"--ring", "r", "stray", NULL};
    cr_assert_eq(t_load(&t_spec, &o, &conf, err, extra), OG_EINVAL);
    cr_assert(strstr(err, "unexpected argument 'stray'") != NULL, "%s", err);
    const char *missing[] = {"--config", "/nonexistent/onggi.conf", NULL};
    cr_assert_lt(t_load(&t_spec, &o, &conf, err, missing), 0);
    cr_assert(strstr(err, "/nonexistent/onggi.conf") != NULL, "%s", err);
    const char *help[] = {"--help", NULL};
    cr_assert_eq(t_load(&t_spec, &o, &conf, err, help), OG_CONF_HELP);
}

Test(og_conf, sub_command_env_and_default_file)
{
    og_conf_spec_t spec = t_spec;
    spec.stop_at_arg = 1;
    spec.env = "OG_CONF_TEST_CONFIG";
    spec.section = "admin";
    t_opts_t o;
    og_conf_t *conf;
    char err[512];
    char *argv[] = {"prog", "--verbose", "status", "--json", NULL};
    int next;
    t_file("[cluster]\nring = /from/env\n[admin]\nverbose = false\n");
    setenv("OG_CONF_TEST_CONFIG", t_path, 1);
    o = (t_opts_t){0};
    int rc = og_conf_load(&spec, 4, argv, &o, &conf, &next, err, sizeof(err));
    cr_assert_eq(rc, 0, "%d %s", rc, err);
    cr_assert_eq(next, 2, "options end at the sub-command");
    cr_assert_str_eq(o.ring, "/from/env");
    cr_assert_eq(o.verbose, 1);
    unsetenv("OG_CONF_TEST_CONFIG");
    og_conf_free(conf);
    spec.default_path = t_path;
    o = (t_opts_t){0};
    cr_assert_eq(og_conf_load(&spec, 4, argv, &o, &conf, &next, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(o.ring, "/from/env", "the default file is read when it exists");
    t_cleanup(conf);
}

Test(og_conf, usage_lists_every_option)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    og_conf_usage(&t_spec, "more", f);
    fclose(f);
    cr_assert(strstr(buf, "usage: onggi-test [--config FILE] --ring FILE [--keys FILE]") != NULL, "%s", buf);
    cr_assert(strstr(buf, "[--verbose]") != NULL, "%s", buf);
    cr_assert(strstr(buf, "[--cert FILE ...]") != NULL, "%s", buf);
    cr_assert(strstr(buf, "\nmore\n") != NULL, "%s", buf);
    free(buf);
}
