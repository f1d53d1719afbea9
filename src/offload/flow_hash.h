/*
 * The flow hash hashi uses wherever it must spread flows over queues while keeping each flow on
 * one: the Toeplitz hash of the IP addresses and TCP/UDP ports (the function NICs use for RSS),
 * with a key made of one 16-bit pattern repeated, which makes it symmetric: a flow and its
 * reply hash alike, so both directions land on the same queue of a receiver.
 */
#ifndef HASHI_FLOW_HASH_H
#define HASHI_FLOW_HASH_H

#include <stdint.h>

#include <rte_mbuf.h>

/* The hash of m's flow: addresses and, unless m is a fragment, ports. 0 for frames that are
 * not IP (ARP, LLDP...), which thus all take one queue. Cached in m->hash.rss, marked with
 * RTE_MBUF_F_RX_RSS_HASH, so that each frame is hashed once. */
uint32_t flow_hash(struct rte_mbuf *m);

/* Queue for a flow among n: the same for a flow for as long as n stays the same. */
static inline uint16_t flow_hash_queue(uint32_t hash, uint16_t n)
{
    return (uint16_t)(((uint64_t)hash * n) >> 32);
}

#endif
