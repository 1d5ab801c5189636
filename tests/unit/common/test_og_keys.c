/*
 * test_og_keys.c: the cluster key file (og_keys.h): created 0600 with one key of each kind,
 * never overwritten, refused when others can read it or when a line is malformed, and rotation
 * (several keys of a kind, the first one current).
 */
#include "og_keys.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/onggi-keys-XXXXXX";
static char path[64];

static void setup(void)
{
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ring.bin.keys", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

static void write_file(const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(chmod(path, mode), 0);
}

#define K1 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define K2 "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

TestSuite(og_keys, .init = setup, .fini = teardown);

Test(og_keys, create_then_load)
{
    og_keys_t a, b;
    struct stat st;
    cr_assert_eq(og_keys_create(path), 0);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(og_keys_load(path, &a), 0);
    cr_assert_eq(a.num_node, 1);
    cr_assert_eq(a.num_secrets, 1);
    cr_assert_str_eq(a.node[0].id, "n1");
    cr_assert_str_eq(a.secrets[0].id, "s1");
    cr_assert_eq(a.num_sse, 1);
    cr_assert_str_eq(a.sse[0].id, "e1");
    cr_assert_neq(memcmp(a.sse[0].key, a.secrets[0].key, OG_KEY_BYTES), 0, "two kinds share a key");
    cr_assert_neq(memcmp(a.node[0].key, a.secrets[0].key, OG_KEY_BYTES), 0, "two kinds share a key");
    /* never overwritten: the second create fails and the keys stay */
    cr_assert_eq(og_keys_create(path), OG_EEXIST);
    cr_assert_eq(og_keys_load(path, &b), 0);
    cr_assert_eq(memcmp(a.node[0].key, b.node[0].key, OG_KEY_BYTES), 0);
}

Test(og_keys, rotation_first_is_current)
{
    og_keys_t k;
    write_file("# rotating\nnode n2 " K2 "\n  node n1 " K1 "  \nsecrets s1 " K1 "\n", 0600);
    cr_assert_eq(og_keys_load(path, &k), 0);
    cr_assert_eq(k.num_node, 2);
    cr_assert_str_eq(k.node[0].id, "n2");
    cr_assert_eq(k.node[0].key[0], 0xff);
    const og_key_t *old = og_keys_find(k.node, k.num_node, og_str("n1"));
    cr_assert(old);
    cr_assert_eq(old->key[1], 0x11);
    cr_assert_null(og_keys_find(k.node, k.num_node, og_str("n3")));
    cr_assert_null(og_keys_find(k.node, k.num_node, og_str("n")));
}

Test(og_keys, refused)
{
    og_keys_t k;
    write_file("node n1 " K1 "\n", 0640);
    cr_assert_eq(og_keys_load(path, &k), OG_EINVAL, "group-readable key file accepted");
    const char *bad[] = {
        "node n1 " K1 "00\n",           /* key too long */
        "node n1 " K1 " extra\n",       /* trailing word */
        "nodes n1 " K1 "\n",            /* unknown kind */
        "node n/1 " K1 "\n",            /* bad id */
        "node n1 " K1 "\nnode n1 " K2 "\n", /* duplicate id */
        "# nothing\n",                  /* no key at all */
        "node n1 zz" K1 "\n",           /* not hex */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(bad[i], 0600);
        cr_assert_eq(og_keys_load(path, &k), OG_EINVAL, "accepted: %s", bad[i]);
        cr_assert_eq(k.num_node + k.num_secrets, 0);
    }
    unlink(path);
    cr_assert_lt(og_keys_load(path, &k), 0);
}
