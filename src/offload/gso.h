/*
 * Software TCP segmentation (GSO): a sender's TSO frame (RTE_MBUF_F_TX_TCP_SEG, up to 64 KiB
 * of payload behind one set of headers) cut into wire-sized TCP segments for a port that did
 * not negotiate TSO. Each segment is a complete frame of its own: headers copied from the
 * original, then the rewritten fields per segment
 * - payload: tso_segsz bytes, the last segment taking what is left (shorter or equal);
 * - TCP sequence number: advanced by the payload bytes of the segments before it;
 * - IPv4 ID: the original ID plus the segment index, modulo 2^16;
 * - TCP flags: PSH and FIN only on the last segment, CWR only on the first, all others (and
 *   every TCP option byte, including the urgent pointer) copied unchanged;
 * - IPv4 total length / IPv6 payload length (which counts the extension headers) rewritten;
 * - IPv4 header checksum and TCP checksum computed from scratch. The input TCP checksum field
 *   is never read: senders leave a partial pseudo-header sum in it, in whatever convention.
 * VLAN tags (0x8100, 0x88a8) are part of l2 and copied like any other l2 byte.
 *
 * Not done here: the egress MTU check (a segment still larger than the MTU is the caller's to
 * drop and count), fixed IPv4 IDs (an mbuf cannot say the flow uses one), and the final
 * destination of an IPv6 routing header with segments left (the pseudo-header uses the
 * destination field of the IPv6 header).
 */
#ifndef HASHI_GSO_H
#define HASHI_GSO_H

#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

/* Most segments one frame may become. A frame that would need more is refused: a guest asking
 * for a tso_segsz of 1 must not make the switch build 65000 frames. */
#define GSO_MAX_SEGS 128

enum gso_error {
    GSO_ERR_BAD = -1,   /* the metadata does not describe the frame: nothing done */
    GSO_ERR_NOMEM = -2, /* the pool ran dry: whatever was allocated has been freed */
};

/*
 * Splits the TCP TSO frame m into segments of at most m->tso_segsz payload bytes, each a new
 * mbuf (a chain when one mbuf's room does not hold it) from pool, stored in segs[0..n-1] in
 * sequence order. Segments carry no TX offload request (ol_flags is 0, or only
 * RTE_MBUF_F_EXTERNAL from a pool of pinned external buffers), and keep the original's l2_len,
 * l3_len and l4_len. The first mbuf of a segment keeps the pool's headroom.
 *
 * What m must carry:
 * - ol_flags: RTE_MBUF_F_TX_TCP_SEG and exactly one of RTE_MBUF_F_TX_IPV4, RTE_MBUF_F_TX_IPV6.
 *   RTE_MBUF_F_TX_IP_CKSUM and RTE_MBUF_F_TX_TCP_CKSUM may be set (the segments' checksums are
 *   complete anyway). Any other TX request (VLAN insertion, tunnel or outer headers, UDP
 *   segmentation, ...) is refused: a segment could not honour it, and dropping it unsaid
 *   would change the frame.
 * - l2_len: Ethernet and any VLAN tags, in bytes;
 *   l3_len: IPv4 header with options, or IPv6 header with extension headers, in bytes;
 *   l4_len: TCP header with options, in bytes;
 *   tso_segsz: payload bytes per segment (the MSS).
 * m may be a chain of segments of any sizes (the headers may straddle segments) and may be
 * shared (refcnt > 1): it is only read, never modified or freed. The caller still owns it.
 *
 * Returns the number of segments stored in segs (1..max), or
 * - GSO_ERR_BAD when the metadata does not describe the frame, nothing done:
 *   - ol_flags not as above, or tso_segsz 0;
 *   - l2_len shorter than Ethernet, the headers reaching beyond the frame, no payload after
 *     them, or pkt_len not the sum of the chain's data_len;
 *   - the IP version nibble not matching the flag;
 *   - IPv4: ihl * 4 != l3_len, protocol not TCP, or a fragment;
 *   - IPv6: extension headers not leading to TCP exactly at l3_len (only hop-by-hop, routing
 *     and destination options are walked; fragment, AH and ESP are refused);
 *   - TCP data offset * 4 != l4_len;
 *   - more than max or GSO_MAX_SEGS segments needed, or a segment whose IP length field
 *     would not fit 16 bits;
 * - GSO_ERR_NOMEM when pool ran dry (or its mbufs have no data room); nothing allocated is left
 *   behind, and segs holds nothing the caller must free.
 */
int gso_segment(const struct rte_mbuf *m, struct rte_mempool *pool, struct rte_mbuf **segs,
                uint16_t max);

#endif
