/*
 * test_http_limits.c: the table of counts per key (http/http_limits.h), driven hard enough
 * that probe runs collide, wrap around the slot array and are cut by deletions.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_limits.h"

static http_key_t key_of(uint32_t n)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + n)};
    return http_key_of_addr((const struct sockaddr *)&sin);
}

Test(http_limits, ipv4_and_ipv6_keys)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6.sin6_addr);
    http_key_t a = http_key_of_addr((struct sockaddr *)&sin), b = http_key_of_addr((struct sockaddr *)&sin6);
    /* An IPv4 client is the same address whether it came in over IPv4 or a mapped IPv6 socket. */
    cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
    sin.sin_port = htons(9);
    http_key_t c = http_key_of_addr((struct sockaddr *)&sin);
    cr_assert_eq(memcmp(&a, &c, sizeof(a)), 0, "the port is not part of the key");
}

Test(http_limits, name_keys)
{
    http_key_t a = http_key_of_name("acct", 4, 1), a2 = http_key_of_name("acct", 4, 1);
    http_key_t b = http_key_of_name("acct2", 5, 1), s = http_key_of_name("acct", 4, 2);
    cr_assert_eq(memcmp(&a, &a2, sizeof(a)), 0, "the same name and seed: the same key");
    cr_assert_neq(memcmp(&a, &b, sizeof(a)), 0);
    cr_assert_neq(memcmp(&a, &s, sizeof(a)), 0, "another seed, another key");
}

Test(http_limits, matches_a_model_under_random_adds_and_deletes)
{
    /* 3000 addresses in a table sized for 2000 entries: probe runs collide, wrap around the slot
     * array and are cut by deletions; the table is full at times. Every answer must match a plain
     * array of counts. */
    enum { N = 3000, CAP = 3, OPS = 400000 };
    static uint8_t model[N];
    size_t used = 0;
    http_counts_t t;
    cr_assert_eq(http_counts_init(&t, 2000), 0);
    size_t full_refusals = 0;
    srand(7);
    for (int op = 0; op < OPS; op++) {
        uint32_t i = (uint32_t)rand() % N;
        http_key_t k = key_of(i);
        if (rand() % 2 == 0) {
            bool room = model[i] > 0 || used + 1 <= (t.mask + 1) / 2;
            bool ok = http_counts_add(&t, &k, CAP);
            cr_assert_eq(ok, model[i] < CAP && room, "op %d: add of %u (count %u)", op, i, model[i]);
            full_refusals += !room;
            if (ok && model[i]++ == 0)
                used++;
        } else if (model[i] > 0) {
            http_counts_del(&t, &k);
            if (--model[i] == 0)
                used--;
        }
        cr_assert_eq(t.used, used);
    }
    cr_assert_gt(full_refusals, 0, "the table never filled up: the test does not cover it");
    for (uint32_t i = 0; i < N; i++) {
        http_key_t k = key_of(i);
        while (model[i]-- > 0)
            http_counts_del(&t, &k);
    }
    cr_assert_eq(t.used, 0);
    http_counts_dispose(&t);
}
