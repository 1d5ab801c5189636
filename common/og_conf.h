/*
 * og_conf.h: the options of a process, from its command line and a configuration file
 * (docs/operations.md, "Configuration").
 *
 * Each program describes its options ONCE, in a table of og_conf_opt_t; the same table drives
 * the command line (--NAME VALUE, getopt_long) and the file (NAME = VALUE, read with libinih).
 * The file has a section per program ([gateway], [node], [admin]) and a shared [cluster]
 * section for the options flagged OG_CONF_CLUSTER (the ring and key file paths). Sections of the
 * other programs are skipped, so one file can serve a whole host. A key the program does not
 * know, a [cluster] key that is not a cluster option, an unknown section or a bad value is an
 * error naming FILE:LINE. The command line overrides the file (a list option given on the
 * command line replaces the file's list).
 */
#ifndef OG_CONF_H
#define OG_CONF_H

#include <stddef.h>
#include <stdio.h>

#define OG_CONF_LIST_MAX 32 /* values of one repeatable option */
#define OG_CONF_HELP 1      /* og_conf_load's answer to --help */

typedef enum {
    OG_CONF_STR,  /* const char * */
    OG_CONF_LIST, /* og_conf_list_t: the option may be given several times */
    OG_CONF_FLAG, /* int 0/1: a bare --NAME on the command line, true/false/yes/no/on/off/1/0 in a file */
    OG_CONF_SIZE, /* size_t, decimal digits, in [min, max] */
    OG_CONF_U64,  /* uint64_t, decimal digits, in [min, max] */
    OG_CONF_NUM,  /* double, in [min, max] */
} og_conf_type_t;

enum {
    OG_CONF_CLUSTER = 1,  /* may also be set in the [cluster] section */
    OG_CONF_REQUIRED = 2, /* must be set by the file or the command line */
};

typedef struct {
    const char *v[OG_CONF_LIST_MAX];
    size_t n;
} og_conf_list_t;

typedef struct {
    const char *name; /* "listen": --listen on the command line, `listen = ...` in the file */
    og_conf_type_t type;
    size_t off;      /* offsetof() the field in the program's options struct */
    double min, max; /* range of a number */
    const char *arg; /* the value's name in the usage ("IP:PORT"); NULL for a flag */
    unsigned flags;  /* OG_CONF_CLUSTER, OG_CONF_REQUIRED */
} og_conf_opt_t;

typedef struct {
    const char *prog;    /* "onggi-gateway", for messages */
    const char *section; /* "gateway": the program's own section */
    const og_conf_opt_t *opts;
    size_t nopts;        /* at most 64 */
    int stop_at_arg;     /* 1: options end at the first other argument (a sub-command follows) */
    const char *env;     /* without --config: the file named by this variable, when set (or NULL) */
    const char *default_path; /* ... else this file when it exists (or NULL) */
} og_conf_spec_t;

/* Owns the values read from the configuration file. */
typedef struct st_og_conf_t og_conf_t;

/* Fills *out (the program's options struct, holding its defaults) from the configuration file
 * (--config FILE, else spec->env, else spec->default_path when it exists, else none) and then the
 * command line argv[1..argc), which wins. String fields point into argv or into *conf, so *conf
 * (set on success, also when no file was read) must outlive their use: og_conf_free. *next_arg is
 * the index of the first argument that is not an option (argc when none; with stop_at_arg 0 any
 * such argument is an error). 0; OG_CONF_HELP for --help (nothing else done); OG_EINVAL with err
 * saying why (unknown option or key, bad value, missing required option; FILE:LINE for the file);
 * or a negative errno when the file cannot be read (err names it). */
int og_conf_load(const og_conf_spec_t *spec, int argc, char **argv, void *out, og_conf_t **conf, int *next_arg,
                 char *err, size_t errlen);
/* og_conf_load for a program's main, which tells the user: the usage (with `extra`) on stdout for
 * --help, or "PROG: why" and the usage on stderr. 0 to go on; otherwise the process should exit
 * with the return value + 1: 0 after --help, 1 when the file cannot be read, 2 for a usage error
 * (so `if ((rc = og_conf_main(...)) != 0) return rc - 1;`). */
int og_conf_main(const og_conf_spec_t *spec, const char *extra, int argc, char **argv, void *out, og_conf_t **conf,
                 int *next_arg);
/* The configuration file that was read, or NULL when none was. Valid until og_conf_free. */
const char *og_conf_path(const og_conf_t *conf);
/* Frees what og_conf_load kept. NULL: no-op. */
void og_conf_free(og_conf_t *conf);
/* Prints "usage: PROG [--config FILE] --required ARG [--optional ARG] ..." built from the table,
 * wrapped, followed by `extra` (may be NULL) on its own line. */
void og_conf_usage(const og_conf_spec_t *spec, const char *extra, FILE *f);

#endif
