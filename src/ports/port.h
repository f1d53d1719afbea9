/*
 * The one interface every port type implements (in the spirit of Open vSwitch's netdev
 * providers). The switch core calls ports only through `struct port_class` and never learns
 * which type it talks to.
 *
 * Each port type embeds `struct port` as its first member `up` and gets back to its own
 * structure with container_of().
 *
 * Threads: open/close/describe/set_queues/set_steering run on the control (main) thread.
 * rx_burst, rx_wait and tx_burst run on workers: each receive queue is polled by exactly one
 * worker at a time, while every worker may transmit on the port at once, so tx_burst keeps no
 * state of its own between calls that two workers could share (each worker passes its own
 * counters in `struct port_io`). A port never counts into `struct port` itself.
 */
#ifndef HASHI_PORT_H
#define HASHI_PORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <rte_mbuf.h>

#include "config/config.h"
#include "offload/rsc.h"

#define PORT_MAX       CONFIG_MAX_PORTS
#define PORT_BURST     32 /* packets per rx poll */
#define PORT_TX_BUFFER 64 /* packets buffered per egress port before a forced flush */
#define PORT_ERR_SIZE  CONFIG_ERR_SIZE
#define PORT_WAIT_NAP  (-1) /* rx_wait: the queue cannot signal */
#define PORT_WAIT_NONE (-2) /* rx_wait: the queue is not in use */

/* Why a frame was dropped: each reason is a counter of the port where it happened, a name in
 * `hashictl stats` and a JSON key. RX_* are counted on the ingress port, TX_* on the egress
 * port. */
#define PORT_DROP_REASONS(X)                                                                       \
    X(RX_BAD_FRAME, "bad_frame") /* runt, or multicast or zero source MAC */                       \
    X(RX_TOO_BIG, "rx_too_big")  /* longer than the ingress port's MTU allows */                   \
    X(RX_SAME_PORT, "same_port") /* destination MAC learned on the ingress port */                 \
    X(RX_BAD_GSO, "bad_gso")     /* virtio-net header: gso_type unknown or not the packet's,       \
                                    gso_size 0, hdr_len or TCP header beyond the frame */          \
    X(RX_BAD_CSUM_OFFSET, "bad_csum_offset") /* NEEDS_CSUM outside the frame; TCP GSO with a       \
                                                checksum offset other than 16 */                   \
    X(RX_NO_PORT, "no_port")                 /* flooded, but the bridge has no other port */       \
    X(RX_DISPATCH_FULL, "dispatch_full") /* software dispatch: the target queue's ring was full */ \
    X(TX_LINK_DOWN, "link_down")         /* egress port had no connected peer */                   \
    X(TX_TOO_BIG, "tx_too_big")          /* longer than the egress port's MTU allows */            \
    X(TX_RING_FULL, "ring_full")         /* the peer took fewer frames than offered */             \
    X(TX_BAD_OFFLOAD, "bad_offload") /* a partial checksum or TSO request hashi could not carry    \
                                        out (lengths beyond the frame, gso_size 0, > 128 segs) */  \
    X(TX_NO_BUFFERS, "no_buffers")   /* the buffer pool ran dry while segmenting a TSO frame */    \
    X(TX_ERROR, "tx_error")          /* the kernel refused the frame (write error other than a     \
                                        full queue) */

/* The X-macro expansion reads best as a list. */
/* clang-format off */
enum port_drop {
#define X(id, name) PORT_DROP_##id,
    PORT_DROP_REASONS(X)
#undef X
    PORT_DROP_N
};
/* clang-format on */

extern const char *const port_drop_names[PORT_DROP_N];

/* Offloads a port's peer accepts on frames hashi sends to it. */
#define PORT_OL_CSUM (1u << 0) /* partial L4 checksums (virtio GUEST_CSUM) */
#define PORT_OL_TSO4 (1u << 1) /* TCP/IPv4 frames larger than the MTU (GUEST_TSO4) */
#define PORT_OL_TSO6 (1u << 2) /* TCP/IPv6 (GUEST_TSO6) */

/* Counters of one port. Each worker keeps its own copy per port (no shared cache line on the
 * fast path); hashictl shows their sum. */
struct port_stats {
    uint64_t rx_packets, rx_bytes;
    uint64_t tx_packets, tx_bytes;
    uint64_t flood_copies; /* extra copies made of frames received here (n_out - 1 per flood) */
    uint64_t gso_frames;   /* TSO frames segmented in software on their way out of this port */
    uint64_t gso_segments; /* the segments made of them (each then counted as a tx frame) */
    uint64_t dispatched;   /* frames read from queue 0 and handed to another queue's worker
                              (software dispatch; counted in rx_packets where they arrive) */
    uint64_t drops[PORT_DROP_N];
    struct rsc_stats rsc; /* segments coalesced on their way out of this port */
};

struct port;

/* What a port may ask of the rest of hashi. */
struct port_env {
    struct rte_mempool *pool; /* buffers for frames received outside a worker's call */
    /* Returns once every worker has finished any rx/tx call it was in, and has woken up if it
     * slept: after `sync`, state the port changed beforehand is seen by every later fast-path
     * call, and a worker sleeping on the port's old notification descriptors looks again. */
    void (*sync)(void *ctx);
    /* Wakes every sleeping worker without waiting for it, so that it looks at its queues
     * again: for callers that must not block on a worker (rte_vhost calls back holding its
     * queues' locks, which a waking worker may take). */
    void (*wake)(void *ctx);
    void *sync_ctx;
};

/* What the calling worker lends a port for one rx or tx call. */
struct port_io {
    struct port_stats *stats; /* the worker's own counters of this port */
    struct rte_mempool *pool; /* buffers on the worker's NUMA node, for received frames */
};

/* How frames entering a multi-queue uplink are split over its receive queues. */
enum port_steering {
    PORT_STEER_RSS, /* by a symmetric hash of the flow: both directions of a flow, one queue */
    PORT_STEER_MAC, /* by destination MAC: each VM's traffic on the queue its worker serves */
};

struct port_class {
    const char *type; /* "vhost-user" */

    /* Creates the port described by cfg. Returns 0 and the port in *out, or a positive errno
     * with a message in err. Control thread. */
    int (*open)(const struct port_config *cfg, const struct port_env *env, struct port **out,
                char *err, size_t errlen);

    /* Releases the port and everything it holds. The worker no longer polls it. Control
     * thread. */
    void (*close)(struct port *port);

    /* Receives up to n frames from receive queue `queue` (< port->n_rxq) into pkts; returns
     * how many. The caller owns them. Frames dropped before they reach the switch are counted
     * in io->stats (rx_packets and the reason). The worker that owns the queue. */
    uint16_t (*rx_burst)(struct port *port, uint16_t queue, const struct port_io *io,
                         struct rte_mbuf **pkts, uint16_t n);

    /* Sends n frames. The port owns all n afterwards, sent or not, and frees what it could not
     * send. Returns how many were delivered to the peer, and adds their bytes to
     * io->stats->tx_bytes (which frames those are is the port's to know: a peer with several
     * queues may refuse frames in the middle of the burst); each frame not delivered is counted
     * in io->stats->drops under its reason (ring_full when the peer had no room). A port with
     * several queues toward its peer picks one per frame by flow hash, so a flow keeps its
     * order and flows spread over the peer's CPUs. Any worker, several at once. */
    uint16_t (*tx_burst)(struct port *port, const struct port_io *io, struct rte_mbuf **pkts,
                         uint16_t n);

    /* Adaptive polling. arm: ask the peer to signal new frames on `queue` and return a
     * descriptor that poll() sees readable when it does; PORT_WAIT_NONE when the queue is not
     * in use (no peer, or a queue the guest did not enable: the change that brings it calls
     * env.wake); PORT_WAIT_NAP when it cannot signal (the worker then
     * naps briefly instead of sleeping). !arm: back to polling, with whatever the signal left
     * readable consumed; returns 0. NULL: the port cannot signal. The worker that owns the
     * queue. */
    int (*rx_wait)(struct port *port, uint16_t queue, bool arm);

    /* Changes the number of receive queues to n (1..CONFIG_QUEUES_MAX) while no worker polls
     * them. Returns 0, or a positive errno with a message. NULL: fixed. Control thread. */
    int (*set_queues)(struct port *port, uint16_t n, char *err, size_t errlen);

    /* Chooses how a multi-queue uplink splits received traffic over its queues; `mac_queue`
     * maps a destination MAC (as a 48-bit number) to a queue for PORT_STEER_MAC, for the n
     * MACs given. Returns 0, or a positive errno with a message. NULL: the peer decides
     * (a guest, the kernel's TAP). Control thread. */
    int (*set_steering)(struct port *port, enum port_steering mode, const uint64_t *macs,
                        const uint16_t *queues, size_t n, char *err, size_t errlen);

    /* True while a peer is connected and ready to receive. Worker or any thread. */
    bool (*link_up)(const struct port *port);

    /* PORT_OL_* the connected peer accepts; 0 when down. Worker or any thread. */
    uint32_t (*offloads)(const struct port *port);

    /* The largest frame the peer can take now, in bytes from the Ethernet header on, and the
     * most buffers it may span: what receive segment coalescing may build for this port. Only
     * asked when offloads() has TSO. NULL: the port takes no frame above max_frame. Worker. */
    void (*coalesce_limits)(const struct port *port, uint32_t *max_frame, uint16_t *max_segs);

    /* Adds type-specific facts (path, mode, negotiated features, kernel-side drops) to a JSON
     * object. May be NULL. Control thread; it may update control-thread-only fields of its
     * own type (a kernel counter that resets when read is accumulated there). */
    void (*describe)(struct port *port, json_t *out);
};

struct port {
    const struct port_class *class;
    char name[CONFIG_NAME_SIZE];
    uint16_t id;     /* slot in the switch, used by the FDB */
    uint16_t bridge; /* index of the bridge the port belongs to */
    uint32_t mtu;
    uint32_t max_frame;      /* mtu + Ethernet header + one VLAN tag, bytes */
    const char *rsc_refusal; /* why the port cannot carry coalesced frames; NULL: it can */
    bool rsc;                /* coalesce TCP segments for this port's peer: the setting, which
                                each worker copies (control thread) */
    uint16_t n_rxq;          /* receive queues; changed only while no worker polls the port */
    atomic_int numa;         /* NUMA node of the peer's memory (a guest's), -1 unknown */
    enum port_steering steering;
};

/* A burst toward a peer with several receive queues, split by flow (offload/flow_hash.h): each
 * queue's frames in their order, so a flow keeps its order and its queue. */
struct port_flow_split {
    uint16_t count[CONFIG_QUEUES_MAX];
    struct rte_mbuf *pkts[CONFIG_QUEUES_MAX][PORT_TX_BUFFER];
};

/* Splits n (<= PORT_TX_BUFFER) frames over n_queues (<= CONFIG_QUEUES_MAX). For tx_burst. */
void port_split_by_flow(struct port_flow_split *split, struct rte_mbuf **pkts, uint16_t n,
                        uint16_t n_queues);

/* The port class for a configured type; NULL if hashi has none. */
const struct port_class *port_class_find(enum port_type type);

/* Fills the common fields; called by each type's open. */
void port_init(struct port *port, const struct port_class *class, const struct port_config *cfg);

#endif
