/*
 * The tests' checksum reference: an independent RFC 1071 implementation for tests, deliberately
 * not src/offload/csum.c (nor DPDK's helpers, which csum.c uses), so that a test never checks
 * the code under test against itself. Written out on big-endian 16-bit words, as the RFC does.
 *
 * ref_sum16() accumulates bytes into an unfolded 32-bit sum (an odd last byte is padded with a
 * zero), ref_fold() folds the carries back in, and ref_pseudo() is the unfolded TCP/UDP
 * pseudo-header sum of an IPv4 or IPv6 header whose addresses are already written. A checksum
 * to store is ~ref_fold(...); data with a right checksum in it folds to 0xffff.
 */
#ifndef HASHI_TESTS_REF_CSUM_H
#define HASHI_TESTS_REF_CSUM_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t ref_sum16(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    return sum;
}

static inline uint16_t ref_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* The source and destination addresses of the IP header at ip (IPv4: bytes 12-19; IPv6: 8-39),
 * the L4 length and the protocol, unfolded. */
static inline uint32_t ref_pseudo(const uint8_t *ip, int ipv6, uint8_t proto, uint32_t l4_len)
{
    uint32_t addrs = ipv6 ? ref_sum16(ip + 8, 32, 0) : ref_sum16(ip + 12, 8, 0);

    return addrs + l4_len + proto;
}

#endif
