/*
 * The virtio-net header that the kernel puts before every frame on a TAP (IFF_VNET_HDR) or a
 * packet socket (PACKET_VNET_HDR), translated to and from the offload state of an mbuf:
 *
 *   NEEDS_CSUM, TCP or UDP      <->  RTE_MBUF_F_TX_TCP_CKSUM / _UDP_CKSUM, l2_len, l3_len
 *   gso_type TCPV4 / TCPV6      <->  RTE_MBUF_F_TX_TCP_SEG, _IPV4 / _IPV6, tso_segsz, l4_len
 *
 * Headers from the kernel (or a guest behind a TAP) are validated before anything trusts them
 * (rules in docs/architecture.md, "Offloads"): a header that does not describe its frame is a
 * reason to drop the frame, never to guess.
 */
#ifndef HASHI_VNET_HDR_H
#define HASHI_VNET_HDR_H

#include <linux/virtio_net.h>

#include <rte_mbuf.h>

enum vnet_verdict {
    VNET_OK = 0,
    VNET_BAD_GSO,         /* gso_type unknown or not the frame's, gso_size 0, TCP header or
                             hdr_len beyond the frame, no payload */
    VNET_BAD_CSUM_OFFSET, /* csum_start/csum_offset outside the frame, TCP GSO without a
                             partial checksum at offset 16 */
};

/* Sets m's offload state (ol_flags, l2_len, l3_len, l4_len, tso_segsz) from h, which arrived
 * with m. A partial checksum an mbuf cannot describe (not the TCP or UDP header behind the IP
 * header and its extension headers) is completed here. The headers up to the end of the TCP header
 * must be in m's first segment. Returns VNET_OK, or why m must be dropped. */
enum vnet_verdict vnet_hdr_to_mbuf(const struct virtio_net_hdr *h, struct rte_mbuf *m);

/* Fills h for sending m: the inverse of vnet_hdr_to_mbuf. */
void vnet_hdr_from_mbuf(const struct rte_mbuf *m, struct virtio_net_hdr *h);

#endif
