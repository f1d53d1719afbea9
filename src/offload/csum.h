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

/* True when m carries a partial L4 checksum that someone still has to complete. */
static inline bool csum_is_partial(const struct rte_mbuf *m)
{
    return (m->ol_flags & RTE_MBUF_F_TX_L4_MASK) != 0;
}

/* Computes the L4 checksum over the whole segment chain, stores it, and clears the offload
 * request. Returns 0, or -1 (and leaves m unchanged) when the offsets do not fit the frame or
 * the checksum field is not in the first segment. Does not validate or touch the IP header. */
int csum_complete(struct rte_mbuf *m);

#endif
