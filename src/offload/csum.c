#include "csum.h"

#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>

/* DPDK 22.11's rte_raw_cksum_mbuf() truncates a segment's unfolded sum before
 * byte-swapping it when the segment starts at an odd offset of the range (a known bug, fixed
 * upstream later); folding each segment first keeps the swap exact. */
int csum_sum(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint16_t *out)
{
    uint32_t sum = 0, done = 0;

    for (; m && done < len; m = m->next) {
        uint32_t seglen = rte_pktmbuf_data_len(m);
        if (off >= seglen) {
            off -= seglen;
            continue;
        }
        uint32_t take = RTE_MIN(seglen - off, len - done);
        uint16_t part = rte_raw_cksum(rte_pktmbuf_mtod_offset(m, const char *, off), take);
        /* a range starting at an odd byte has its bytes in swapped lanes */
        sum += (done & 1) ? rte_bswap16(part) : part;
        done += take;
        off = 0;
    }
    if (done != len)
        return -1;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    *out = (uint16_t)sum;
    return 0;
}

int csum_complete_at(struct rte_mbuf *m, uint32_t start, uint32_t offset)
{
    uint32_t field = start + offset;
    uint16_t sum;

    if (field + 2 > rte_pktmbuf_data_len(m) || start >= rte_pktmbuf_pkt_len(m) ||
        csum_sum(m, start, rte_pktmbuf_pkt_len(m) - start, &sum) < 0)
        return -1;
    sum = (uint16_t)~sum;
    memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, field), &sum, sizeof sum);
    return 0;
}

int csum_complete(struct rte_mbuf *m)
{
    uint64_t l4 = m->ol_flags & RTE_MBUF_F_TX_L4_MASK;
    uint32_t start = (uint32_t)m->l2_len + m->l3_len;
    uint32_t field;
    uint16_t sum;

    if (l4 == RTE_MBUF_F_TX_TCP_CKSUM)
        field = start + TCP_CSUM_OFFSET;
    else if (l4 == RTE_MBUF_F_TX_UDP_CKSUM)
        field = start + UDP_CSUM_OFFSET;
    else
        return -1; /* SCTP's CRC32c is not a ones' complement sum */
    if (field + 2 > rte_pktmbuf_data_len(m) || start >= rte_pktmbuf_pkt_len(m))
        return -1;
    /* The field holds the pseudo-header sum, so summing the L4 bytes as they are yields the
     * full checksum (RFC 1071 arithmetic is order-independent). */
    if (csum_sum(m, start, rte_pktmbuf_pkt_len(m) - start, &sum) < 0)
        return -1;
    sum = (uint16_t)~sum;
    if (sum == 0 && l4 == RTE_MBUF_F_TX_UDP_CKSUM)
        sum = 0xffff; /* 0 means "no checksum" in UDP over IPv4 */
    memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, field), &sum, sizeof sum);
    m->ol_flags &= ~RTE_MBUF_F_TX_L4_MASK;
    return 0;
}
