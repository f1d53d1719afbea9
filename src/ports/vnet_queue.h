/*
 * One queue of frames to and from the kernel through a file descriptor, each frame optionally
 * preceded by a virtio-net header: a TAP queue (/dev/net/tun with IFF_VNET_HDR) or a packet
 * socket (AF_PACKET with PACKET_VNET_HDR). The TAP and AF_PACKET port types differ only in how
 * they open their descriptors; receiving and sending are this module's.
 *
 * Receiving reads each frame straight into a chain of mbufs kept ready for the largest frame the
 * queue can carry (64 KiB with TSO, the MTU without), so a frame is never copied twice and never
 * truncated unseen; the mbufs a frame did not use wait for the next one. Nothing is allocated
 * except from the mempool.
 */
#ifndef HASHI_VNET_QUEUE_H
#define HASHI_VNET_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "ports/port.h"

/* The largest frame the kernel hands over with TSO on: a 64 KiB GSO packet with its L2 header. */
#define VNET_QUEUE_MAX_FRAME (65536 + 64)
#define VNET_QUEUE_MAX_SEGS                                                                        \
    128 /* mbufs in one frame: a 64 KiB read, or a coalesced frame of                              \
           up to 122 segments of at least 536 bytes, each one mbuf */

struct vnet_queue {
    int fd;
    bool vnet_hdr;           /* frames carry a struct virtio_net_hdr */
    bool is_socket;          /* recvmsg with MSG_TRUNC tells the true length of a long frame */
    uint16_t segs_per_frame; /* mbufs a read is offered */
    uint16_t n_spare;
    struct rte_mbuf *spare[VNET_QUEUE_MAX_SEGS];
};

/* Prepares q for fd (which it does not own). max_frame: the longest frame expected, which sizes
 * the read in buffers of `pool`'s size (every pool of hashi's has the same). Returns 0, or
 * EINVAL when the pool's buffers are too small for max_frame. */
int vnet_queue_init(struct vnet_queue *q, int fd, bool vnet_hdr, bool is_socket, uint32_t max_frame,
                    struct rte_mempool *pool);

/* Returns the spare mbufs to the pool. */
void vnet_queue_fini(struct vnet_queue *q);

/* Reads up to n frames into buffers from io->pool (the polling worker's NUMA node). A frame
 * whose header is invalid, or longer than the read could hold (it offers at least one byte
 * more than max_frame to see that), is counted in io->stats (rx_packets and the drop reason)
 * and freed; the switch judges the rest against the MTU. Returns the frames stored in pkts.
 * One worker at a time. */
uint16_t vnet_queue_rx(struct vnet_queue *q, const struct port_io *io, struct rte_mbuf **pkts,
                       uint16_t n);

/* Writes n frames, headers made from their offload state; frees all n. Frames the kernel
 * refused are counted in io->stats by reason. Returns how many were written. Several workers
 * may write at once (each write is one system call). */
uint16_t vnet_queue_tx(struct vnet_queue *q, const struct port_io *io, struct rte_mbuf **pkts,
                       uint16_t n);

/* port_class.coalesce_limits of ports made of vnet queues: the kernel takes a GSO frame of up
 * to 64 KiB written from up to VNET_QUEUE_MAX_SEGS buffers. */
void vnet_queue_coalesce_limits(const struct port *port, uint32_t *max_frame, uint16_t *max_segs);

#endif
