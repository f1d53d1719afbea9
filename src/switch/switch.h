/*
 * The L2 switch core: MAC learning, forwarding and flooding over mbuf bursts, with no I/O of
 * its own beyond handing frames to ports' tx_burst. One `struct sw` belongs to one worker.
 *
 * Forwarding rules: a frame is learned by source MAC on its ingress port; a unicast
 * destination found in the FDB goes to that port only; broadcast, multicast and unknown
 * unicast are flooded to every other port of the same bridge; nothing is ever sent back out of
 * its ingress port.
 *
 * Offloads per egress port: a TSO frame goes whole to a port that takes TSO of its IP version
 * and is segmented in software (offload/gso.c) for any other; a partial checksum is completed
 * for a port without checksum offload. MTUs limit wire frames, so a TSO frame is measured by
 * its segments (headers + gso_size), on the way in and on the way out.
 *
 * Receive segment coalescing (offload/rsc.c) is the last step toward a port with `rsc` on whose
 * peer takes large TCP frames: segments of one flow in one burst leave as one TSO frame. Every
 * burst ends with the coalescing table empty.
 *
 * Accounting (checked by the tests): every received frame is counted once in rx_packets of its
 * ingress port, and every copy of it ends either in tx_packets of one egress port or in one drop
 * counter; a segmented frame becomes gso_segments frames in place of one, and rsc.segments_in
 * coalesced segments become rsc.aggregates_out frames. Summed over all ports
 *     rx_packets + flood_copies + gso_segments - gso_frames
 *         - rsc.segments_in + rsc.aggregates_out == tx_packets + drops
 */
#ifndef HASHI_SWITCH_H
#define HASHI_SWITCH_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "config/config.h"
#include "offload/rsc.h"
#include "ports/port.h"
#include "switch/fdb.h"

#define SW_FDB_CAPACITY 16384

struct sw {
    struct fdb fdb;
    struct port *ports[PORT_MAX]; /* by port id; NULL: free slot */
    uint16_t n_ports_max;         /* highest used id + 1, bounds the polling loop */
    uint32_t aging_s[CONFIG_MAX_BRIDGES];
    uint32_t now;             /* seconds, advanced by sw_tick() */
    struct rte_mempool *pool; /* segments made by software GSO */
    struct rsc_table rsc;
};

/* Returns 0 or ENOMEM. */
int sw_init(struct sw *sw, struct rte_mempool *pool);
void sw_destroy(struct sw *sw);

/* Starts forwarding to and from port (its id and bridge already set). */
void sw_attach(struct sw *sw, struct port *port);

/* Stops forwarding to port: sends what is buffered for it and forgets its MACs. */
void sw_detach(struct sw *sw, struct port *port);

/* Switches a burst received on `in`. Frames go to per-port tx buffers; sw_flush() sends them.
 * Takes ownership of every mbuf. Coalesced aggregates are in the tx buffers when it returns. */
void sw_input(struct sw *sw, struct port *in, struct rte_mbuf **pkts, uint16_t n);

/* Sends every port's buffered frames. */
void sw_flush(struct sw *sw);

/* Advances the switch's clock by one second and ages the FDB; called once a second. */
void sw_tick(struct sw *sw);

#endif
