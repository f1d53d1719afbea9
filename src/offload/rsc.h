/*
 * Receive segment coalescing (RSC, Linux's GRO): consecutive TCP segments of one flow, on their
 * way to one receiver, become one large frame with a TSO request (gso_size = the segments' MSS)
 * and a partial checksum, so that the receiver's stack handles one frame where it would have
 * handled up to 45. The rules are in docs/architecture.md ("Receive segment coalescing");
 * the one that matters most: segmenting an aggregate at its gso_size gives back the original
 * segments, payload and sequence numbers, exactly. Nothing is merged that would break that.
 *
 * The engine is a stage of the worker's fast path. The switch offers it each frame it is about
 * to hand to a port whose receiver takes large frames (rsc_input); the engine either keeps the
 * frame (merged into an aggregate, or as the start of one) or gives it back to be sent at once.
 * Aggregates leave through the emit function: when a segment cannot join, when they are full,
 * and at the latest at rsc_flush(), which the switch calls at the end of every burst it
 * switches, so that no segment waits longer than one poll of its ingress port.
 *
 * Order within a flow is kept: before a frame of a held flow is given back unmerged, the flow's
 * aggregate is emitted; rsc_flush emits flows oldest first.
 *
 * Memory: aggregates are chains of the segments' own buffers (each segment's headers cut off),
 * so merging copies no payload and allocates nothing. A per-worker table of RSC_MAX_FLOWS flows;
 * a new flow when it is full evicts (emits) the oldest.
 */
#ifndef HASHI_RSC_H
#define HASHI_RSC_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#define RSC_MAX_FLOWS  16    /* aggregates held at once by one worker */
#define RSC_MAX_IP_LEN 65535 /* IPv4 total length / IPv6 payload length are 16 bits */

/* Why an aggregate was emitted. */
#define RSC_FLUSH_REASONS(X)                                                                       \
    X(POLL_END, "poll_end")         /* the burst it came in has been switched */                   \
    X(PUSH, "push")                 /* a segment with PSH or FIN joined as the last */             \
    X(SHORT, "short")               /* a segment shorter than the MSS joined as the last */        \
    X(SIZE, "size")                 /* no further segment fits: 64 KiB or the receiver's buffer */ \
    X(MISMATCH, "mismatch")         /* ack, window, flags, options, TTL, TOS/ECN, DF or IP ID      \
                                       differ; CWR; a segment longer than the MSS */               \
    X(OUT_OF_ORDER, "out_of_order") /* a gap, an overlap or a retransmission */                    \
    X(UNMERGEABLE, "unmergeable")   /* a frame of the flow that cannot join (no payload, SYN,      \
                                       RST, URG, bad checksum, TSO) passes behind it */            \
    X(TABLE_FULL, "table_full")     /* the oldest aggregate made room for a new flow */

/* Why a frame toward a receiver with RSC on was passed on unmerged. */
#define RSC_BYPASS_REASONS(X)                                                                      \
    X(NOT_TCP, "not_tcp")       /* not TCP over IPv4 or IPv6 */                                    \
    X(IP_OPTIONS, "ip_options") /* IPv4 options or IPv6 extension headers */                       \
    X(FRAGMENT, "fragment")     /* an IP fragment */                                               \
    X(NO_PAYLOAD, "no_payload") /* pure ACK, window update, bare FIN */                            \
    X(TCP_FLAGS, "tcp_flags")   /* SYN, RST or URG */                                              \
    X(BAD_CSUM, "bad_csum")     /* IPv4 header or TCP checksum wrong: a merge must not hide it */  \
    X(OUT_OF_ORDER, "out_of_order") /* not the next segment of its held flow (which went first) */ \
    X(LARGE, "large")               /* already a TSO frame */                                      \
    X(LAYOUT, "layout") /* headers beyond the first buffer, IP length not the frame's (padding),   \
                           an external or cloned buffer */                                         \
    X(RECEIVER, "receiver") /* receiver takes no large frames of this IP version, or its buffers   \
                               hold no more than this segment */                                   \
    X(FLOOD, "flood")       /* a buffer shared by several ports (a flood of a multicast or unknown \
                               destination) */

/* clang-format off */
enum rsc_flush {
#define X(id, name) RSC_FLUSH_##id,
    RSC_FLUSH_REASONS(X)
#undef X
    RSC_FLUSH_N
};

enum rsc_bypass {
#define X(id, name) RSC_BYPASS_##id,
    RSC_BYPASS_REASONS(X)
#undef X
    RSC_BYPASS_N
};
/* clang-format on */

extern const char *const rsc_flush_names[RSC_FLUSH_N];
extern const char *const rsc_bypass_names[RSC_BYPASS_N];

/* Counters of one receiver. segments_in counts the TCP segments the engine took, and
 * aggregates_out the frames it emitted for them (a lone segment is an aggregate of one), so
 * segments_in / aggregates_out is the mean number of segments per frame delivered. */
struct rsc_stats {
    uint64_t segments_in;
    uint64_t aggregates_out;
    uint64_t flushes[RSC_FLUSH_N];
    uint64_t bypasses[RSC_BYPASS_N];
};

/* One receiver as the engine needs to know it, filled by the caller for each frame. */
struct rsc_target {
    void *port;              /* handed to emit; part of the flow identity */
    struct rsc_stats *stats; /* the receiver's counters */
    uint32_t max_frame;      /* longest frame it can take, bytes from the Ethernet header on */
    uint16_t max_segs;       /* most buffers such a frame may span */
    uint16_t in_port;        /* ingress port: part of the flow identity */
    bool tso4, tso6;         /* takes TCP/IPv4 (TCP/IPv6) frames of several segments with a partial
                                checksum */
};

/* Delivers an emitted frame (an aggregate with its TSO request, or a lone segment unchanged)
 * to port; takes ownership of m. */
typedef void (*rsc_emit_fn)(void *ctx, void *port, struct rte_mbuf *m);

/* An aggregate being built. Fields are the engine's own. */
struct rsc_flow {
    struct rte_mbuf *head; /* first segment with its headers; the others chained behind it */
    struct rte_mbuf *tail; /* last buffer of the chain */
    void *port;
    struct rsc_stats *stats;
    uint32_t hash;
    uint32_t next_seq;  /* sequence number the next segment must carry */
    uint32_t max_frame; /* bytes the aggregate may reach */
    uint16_t max_segs;
    uint16_t in_port;
    uint16_t hdr_len; /* Ethernet, VLAN, IP and TCP headers */
    uint16_t mss;     /* payload of the first segment */
    uint16_t count;   /* segments in the aggregate */
    uint16_t ip_id;   /* IPv4 ID of the last segment */
    int8_t id_step;   /* IPv4 ID per segment: 0 fixed, 1 incrementing, -1 not known yet */
    uint8_t push;     /* PSH and FIN of the last segment, for the aggregate's header */
};

struct rsc_table {
    rsc_emit_fn emit;
    void *ctx;
    uint16_t n_flows;
    uint8_t order[RSC_MAX_FLOWS]; /* slots of the held flows, oldest first */
    struct rsc_flow flows[RSC_MAX_FLOWS];
};

/* emit(ctx, port, m) receives every frame the engine lets go. */
void rsc_init(struct rsc_table *t, rsc_emit_fn emit, void *ctx);

/*
 * Offers frame m, going to `to`, to the engine. Returns true when the engine took m: it is held
 * in an aggregate, or has been emitted. Returns false when m passes unmerged (counted under its
 * bypass reason): the caller sends it now, and any aggregate of its flow has been emitted before
 * the call returned.
 *
 * m's offload state must be the ingress port's (vnet_hdr.h): a partial TCP checksum
 * (RTE_MBUF_F_TX_TCP_CKSUM) is trusted as a local sender's, as is RTE_MBUF_F_RX_L4_CKSUM_GOOD;
 * any other segment's IPv4 and TCP checksums are verified.
 */
bool rsc_input(struct rsc_table *t, const struct rsc_target *to, struct rte_mbuf *m);

/* Emits every aggregate, oldest first (reason poll_end). Cheap when nothing is held. */
void rsc_flush(struct rsc_table *t);

/* True when nothing is held: between two bursts, always. */
static inline bool rsc_idle(const struct rsc_table *t)
{
    return t->n_flows == 0;
}

#endif
