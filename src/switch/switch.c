#include "switch.h"

#include <errno.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_prefetch.h>
#include <rte_tcp.h>

#include "offload/csum.h"
#include "offload/gso.h"

static void rsc_emit(void *ctx, void *port, struct rte_mbuf *m);

void sw_init(struct sw *sw, struct fdb *fdb, unsigned fdb_reader, struct rte_mempool *pool)
{
    memset(sw, 0, sizeof *sw);
    sw->fdb = fdb;
    sw->fdb_reader = fdb_reader;
    sw->pool = pool;
    rsc_init(&sw->rsc, rsc_emit, sw);
}

void sw_attach(struct sw *sw, struct port *port)
{
    struct sw_port *sp = &sw->ports[port->id];

    memset(sp, 0, sizeof *sp);
    sp->port = port;
    sp->io.stats = &sp->stats;
    sp->io.pool = sw->pool;
    sp->rsc = port->rsc;
    if (port->id >= sw->n_ports_max)
        sw->n_ports_max = port->id + 1;
}

void sw_set_rsc(struct sw *sw, const struct port *port, bool on)
{
    /* between two bursts the coalescing table is empty: nothing is held for the port */
    sw->ports[port->id].rsc = on;
}

static void port_send(struct sw_port *sp)
{
    struct port *port = sp->port;
    uint16_t n = sp->tx_count;

    if (n == 0)
        return;
    sp->tx_count = 0;
    /* link state is checked once a burst, not per frame: a peer that left while the burst was
     * gathered loses the burst as link_down */
    if (unlikely(!port->class->link_up(port))) {
        sp->stats.drops[PORT_DROP_TX_LINK_DOWN] += n;
        rte_pktmbuf_free_bulk(sp->tx_pkts, n);
        return;
    }
    sp->stats.tx_packets += port->class->tx_burst(port, &sp->io, sp->tx_pkts, n);
}

void sw_detach(struct sw *sw, struct port *port, struct port_stats *final)
{
    struct sw_port *sp = &sw->ports[port->id];

    if (sp->port != port) { /* never attached here: nothing to send or count */
        memset(final, 0, sizeof *final);
        return;
    }
    port_send(sp);
    *final = sp->stats;
    sp->port = NULL;
    while (sw->n_ports_max > 0 && !sw->ports[sw->n_ports_max - 1].port)
        sw->n_ports_max--;
}

static inline void drop(struct sw_port *sp, enum port_drop reason, struct rte_mbuf *m)
{
    sp->stats.drops[reason]++;
    rte_pktmbuf_free(m);
}

static inline bool is_tso(const struct rte_mbuf *m)
{
    return (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) != 0;
}

/* The longest frame m puts on a wire: each of a TSO frame's segments, or m itself. This is what
 * an MTU limits. */
static inline uint32_t wire_frame_len(const struct rte_mbuf *m)
{
    if (is_tso(m))
        return (uint32_t)m->l2_len + m->l3_len + m->l4_len + m->tso_segsz;
    return rte_pktmbuf_pkt_len(m);
}

static inline void enqueue(struct sw_port *out, struct rte_mbuf *m)
{
    out->tx_pkts[out->tx_count++] = m;
    if (out->tx_count == PORT_TX_BUFFER)
        port_send(out);
}

static void rsc_emit(void *ctx, void *port, struct rte_mbuf *m)
{
    (void)ctx;
    enqueue(port, m);
}

/* Offers m to the coalescing engine on its way to out. True when the engine took it. */
static bool coalesce(struct sw *sw, uint16_t in_id, struct sw_port *sp, struct rte_mbuf *m,
                     uint32_t offloads)
{
    const struct port *out = sp->port;
    struct rsc_target to = {
        .port = sp,
        .stats = &sp->stats.rsc,
        .max_frame = out->max_frame,
        .max_segs = 1,
        .in_port = in_id,
        .tso4 = (offloads & (PORT_OL_CSUM | PORT_OL_TSO4)) == (PORT_OL_CSUM | PORT_OL_TSO4),
        .tso6 = (offloads & (PORT_OL_CSUM | PORT_OL_TSO6)) == (PORT_OL_CSUM | PORT_OL_TSO6),
    };

    if ((to.tso4 || to.tso6) && out->class->coalesce_limits) {
        out->class->coalesce_limits(out, &to.max_frame, &to.max_segs);
    } else if (rsc_idle(&sw->rsc)) {
        /* nothing held that the frame could overtake: no need to read it */
        sp->stats.rsc.bypasses[RSC_BYPASS_RECEIVER]++;
        return false;
    } else {
        to.tso4 = to.tso6 = false;
    }
    return rsc_input(&sw->rsc, &to, m);
}

/* Whether the peer can hold TSO frame m in what it has posted: a guest without mergeable
 * receive buffers that posted small ones would never take it, and everything queued behind it
 * would wait. */
static inline bool fits_receiver(const struct port *out, const struct rte_mbuf *m)
{
    uint32_t max_frame;
    uint16_t max_segs;

    if (!out->class->coalesce_limits)
        return true;
    out->class->coalesce_limits(out, &max_frame, &max_segs);
    return rte_pktmbuf_pkt_len(m) <= max_frame && m->nb_segs <= max_segs;
}

/* Software GSO for a receiver that cannot take this TSO frame whole. The frame is only read
 * (it may be a flooded copy shared with other ports), and the segments come out with complete
 * checksums, so they suit any receiver. */
static void output_segmented(struct sw *sw, struct sw_port *out, struct rte_mbuf *m)
{
    struct rte_mbuf *segs[GSO_MAX_SEGS];
    int n = gso_segment(m, sw->pool, segs, GSO_MAX_SEGS);

    rte_pktmbuf_free(m);
    if (unlikely(n < 0)) {
        out->stats.drops[n == GSO_ERR_NOMEM ? PORT_DROP_TX_NO_BUFFERS : PORT_DROP_TX_BAD_OFFLOAD]++;
        return;
    }
    out->stats.gso_frames++;
    out->stats.gso_segments += (uint64_t)n;
    for (int i = 0; i < n; i++)
        enqueue(out, segs[i]);
}

/* Hands one copy of m, received on port in_id, to an egress port, or drops it there with a
 * reason. */
static inline void output(struct sw *sw, uint16_t in_id, struct sw_port *sp, struct rte_mbuf *m)
{
    const struct port *out = sp->port;
    uint32_t offloads;

    if (unlikely(wire_frame_len(m) > out->max_frame))
        return drop(sp, PORT_DROP_TX_TOO_BIG, m);
    offloads = out->class->offloads(out);
    if (unlikely(is_tso(m))) {
        uint32_t tso = (m->ol_flags & RTE_MBUF_F_TX_IPV6) ? PORT_OL_TSO6 : PORT_OL_TSO4;
        if (!(offloads & tso) || !fits_receiver(out, m)) {
            /* the engine never takes a TSO frame, but lets go first what it holds of the
             * frame's flow, which must reach the port before these segments */
            if (sp->rsc)
                (void)coalesce(sw, in_id, sp, m, offloads);
            return output_segmented(sw, sp, m);
        }
    }
    /* A flooded frame is shared by every target, and completing its checksum here changes it
     * for all of them: harmless, because a complete checksum (with the request cleared in the
     * shared mbuf) suits every receiver, and a port that already sent it copied it first.
     * virtio's partial checksum is a ones' complement sum, so an SCTP CRC request fits no
     * receiver: csum_complete refuses it and the frame is dropped. */
    if (unlikely(csum_is_partial(m)) &&
        (!(offloads & PORT_OL_CSUM) ||
         (m->ol_flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_SCTP_CKSUM) &&
        csum_complete(m) < 0)
        return drop(sp, PORT_DROP_TX_BAD_OFFLOAD, m);
    if (sp->rsc && coalesce(sw, in_id, sp, m, offloads))
        return;
    enqueue(sp, m);
}

static void flood(struct sw *sw, struct sw_port *in, struct rte_mbuf *m)
{
    struct sw_port *targets[PORT_MAX];
    uint16_t n = 0;

    for (uint16_t id = 0; id < sw->n_ports_max; id++) {
        struct sw_port *sp = &sw->ports[id];
        if (sp->port && sp != in && sp->port->bridge == in->port->bridge)
            targets[n++] = sp;
    }
    if (n == 0)
        return drop(in, PORT_DROP_RX_NO_PORT, m);
    if (n > 1) {
        /* every port's tx_burst frees its copy: one reference per target, on every segment
         * of a chained (jumbo) frame */
        rte_pktmbuf_refcnt_update(m, (int16_t)(n - 1));
        in->stats.flood_copies += n - 1;
    }
    for (uint16_t i = 0; i < n; i++)
        output(sw, in->port->id, targets[i], m);
}

static inline bool bad_source(const struct rte_ether_addr *src)
{
    return rte_is_multicast_ether_addr(src) || rte_is_zero_ether_addr(src);
}

void sw_input(struct sw *sw, uint16_t in_id, struct rte_mbuf **pkts, uint16_t n)
{
    struct sw_port *in = &sw->ports[in_id];
    const struct port *in_port = in->port;

    for (uint16_t i = 0; i < n && i < 4; i++)
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));

    for (uint16_t i = 0; i < n; i++) {
        struct rte_mbuf *m = pkts[i];
        const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
        uint16_t dst;

        if (i + 4 < n)
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4], void *));
        in->stats.rx_packets++;
        in->stats.rx_bytes += rte_pktmbuf_pkt_len(m);

        if (unlikely(rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN || bad_source(&eth->src_addr))) {
            drop(in, PORT_DROP_RX_BAD_FRAME, m);
            continue;
        }
        /* ports that parse virtio-net headers check TSO requests fully; this catches what a
         * vhost guest can still send (gso_size 0) before it costs anything downstream */
        if (unlikely(is_tso(m)) && (m->tso_segsz == 0 || m->l4_len < sizeof(struct rte_tcp_hdr))) {
            drop(in, PORT_DROP_RX_BAD_GSO, m);
            continue;
        }
        if (unlikely(wire_frame_len(m) > in_port->max_frame)) {
            drop(in, PORT_DROP_RX_TOO_BIG, m);
            continue;
        }
        fdb_learn(sw->fdb, in_port->bridge, eth->src_addr.addr_bytes, in_id, sw->now);

        if (unlikely(rte_is_multicast_ether_addr(&eth->dst_addr))) {
            flood(sw, in, m);
            continue;
        }
        dst = fdb_lookup(sw->fdb, in_port->bridge, eth->dst_addr.addr_bytes);
        /* an entry may name a port this worker has just detached (the FDB is shared, and the
         * port's MACs go once every worker let go of it): such a frame is flooded */
        if (dst == FDB_PORT_NONE || unlikely(!sw->ports[dst].port))
            flood(sw, in, m);
        else if (unlikely(dst == in_id))
            drop(in, PORT_DROP_RX_SAME_PORT, m);
        else
            output(sw, in_id, &sw->ports[dst], m);
    }
    rsc_flush(&sw->rsc);
}

void sw_flush(struct sw *sw)
{
    for (uint16_t id = 0; id < sw->n_ports_max; id++)
        if (sw->ports[id].tx_count)
            port_send(&sw->ports[id]);
}

void sw_tick(struct sw *sw, uint32_t now)
{
    sw->now = now;
}

void port_stats_add(struct port_stats *sum, const struct port_stats *st)
{
    /* every field is a uint64_t counter, rsc's included */
    const uint64_t *from = (const uint64_t *)st;
    uint64_t *to = (uint64_t *)sum;

    RTE_BUILD_BUG_ON(sizeof *st % sizeof(uint64_t) != 0);
    for (size_t i = 0; i < sizeof *st / sizeof(uint64_t); i++)
        to[i] += from[i];
}

void sw_stats_add(const struct sw *sw, struct port_stats *sum)
{
    for (uint16_t id = 0; id < sw->n_ports_max; id++)
        if (sw->ports[id].port)
            port_stats_add(&sum[id], &sw->ports[id].stats);
}
