/*
 * test_cluster_list.c: grouped listings (a delimiter applied on the nodes, cluster_list_grouped)
 * against real storage nodes whose replicas disagree.
 *
 * The replicas are written one by one (straight to the nodes), and the nodes run without
 * anti-entropy so they stay as written; each round lists with one node down, so every pair of
 * replicas is the quorum once.
 */
#include "cluster/cluster.h"
#include "node_client.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TC_NODES 3
#define TC_TMPDIR "/tmp/og_cluster_list_XXXXXX"
#define TC_REPL_INTERVAL "0"
#include "../cluster/cluster_fixture.h"

TestSuite(gw_cluster_list, .fini = tc_stop, .timeout = 120);

#define GL_TABLE "o.grouped"

/* Writes key's record (stamp ts; a tombstone when dead) straight to the nodes in mask (bit i:
 * node i), as writes that reached only some replicas leave them. */
static void gl_put_on(unsigned mask, const char *key, int dead, uint64_t ts)
{
    og_rec_t r = {.flags = dead ? OG_REC_TOMBSTONE : 0, .ts = ts, .tiebreak = 1, .summary = og_str(dead ? "" : key)};
    char body[256], path[256], enc[128];
    long len = og_rec_encode(&r, body, sizeof(body)), elen = og_urlencode(key, strlen(key), enc, sizeof(enc), 0);
    cr_assert(len > 0 && elen > 0);
    node_client_t *c = tc_client_new(2000, 1);
    for (int i = 0; i < TC_NODES; i++) {
        if (!(mask & 1u << i))
            continue;
        char addr[32];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", tc.port[i]);
        snprintf(path, sizeof(path), "/d%d/rec/" GL_TABLE "/%.*s", i + 1, (int)elen, enc);
        node_call_t call = {.addr = addr, .method = "PUT", .path = path, .body = body, .body_len = (size_t)len};
        cr_assert_eq(node_call(c, &call), 0);
        cr_assert(call.status == 201 || call.status == 200, "%s on node %d: %d", key, i + 1, call.status);
        free(call.resp_body);
    }
    node_client_free(c);
}

/* The items a listing walk would make of the pages (each common prefix once, other keys as they
 * are), reading pages of `limit` raw keys after `after`, grouped on the nodes or not. Returns the
 * page count. */
static int gl_items(const char *prefix, const char *delim, int grouped, size_t limit, char (*items)[32], size_t cap,
                    size_t *n)
{
    char after[64] = "";
    int pages = 0;
    *n = 0;
    for (;;) {
        cluster_list_t l;
        og_str_t d = grouped ? og_str(delim) : (og_str_t){NULL, 0};
        cr_assert_eq(cluster_list_grouped(tc.cl, GL_TABLE, og_str(prefix), d, og_str(after), limit, &l), 0);
        pages++;
        for (size_t i = 0; i < l.n; i++) {
            og_str_t key = l.entries[i].key;
            size_t glen = og_key_group_len(key, og_str(prefix), og_str(delim), 0);
            int len = (int)(glen ? glen : key.len);
            cr_assert_lt(len, 32);
            cr_assert(!l.entries[i].group_cut || grouped, "only grouped pages cut groups");
            if (*n > 0 && strlen(items[*n - 1]) == (size_t)len && memcmp(items[*n - 1], key.base, (size_t)len) == 0)
                continue;
            cr_assert_lt(*n, cap);
            snprintf(items[(*n)++], 32, "%.*s", len, key.base);
        }
        int more = l.truncated;
        if (more) {
            cr_assert_lt(l.next_after.len, sizeof(after));
            cr_assert_gt(og_str_cmp(l.next_after, og_str(after)), 0, "pages move forward");
            snprintf(after, sizeof(after), "%.*s", (int)l.next_after.len, l.next_after.base);
        }
        cluster_list_free(&l);
        if (!more)
            return pages;
        cr_assert_lt(pages, 2000);
    }
}

enum { ALL = 7, ITEMS = 400 };

/* Every way replicas can disagree inside a group, each with its newest record on two nodes so that
 * any quorum merges to the same answer (bit i of a mask: node i). */
static void gl_fill(void)
{
    char key[32];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "a/%d", i);
        gl_put_on(ALL, key, 0, 10);
    }
    for (int i = 1; i <= 3; i++) {
        snprintf(key, sizeof(key), "b/%d", i);
        gl_put_on(ALL, key, 0, 10);
    }
    gl_put_on(6, "b/1", 1, 20); /* the first key deleted on nodes 1 and 2; node 0 still has it */
    gl_put_on(ALL, "c/1", 0, 10);
    gl_put_on(3, "c/1", 1, 20); /* the only key deleted on nodes 0 and 1: c/ is gone */
    gl_put_on(3, "d/1", 0, 10); /* missing on node 2 */
    gl_put_on(ALL, "d/2", 0, 10);
    gl_put_on(ALL, "e", 0, 10);
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "f/%03d", i);
        gl_put_on(ALL, key, 0, 10);
    }
    gl_put_on(ALL, "f/\xff", 0, 10); /* the nodes' seek past f/ stops at it */
    gl_put_on(ALL, "f\xff/x", 0, 10);
    gl_put_on(ALL, "g/1", 1, 20); /* only ever deleted */
    gl_put_on(ALL, "h/x/1", 0, 10);
    gl_put_on(ALL, "i/1", 0, 10);
    gl_put_on(6, "i/1", 1, 20); /* as b/, with only one more key */
    gl_put_on(ALL, "i/2", 0, 10);
    gl_put_on(ALL, "j/1", 0, 10);
    gl_put_on(6, "j/1", 1, 20);
    gl_put_on(5, "j/2", 0, 10); /* the one live key, on nodes 0 and 2 only */
    gl_put_on(ALL, "k", 0, 10);
    gl_put_on(ALL, "z/1", 0, 10); /* as j/, at the end of the table */
    gl_put_on(6, "z/1", 1, 20);
    gl_put_on(5, "z/2", 0, 10);
}

/* A grouped listing gives the same common prefixes and keys as grouping every key, whichever pair
 * of replicas answers (every node down once, and none), at every page size; and it reads a group
 * of 300 keys without paging through them. */
Test(gw_cluster_list, grouped_list_matches_grouping_every_key)
{
    static char want[ITEMS][32], got[ITEMS][32];
    const char *const expect[] = {"a/", "b/", "d/", "e", "f/", "f\xff/", "h/", "i/", "j/", "k", "z/"};
    const struct {
        const char *prefix, *delim;
    } lists[] = {{"", "/"}, {"", "/1"}, {"f/", "/"}, {"h/", "/"}, {"b", "/"}, {"", "x/"}};
    const size_t limits[] = {1000, 1, 2, 3, 7};
    size_t nw, ng;

    tc_start(17090);
    gl_fill();
    for (int down = -1; down < TC_NODES; down++) {
        if (down >= 0)
            tc_node_kill(down);
        for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
            for (size_t j = 0; j < sizeof(limits) / sizeof(limits[0]); j++) {
                int plain = gl_items(lists[i].prefix, lists[i].delim, 0, limits[j], want, ITEMS, &nw);
                int pages = gl_items(lists[i].prefix, lists[i].delim, 1, limits[j], got, ITEMS, &ng);
                cr_assert_eq(ng, nw, "node %d down, prefix '%s' delimiter '%s' limit %zu: %zu items, want %zu", down,
                             lists[i].prefix, lists[i].delim, limits[j], ng, nw);
                for (size_t k = 0; k < nw; k++)
                    cr_assert_str_eq(got[k], want[k], "node %d down, prefix '%s' delimiter '%s' limit %zu item %zu",
                                     down, lists[i].prefix, lists[i].delim, limits[j], k);
                if (i != 0)
                    continue;
                cr_assert_eq(nw, sizeof(expect) / sizeof(expect[0]), "node %d down: %zu items", down, nw);
                for (size_t k = 0; k < nw; k++)
                    cr_assert_str_eq(want[k], expect[k]);
                /* f/'s 300 keys cost one seek per replica, not 300 / limit pages */
                if (limits[j] == 7)
                    cr_assert(pages <= 12 && plain >= 40, "node %d down: %d grouped pages, %d plain", down, pages,
                              plain);
            }
        }
        if (down >= 0)
            tc_node_start(down);
    }
}
