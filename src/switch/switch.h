/*
 * The L2 switch core: MAC learning, forwarding and flooding over mbuf bursts, with no I/O of
 * its own beyond handing frames to ports' tx_burst. One `struct sw` belongs to one worker: its
 * view of every port (the worker's own tx buffer and counters for it) and its coalescing table.
 * The FDB is shared by all workers (switch/fdb.h): any of them learns, all look up without a
 * lock.
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

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "config/config.h"
#include "offload/rsc.h"
#include "ports/port.h"
#include "switch/fdb.h"

/* One worker's side of one port. */
struct sw_port {
    struct port *port; /* NULL: free slot */
    struct port_io io; /* this worker's counters for the port, and its buffers */
    bool rsc;          /* this worker's copy of port->rsc: it changes between two bursts */
    struct port_stats stats;
    uint16_t tx_count;
    struct rte_mbuf *tx_pkts[PORT_TX_BUFFER];
};

struct sw {
    struct fdb *fdb;                /* shared by every worker */
    unsigned fdb_reader;            /* this worker's reader id in the FDB */
    struct sw_port ports[PORT_MAX]; /* by port id */
    uint16_t n_ports_max;           /* highest used id + 1, bounds the loops over ports */
    uint32_t now;                   /* seconds, from sw_tick() */
    struct rte_mempool *pool;       /* buffers on this worker's NUMA node */
    struct rsc_table rsc;
};

/* Prepares a switch that learns into and looks up in the shared fdb, as reader fdb_reader.
 * pool: buffers for received frames and software GSO. */
void sw_init(struct sw *sw, struct fdb *fdb, unsigned fdb_reader, struct rte_mempool *pool);

/* Starts forwarding to and from port (its id and bridge already set), with zeroed counters. */
void sw_attach(struct sw *sw, struct port *port);

/* Turns coalescing toward port on or off; call between two bursts. */
void sw_set_rsc(struct sw *sw, const struct port *port, bool on);

/* Stops forwarding to port: sends what is buffered for it and copies its counters to *final.
 * (The FDB is shared: forgetting the port's MACs is the caller's, once.) */
void sw_detach(struct sw *sw, struct port *port, struct port_stats *final);

/* Switches a burst received on port `in_id`. Frames go to per-port tx buffers; sw_flush()
 * sends them. Takes ownership of every mbuf. Coalesced aggregates are in the tx buffers when
 * it returns. */
void sw_input(struct sw *sw, uint16_t in_id, struct rte_mbuf **pkts, uint16_t n);

/* Sends every port's buffered frames. */
void sw_flush(struct sw *sw);

/* Sets the switch's clock (seconds since start), which dates what it learns. Called once a
 * second. (The shared FDB is aged by the control thread.) */
void sw_tick(struct sw *sw, uint32_t now);

/* Adds this worker's counters of every port into sum[PORT_MAX], by port id. */
void sw_stats_add(const struct sw *sw, struct port_stats *sum);

/* Adds one set of port counters into another. */
void port_stats_add(struct port_stats *sum, const struct port_stats *st);

#endif
