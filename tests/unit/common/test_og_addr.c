/*
 * test_og_addr.c: og_addr_parse, the one parser of "IP:PORT" and "[IPv6]:PORT" (node addresses
 * in the ring, --listen of the node and the gateway), and the big-endian helpers of og.h.
 */
#include "og.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>

Test(og_addr, ipv4)
{
    og_addr_t a;
    cr_assert_eq(og_addr_parse("127.0.0.1:9000", &a), 0);
    cr_assert_str_eq(a.host, "127.0.0.1");
    cr_assert_eq(a.port, 9000);
    cr_assert_eq(a.sa.ss_family, AF_INET);
    cr_assert_eq(a.salen, sizeof(struct sockaddr_in));
    cr_assert_eq(ntohs(((struct sockaddr_in *)&a.sa)->sin_port), 9000);
    cr_assert_eq(og_addr_parse("0.0.0.0:0", &a), 0);
    cr_assert_eq(og_addr_parse("10.0.0.1:65535", &a), 0);
    cr_assert_eq(a.port, 65535);
}

Test(og_addr, ipv6)
{
    og_addr_t a;
    cr_assert_eq(og_addr_parse("[::1]:8080", &a), 0);
    cr_assert_str_eq(a.host, "::1");
    cr_assert_eq(a.port, 8080);
    cr_assert_eq(a.sa.ss_family, AF_INET6);
    cr_assert_eq(a.salen, sizeof(struct sockaddr_in6));
    cr_assert_eq(ntohs(((struct sockaddr_in6 *)&a.sa)->sin6_port), 8080);
}

Test(og_addr, refused)
{
    og_addr_t a;
    const char *bad[] = {"", "127.0.0.1", "127.0.0.1:", ":9000", "127.0.0.1:65536", "127.0.0.1:9x",
                         "127.0.0.1:-1", "127.0.0.1: 80", "localhost:80", "[]:80", "[::1]", "1.2.3:80",
                         "127.0.0.1:123456"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(og_addr_parse(bad[i], &a), OG_EINVAL, "%s", bad[i]);
}

Test(og_be, round_trip)
{
    unsigned char b[8];
    og_be16_put(b, 0x1234);
    cr_assert(b[0] == 0x12 && b[1] == 0x34);
    cr_assert_eq(og_be16_get(b), 0x1234);
    og_be32_put(b, 0x01020304u);
    cr_assert(b[0] == 1 && b[3] == 4);
    cr_assert_eq(og_be32_get(b), 0x01020304u);
    og_be64_put(b, 0x0102030405060708ull);
    cr_assert(b[0] == 1 && b[7] == 8);
    cr_assert_eq(og_be64_get(b), 0x0102030405060708ull);
}
