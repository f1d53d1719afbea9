/*
 * Checksum completion: finishing the L4 checksum a sender left partial (virtio NEEDS_CSUM,
 * carried in the mbuf as RTE_MBUF_F_TX_TCP_CKSUM or RTE_MBUF_F_TX_UDP_CKSUM with l2_len and
 * l3_len, the checksum field holding the pseudo-header sum) for a receiver that did not
 * negotiate checksum offload.
 */
#ifndef HASHI_CSUM_H
#define HASHI_CSUM_H

#include <stdbool.h>

#include <rte_mbuf.h>

/* Where the checksum field sits in a TCP and a UDP header (virtio's csum_offset). */
#define TCP_CSUM_OFFSET 16
#define UDP_CSUM_OFFSET 6

/* True when m carries a partial L4 checksum that someone still has to complete. */
static inline bool csum_is_partial(const struct rte_mbuf *m)
{
    return (m->ol_flags & RTE_MBUF_F_TX_L4_MASK) != 0;
}

/* Ones' complement sum (folded, not complemented) of len bytes from offset off of a segment
 * chain, exact also when a segment starts at an odd offset of the range. Returns 0, or -1 when
 * the chain is shorter than off + len. */
int csum_sum(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint16_t *out);

/* Generic completion (virtio NEEDS_CSUM with any protocol): sums from `start` to the end of
 * the frame, with the field at start + offset holding the sender's seed, and stores the
 * complemented sum in that field. Returns 0, or -1 when the field is not in the first segment
 * or start is outside the frame. */
int csum_complete_at(struct rte_mbuf *m, uint32_t start, uint32_t offset);

/* Computes the L4 checksum over the whole segment chain, stores it, and clears the offload
 * request. Returns 0, or -1 (and leaves m unchanged) when the offsets do not fit the frame or
 * the checksum field is not in the first segment. Does not validate or touch the IP header. */
int csum_complete(struct rte_mbuf *m);

#endif
