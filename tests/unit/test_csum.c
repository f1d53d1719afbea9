/* Checksum completion over hand-built mbufs (no EAL needed: the mbufs point at test buffers).
 * The expected checksums come from an independent RFC 1071 sum over the pseudo-header and
 * the L4 bytes, not from DPDK's helpers that csum.c itself uses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "offload/csum.h"
#include "ref_csum.h"

#define ETH_LEN 14

/* Builds Ethernet + IPv4 or IPv6 + TCP or UDP with `payload` bytes into buf; returns the frame
 * length. The L4 checksum field holds the pseudo-header sum, as a virtio sender leaves it. Sets
 * *expected to the correct final checksum (network order bytes as a host integer). */
static size_t build(uint8_t *buf, int ipv6, int udp, size_t payload, uint16_t *expected)
{
    size_t l3 = ipv6 ? 40 : 20, l4 = udp ? 8 : 20;
    size_t l4_len = l4 + payload, len = ETH_LEN + l3 + l4_len;
    uint8_t *ip = buf + ETH_LEN, *th = ip + l3;
    uint8_t proto = udp ? 17 : 6;
    uint32_t pseudo;
    size_t field = udp ? 6 : 16;

    memset(buf, 0, len);
    buf[12] = ipv6 ? 0x86 : 0x08;
    buf[13] = ipv6 ? 0xdd : 0x00;
    if (ipv6) {
        ip[0] = 0x60;
        ip[4] = (uint8_t)(l4_len >> 8);
        ip[5] = (uint8_t)l4_len;
        ip[6] = proto;
        ip[7] = 64;
        for (int i = 0; i < 32; i++)
            ip[8 + i] = (uint8_t)(0x20 + i * 3);
    } else {
        ip[0] = 0x45;
        ip[2] = (uint8_t)((l3 + l4_len) >> 8);
        ip[3] = (uint8_t)(l3 + l4_len);
        ip[8] = 64;
        ip[9] = proto;
        memcpy(ip + 12, (uint8_t[]){10, 0, 0, 1, 10, 0, 0, 2}, 8);
    }
    pseudo = ref_pseudo(ip, ipv6, proto, (uint32_t)l4_len);
    th[0] = 0x12, th[1] = 0x34, th[2] = 0x00, th[3] = 0x50;
    if (udp) {
        th[4] = (uint8_t)(l4_len >> 8);
        th[5] = (uint8_t)l4_len;
    } else {
        th[12] = 0x50;
        th[13] = 0x18;
    }
    for (size_t i = 0; i < payload; i++)
        th[l4 + i] = (uint8_t)(i * 13 + 7);

    /* the right answer, computed with the field zero */
    uint16_t ck = (uint16_t)~ref_fold(ref_sum16(th, l4_len, pseudo));
    if (udp && ck == 0)
        ck = 0xffff;
    *expected = ck;
    /* what the sender leaves: the pseudo-header sum, not complemented */
    uint16_t partial = ref_fold(pseudo);
    th[field] = (uint8_t)(partial >> 8);
    th[field + 1] = (uint8_t)partial;
    return len;
}

static struct rte_mbuf *mbuf_over(uint8_t *data, uint16_t len)
{
    struct rte_mbuf *m = calloc(1, sizeof *m);

    m->buf_addr = data;
    m->buf_len = len;
    m->data_off = 0;
    m->data_len = len;
    m->pkt_len = len;
    m->nb_segs = 1;
    return m;
}

static uint16_t field_of(const uint8_t *frame, int ipv6, int udp)
{
    const uint8_t *f = frame + ETH_LEN + (ipv6 ? 40 : 20) + (udp ? 6 : 16);
    return (uint16_t)(f[0] << 8 | f[1]);
}

static void check_one(int ipv6, int udp, size_t payload)
{
    static uint8_t buf[10000];
    uint16_t expected;
    size_t len = build(buf, ipv6, udp, payload, &expected);
    struct rte_mbuf *m = mbuf_over(buf, (uint16_t)len);

    m->l2_len = ETH_LEN;
    m->l3_len = ipv6 ? 40 : 20;
    m->ol_flags = (ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4) |
                  (udp ? RTE_MBUF_F_TX_UDP_CKSUM : RTE_MBUF_F_TX_TCP_CKSUM);
    assert_true(csum_is_partial(m));
    assert_int_equal(csum_complete(m), 0);
    assert_int_equal(field_of(buf, ipv6, udp), expected);
    assert_false(csum_is_partial(m));
    free(m);
}

static void test_tcp4(void **state)
{
    (void)state;
    check_one(0, 0, 0);
    check_one(0, 0, 1);
    check_one(0, 0, 1460);
    check_one(0, 0, 8948);
}

static void test_udp4(void **state)
{
    (void)state;
    check_one(0, 1, 1);
    check_one(0, 1, 512);
}

static void test_tcp6_udp6(void **state)
{
    (void)state;
    check_one(1, 0, 1440);
    check_one(1, 0, 33);
    check_one(1, 1, 999);
}

/* A frame split over two segments at an odd offset still sums right. */
static void test_chained_segments(void **state)
{
    static uint8_t frame[3000], first[2000], second[2000];
    uint16_t expected;
    size_t len = build(frame, 0, 0, 2000, &expected);
    size_t split = 777;
    struct rte_mbuf *a, *b;

    (void)state;
    memcpy(first, frame, split);
    memcpy(second, frame + split, len - split);
    a = mbuf_over(first, (uint16_t)split);
    b = mbuf_over(second, (uint16_t)(len - split));
    a->next = b;
    a->nb_segs = 2;
    a->pkt_len = (uint32_t)len;
    a->l2_len = ETH_LEN;
    a->l3_len = 20;
    a->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
    assert_int_equal(csum_complete(a), 0);
    assert_int_equal(field_of(first, 0, 0), expected);
    free(a);
    free(b);
}

/* Offsets that do not fit are refused and leave the frame as it was. */
static void test_refuses_what_does_not_fit(void **state)
{
    static uint8_t buf[200];
    uint16_t expected;
    size_t len = build(buf, 0, 0, 10, &expected);
    struct rte_mbuf *m = mbuf_over(buf, (uint16_t)len);
    uint8_t before[200];

    (void)state;
    memcpy(before, buf, sizeof before);
    m->l2_len = ETH_LEN;
    m->l3_len = 120; /* checksum field beyond the frame */
    m->ol_flags = RTE_MBUF_F_TX_TCP_CKSUM;
    assert_int_equal(csum_complete(m), -1);
    m->l3_len = 20;
    m->ol_flags = RTE_MBUF_F_TX_SCTP_CKSUM; /* CRC32c, not a ones' complement sum */
    assert_int_equal(csum_complete(m), -1);
    assert_memory_equal(buf, before, sizeof before);
    assert_true(csum_is_partial(m));
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp4),
        cmocka_unit_test(test_udp4),
        cmocka_unit_test(test_tcp6_udp6),
        cmocka_unit_test(test_chained_segments),
        cmocka_unit_test(test_refuses_what_does_not_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
