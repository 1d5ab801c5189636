/*
 * og_conf.c: one option table for the command line (getopt_long) and the configuration file
 * (libinih). See og_conf.h.
 */
#include "og_conf.h"
#include "og.h"

#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OPT_CONFIG 256 /* getopt_long's value for --config; table options use their index */
#define OPT_HELP 257
#define LINE_MAX_LEN INI_MAX_LINE

/* A value read from the file, kept for the options struct to point at. */
typedef struct st_conf_str_t {
    struct st_conf_str_t *next;
    char s[];
} conf_str_t;

struct st_og_conf_t {
    conf_str_t *strs;
    char *path; /* the file read, or NULL */
};

/* One pass over a file or the command line. */
typedef struct {
    const og_conf_spec_t *spec;
    void *out;
    og_conf_t *conf;
    const char *path; /* the file being read, for messages */
    FILE *f;
    unsigned line;       /* the line inih is handling */
    unsigned section_line; /* the line of the last [section] header */
    int line_too_long;
    uint64_t in_file;    /* options set by the file (a scalar given twice is an error) */
    uint64_t on_cmdline; /* options set on the command line (a list there replaces the file's) */
    char *err;
    size_t errlen;
    int failed; /* an error is in err */
} conf_pass_t;

static void conf_error(conf_pass_t *p, const char *fmt, ...)
{
    if (p->failed)
        return; /* the first error is the one worth reading */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
    p->failed = 1;
}

/* "FILE:LINE: " when reading the file, "" for the command line. */
static const char *conf_where(const conf_pass_t *p, char *buf, size_t len)
{
    if (p->path == NULL)
        return "";
    snprintf(buf, len, "%s:%u: ", p->path, p->line);
    return buf;
}

static int conf_flag_value(const char *v, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *out = strcasecmp(v, yes[i]) == 0;
            return 0;
        }
    }
    return OG_EINVAL;
}

/* Parses v as opt's number into the field. 0 or OG_EINVAL (not a number, or out of range). */
static int conf_number(const og_conf_opt_t *opt, const char *v, void *field)
{
    if (opt->type == OG_CONF_NUM) {
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end != '\0' || !isfinite(d) || d < opt->min || d > opt->max)
            return OG_EINVAL;
        *(double *)field = d;
        return 0;
    }
    uint64_t u;
    if (og_parse_dec(og_str(v), 20, &u) != 0 || (double)u < opt->min || (double)u > opt->max)
        return OG_EINVAL;
    if (opt->type == OG_CONF_SIZE)
        *(size_t *)field = (size_t)u;
    else
        *(uint64_t *)field = u;
    return 0;
}

/* Sets option i to v (NULL: a flag on the command line). 0, or -1 after conf_error. */
static int conf_set(conf_pass_t *p, size_t i, const char *v)
{
    const og_conf_opt_t *opt = &p->spec->opts[i];
    void *field = (char *)p->out + opt->off;
    uint64_t bit = 1ull << i;
    char where[512];
    int from_file = p->path != NULL;

    if (from_file && opt->type != OG_CONF_LIST && (p->in_file & bit)) {
        conf_error(p, "%s%s is set twice", conf_where(p, where, sizeof(where)), opt->name);
        return -1;
    }
    switch (opt->type) {
    case OG_CONF_STR:
        *(const char **)field = v;
        break;
    case OG_CONF_LIST: {
        og_conf_list_t *l = field;
        if (!from_file && !(p->on_cmdline & bit))
            l->n = 0; /* the command line's list replaces the file's */
        if (l->n == OG_CONF_LIST_MAX) {
            conf_error(p, "%s%s given more than %d times", conf_where(p, where, sizeof(where)), opt->name,
                       OG_CONF_LIST_MAX);
            return -1;
        }
        l->v[l->n++] = v;
        break;
    }
    case OG_CONF_FLAG:
        if (v == NULL)
            *(int *)field = 1;
        else if (conf_flag_value(v, field) != 0)
            goto bad;
        break;
    default:
        if (conf_number(opt, v, field) != 0)
            goto bad;
    }
    if (from_file)
        p->in_file |= bit;
    else
        p->on_cmdline |= bit;
    return 0;
bad:
    if (opt->type == OG_CONF_FLAG)
        conf_error(p, "%s%s: '%s' is not true or false", conf_where(p, where, sizeof(where)), opt->name, v);
    else
        conf_error(p, "%s%s: '%s' is not a number from %.15g to %.15g", conf_where(p, where, sizeof(where)),
                   opt->name, v, opt->min, opt->max);
    return -1;
}

/* ---- the file ---- */

static int conf_known_section(const char *s)
{
    static const char *const known[] = {"cluster", "gateway", "node", "admin"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(s, known[i]) == 0)
            return 1;
    return 0;
}

/* A copy of v that lives as long as the conf. NULL on ENOMEM. */
static const char *conf_keep(og_conf_t *c, const char *v)
{
    size_t n = strlen(v) + 1;
    conf_str_t *s = malloc(sizeof(*s) + n);
    if (s == NULL)
        return NULL;
    memcpy(s->s, v, n);
    s->next = c->strs;
    c->strs = s;
    return s->s;
}

/* inih's handler: nonzero to go on (inih goes on anyway; only the first error is kept). */
static int conf_on_key(void *user, const char *section, const char *name, const char *value)
{
    conf_pass_t *p = user;
    char where[512];
    size_t i;

    if (section[0] == '\0') {
        conf_error(p, "%s'%s' is outside any [section]", conf_where(p, where, sizeof(where)), name);
        return 0;
    }
    if (!conf_known_section(section)) {
        unsigned line = p->line;
        p->line = p->section_line;
        conf_error(p, "%sunknown section [%s] (sections: [cluster], [gateway], [node], [admin])",
                   conf_where(p, where, sizeof(where)), section);
        p->line = line;
        return 0;
    }
    conf_where(p, where, sizeof(where));
    int own = strcmp(section, p->spec->section) == 0, cluster = strcmp(section, "cluster") == 0;
    if (!own && !cluster)
        return 1; /* another program's section */
    for (i = 0; i < p->spec->nopts && strcmp(p->spec->opts[i].name, name) != 0; i++)
        ;
    if (i == p->spec->nopts || (cluster && !(p->spec->opts[i].flags & OG_CONF_CLUSTER))) {
        if (cluster)
            conf_error(p, "%sunknown key '%s' in [cluster] (only ring and keys belong there)", where, name);
        else
            conf_error(p, "%sunknown key '%s' in [%s]", where, name, section);
        return 0;
    }
    const char *v = conf_keep(p->conf, value);
    if (v == NULL) {
        conf_error(p, "%sout of memory", where);
        return 0;
    }
    return conf_set(p, i, v) == 0;
}

/* inih's reader: fgets that counts lines and notices one too long for inih's buffer. */
static char *conf_read_line(char *str, int num, void *stream)
{
    conf_pass_t *p = stream;
    if (fgets(str, num, p->f) == NULL)
        return NULL;
    p->line++;
    if (str[strspn(str, " \t")] == '[')
        p->section_line = p->line;
    size_t n = strlen(str);
    if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(p->f)) {
        p->line_too_long = 1;
        return NULL; /* stops the parse */
    }
    return str;
}

static int conf_read_file(conf_pass_t *p, const char *path)
{
    char where[512];
    if ((p->f = fopen(path, "r")) == NULL) {
        int rc = -errno;
        conf_error(p, "cannot read the configuration file %s: %s", path, strerror(errno));
        return rc;
    }
    if ((p->conf->path = strdup(path)) == NULL) {
        fclose(p->f);
        conf_error(p, "out of memory");
        return -ENOMEM;
    }
    p->path = p->conf->path;
    int rc = ini_parse_stream(conf_read_line, p, conf_on_key, p);
    if (p->line_too_long)
        conf_error(p, "%sline longer than %d characters", conf_where(p, where, sizeof(where)), LINE_MAX_LEN - 2);
    else if (rc > 0 && !p->failed) {
        p->line = (unsigned)rc;
        conf_error(p, "%snot `key = value`, a [section] or a comment", conf_where(p, where, sizeof(where)));
    }
    fclose(p->f);
    p->path = NULL;
    return p->failed ? OG_EINVAL : 0;
}

/* ---- the command line ---- */

/* getopt_long's table for spec, with --config and --help. NULL on ENOMEM. */
static struct option *conf_longopts(const og_conf_spec_t *spec)
{
    struct option *lo = calloc(spec->nopts + 3, sizeof(*lo));
    if (lo == NULL)
        return NULL;
    for (size_t i = 0; i < spec->nopts; i++)
        lo[i] = (struct option){spec->opts[i].name, spec->opts[i].type == OG_CONF_FLAG ? no_argument : required_argument,
                                NULL, (int)i};
    lo[spec->nopts] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
    lo[spec->nopts + 1] = (struct option){"help", no_argument, NULL, OPT_HELP};
    return lo;
}

#define SCAN_HELP (-2)

/* One getopt_long pass: the (option, value) pairs into idx[]/val[] (room for argc), --config
 * into *config. The number of pairs, SCAN_HELP for --help, or -1 after conf_error. */
static int conf_scan_argv(conf_pass_t *p, int argc, char **argv, int *idx, char **val, const char **config,
                          int *next_arg)
{
    struct option *lo = conf_longopts(p->spec);
    int n = 0, c, ret = -1;
    if (lo == NULL) {
        conf_error(p, "out of memory");
        return -1;
    }
    opterr = 0;
    optind = 0; /* glibc: start over (another parse may have run in this process) */
    while ((c = getopt_long(argc, argv, p->spec->stop_at_arg ? "+:" : ":", lo, NULL)) != -1) {
        if (c == OPT_HELP) {
            ret = SCAN_HELP;
            goto out_free;
        }
        if (c == '?' || c == ':') {
            const char *a = argv[optind - 1];
            conf_error(p, c == ':' ? "%s needs a value" : "unknown option %s", a);
            goto out_free;
        }
        if (c == OPT_CONFIG)
            *config = optarg;
        else
            idx[n] = c, val[n++] = optarg;
    }
    if (!p->spec->stop_at_arg && optind < argc) {
        conf_error(p, "unexpected argument '%s'", argv[optind]);
        goto out_free;
    }
    *next_arg = optind;
    ret = n;
out_free:
    free(lo);
    return ret;
}

/* The file to read: --config, else $env, else the default path when it exists; NULL for none. */
static const char *conf_pick_file(const og_conf_spec_t *spec, const char *config)
{
    const char *e;
    if (config != NULL)
        return config;
    if (spec->env != NULL && (e = getenv(spec->env)) != NULL && e[0] != '\0')
        return e;
    if (spec->default_path != NULL && access(spec->default_path, F_OK) == 0)
        return spec->default_path;
    return NULL;
}

static int conf_check_required(conf_pass_t *p)
{
    for (size_t i = 0; i < p->spec->nopts; i++) {
        const og_conf_opt_t *o = &p->spec->opts[i];
        if ((o->flags & OG_CONF_REQUIRED) && !((p->in_file | p->on_cmdline) & (1ull << i))) {
            conf_error(p, "--%s is required (or `%s =` in [%s]%s of a --config file)", o->name, o->name,
                       p->spec->section, (o->flags & OG_CONF_CLUSTER) ? " or [cluster]" : "");
            return -1;
        }
    }
    return 0;
}

int og_conf_load(const og_conf_spec_t *spec, int argc, char **argv, void *out, og_conf_t **conf, int *next_arg,
                 char *err, size_t errlen)
{
    conf_pass_t p = {.spec = spec, .out = out, .err = err, .errlen = errlen};
    const char *config = NULL, *file;
    int *idx = calloc((size_t)argc + 1, sizeof(*idx));
    char **val = calloc((size_t)argc + 1, sizeof(*val));
    int n, rc = OG_EINVAL;

    err[0] = '\0';
    *conf = NULL;
    if (spec->nopts > 64 || idx == NULL || val == NULL || (p.conf = calloc(1, sizeof(*p.conf))) == NULL) {
        conf_error(&p, "out of memory");
        rc = -ENOMEM;
        goto out_free;
    }
    if ((n = conf_scan_argv(&p, argc, argv, idx, val, &config, next_arg)) < 0) {
        rc = n == SCAN_HELP ? OG_CONF_HELP : OG_EINVAL;
        goto out_free;
    }
    if ((file = conf_pick_file(spec, config)) != NULL && (rc = conf_read_file(&p, file)) != 0)
        goto out_free;
    rc = OG_EINVAL;
    for (int i = 0; i < n; i++)
        if (conf_set(&p, (size_t)idx[i], val[i]) != 0)
            goto out_free;
    if (conf_check_required(&p) != 0)
        goto out_free;
    *conf = p.conf;
    p.conf = NULL;
    rc = 0;
out_free:
    og_conf_free(p.conf);
    free(val);
    free(idx);
    return rc;
}

int og_conf_main(const og_conf_spec_t *spec, const char *extra, int argc, char **argv, void *out, og_conf_t **conf,
                 int *next_arg)
{
    char err[512];
    int rc = og_conf_load(spec, argc, argv, out, conf, next_arg, err, sizeof(err));
    if (rc == 0)
        return 0;
    if (rc == OG_CONF_HELP) {
        og_conf_usage(spec, extra, stdout);
        return 1;
    }
    fprintf(stderr, "%s: %s\n", spec->prog, err);
    if (rc != OG_EINVAL)
        return 2;
    og_conf_usage(spec, extra, stderr);
    return 3;
}

const char *og_conf_path(const og_conf_t *conf)
{
    return conf != NULL ? conf->path : NULL;
}

void og_conf_free(og_conf_t *conf)
{
    if (conf == NULL)
        return;
    while (conf->strs != NULL) {
        conf_str_t *next = conf->strs->next;
        free(conf->strs);
        conf->strs = next;
    }
    free(conf->path);
    free(conf);
}

void og_conf_usage(const og_conf_spec_t *spec, const char *extra, FILE *f)
{
    size_t col = (size_t)fprintf(f, "usage: %s [--config FILE]", spec->prog), indent = strlen(spec->prog) + 7;
    for (size_t i = 0; i < spec->nopts; i++) {
        const og_conf_opt_t *o = &spec->opts[i];
        char item[128];
        int req = (o->flags & OG_CONF_REQUIRED) != 0;
        size_t len = (size_t)snprintf(item, sizeof(item), "%s--%s%s%s%s%s", req ? "" : "[", o->name, o->arg ? " " : "",
                                      o->arg ? o->arg : "", o->type == OG_CONF_LIST ? " ..." : "", req ? "" : "]");
        if (col + 1 + len > 100) {
            col = (size_t)fprintf(f, "\n%*s", (int)indent, "");
        }
        col += (size_t)fprintf(f, " %s", item);
    }
    fprintf(f, "\n");
    if (extra != NULL)
        fprintf(f, "%s\n", extra);
}
