#include "flow_hash.h"

#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_thash.h>
#include <rte_udp.h>

#include "offload/frame.h"

/* 0x6d5a repeated: with a key whose period is 16 bits, swapping two 32-bit addresses or two
 * 16-bit ports moves each over key bits that are the same, so the hash cannot tell. */
static const uint8_t symmetric_key[40] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

/* Big-endian words of the frame, as rte_softrss wants them in host order. */
static inline uint32_t word_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t compute(const struct rte_mbuf *m)
{
    const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
    uint32_t len = rte_pktmbuf_data_len(m);
    uint32_t tuple[9]; /* IPv6: two 4-word addresses and the ports */
    uint32_t n = 0, addr_off, addr_words;
    struct frame_headers f;

    frame_parse(m, &f);
    if (f.cut_short || f.ip_version == 0)
        return 0;
    if (f.ip_version == 4) {
        addr_off = f.l2_len + offsetof(struct rte_ipv4_hdr, src_addr);
        addr_words = 2;
    } else {
        addr_off = f.l2_len + offsetof(struct rte_ipv6_hdr, src_addr);
        addr_words = 8;
    }
    for (uint32_t i = 0; i < addr_words; i++)
        tuple[n++] = word_at(data + addr_off + 4 * i);
    /* a fragment's ports are in its first fragment only: hashed by addresses, all fragments
     * of a datagram stay together */
    if (!f.fragment && (f.l4_proto == IPPROTO_TCP || f.l4_proto == IPPROTO_UDP) &&
        (uint32_t)f.l2_len + f.l3_len + 4 <= len)
        tuple[n++] = word_at(data + f.l2_len + f.l3_len);
    return rte_softrss(tuple, n, symmetric_key);
}

uint32_t flow_hash(struct rte_mbuf *m)
{
    if (!(m->ol_flags & RTE_MBUF_F_RX_RSS_HASH)) {
        m->hash.rss = compute(m);
        m->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
    }
    return m->hash.rss;
}
