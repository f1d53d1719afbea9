/*
 * The one interface every port type implements (in the spirit of Open vSwitch's netdev
 * providers). The switch core calls ports only through `struct port_class` and never learns
 * which type it talks to.
 *
 * Each port type embeds `struct port` as its first member `up` and gets back to its own
 * structure with container_of().
 *
 * Threads: open/close/describe run on the control (main) thread; rx_burst/tx_burst/link_up/
 * offloads run on the worker that owns the port. Fields of `struct port` below the line
 * "worker-owned" are written by the worker only; other threads read them through worker_call().
 */
#ifndef HASHI_PORT_H
#define HASHI_PORT_H

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
    X(TX_LINK_DOWN, "link_down")             /* egress port had no connected peer */               \
    X(TX_TOO_BIG, "tx_too_big")              /* longer than the egress port's MTU allows */        \
    X(TX_RING_FULL, "ring_full")             /* the peer took fewer frames than offered */         \
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

struct port_stats {
    uint64_t rx_packets, rx_bytes;
    uint64_t tx_packets, tx_bytes;
    uint64_t flood_copies; /* extra copies made of frames received here (n_out - 1 per flood) */
    uint64_t gso_frames;   /* TSO frames segmented in software on their way out of this port */
    uint64_t gso_segments; /* the segments made of them (each then counted as a tx frame) */
    uint64_t drops[PORT_DROP_N];
    struct rsc_stats rsc; /* segments coalesced on their way out of this port */
};

struct port;

/* What a port may ask of the rest of hashi. */
struct port_env {
    struct rte_mempool *pool; /* buffers for received frames */
    /* Returns once the worker has finished any rx/tx call it was in: after `sync`, state the
     * port changed beforehand is seen by every later fast-path call. */
    void (*sync)(void *ctx);
    void *sync_ctx;
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

    /* Receives up to n frames into pkts; returns how many. The caller owns them. Worker. */
    uint16_t (*rx_burst)(struct port *port, struct rte_mbuf **pkts, uint16_t n);

    /* Sends n frames. The port owns all n afterwards, sent or not, and frees what it could not
     * send. Returns how many were delivered to the peer; each frame not delivered is counted in
     * port->stats.drops under its reason (ring_full when the peer had no room). Worker. */
    uint16_t (*tx_burst)(struct port *port, struct rte_mbuf **pkts, uint16_t n);

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
    bool rsc;                /* coalesce TCP segments for this port's peer (worker-read; changed
                                through worker_call) */

    /* --- worker-owned --- */
    struct port_stats stats;
    uint16_t tx_count;
    struct rte_mbuf *tx_pkts[PORT_TX_BUFFER];
};

/* The port class for a configured type; NULL if hashi has none. */
const struct port_class *port_class_find(enum port_type type);

/* Fills the common fields; called by each type's open. */
void port_init(struct port *port, const struct port_class *class, const struct port_config *cfg);

#endif
