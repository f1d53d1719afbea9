/*
 * The switch core over real mbufs (a DPDK mempool, EAL in --no-huge mode without shared config
 * files or telemetry) and a test port type whose tx_burst keeps what it is given: forwarding,
 * flooding, drops by reason, checksum completion before floods, TSO frames delivered whole or
 * segmented in software by the egress port's offloads and the buffers its peer posted, receive
 * segment coalescing of TCP trains toward ports that take large frames (and the cases where it
 * must not happen), and the accounting invariant under random traffic with TCP trains mixed in,
 * with the pool checked for leaked buffers after every test. The FDB is a separate table shared
 * by workers (one struct sw each): a rig is one worker over it, and one test runs two.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "offload/gso.h"
#include "switch/switch.h"
#include "util/util.h"
#include "ref_csum.h"
#include "unit.h"
#include "wire.h"

#define POOL_SIZE 4095
#define MAX_SEEN  512

/* A port that records what it sends, with a link and a receive ring the test controls. */
struct test_port {
    struct port up;
    bool link;
    uint32_t offloads;
    uint16_t ring_room;    /* frames its peer still takes */
    uint32_t posted_frame; /* coalesce_limits: the largest frame its peer can hold */
    uint16_t posted_segs;  /* and the most buffers it may span */
    uint16_t n_seen;
    struct rte_mbuf *seen[MAX_SEEN];
};

static struct rte_mempool *pool;

static struct test_port *tp(struct port *port)
{
    return container_of(port, struct test_port, up);
}

static uint16_t test_tx(struct port *port, const struct port_io *io, struct rte_mbuf **pkts,
                        uint16_t n)
{
    struct test_port *t = tp(port);
    uint16_t take = n < t->ring_room ? n : t->ring_room;

    for (uint16_t i = 0; i < take; i++)
        io->stats->tx_bytes += rte_pktmbuf_pkt_len(pkts[i]);
    for (uint16_t i = 0; i < take && t->n_seen < MAX_SEEN; i++)
        t->seen[t->n_seen++] = pkts[i];
    t->ring_room -= take;
    rte_pktmbuf_free_bulk(pkts + take, n - take);
    io->stats->drops[PORT_DROP_TX_RING_FULL] += n - take;
    return take;
}

static bool test_link(const struct port *port)
{
    return container_of(port, struct test_port, up)->link;
}

static uint32_t test_offloads(const struct port *port)
{
    return container_of(port, struct test_port, up)->offloads;
}

static void test_coalesce_limits(const struct port *port, uint32_t *max_frame, uint16_t *max_segs)
{
    const struct test_port *t = container_of(port, struct test_port, up);

    *max_frame = t->posted_frame;
    *max_segs = t->posted_segs;
}

static const struct port_class test_class = {
    .type = "test",
    .tx_burst = test_tx,
    .link_up = test_link,
    .offloads = test_offloads,
    .coalesce_limits = test_coalesce_limits,
};

/* One worker's switch over a shared FDB, as the daemon has it with a single worker. */
struct rig {
    struct fdb fdb;
    struct sw sw;
    struct test_port ports[6];
    unsigned n;
};

#define RIG_FDB_CAPACITY 4096

/* The counters worker r->sw keeps for port p. */
static struct port_stats *st(struct rig *r, unsigned p)
{
    return &r->sw.ports[p].stats;
}

/* What a peer with mergeable receive buffers can hold: anything up to 64 KiB of IP. */
#define POSTED_FRAME_BIG (65535 + 22)
#define POSTED_SEGS_BIG  1000

/* Ports as config_port_init makes them: vhost-user, MTU 1500, offload on and so rsc on
 * (port_init); a peer that is up, takes every frame and any frame size, but none of the
 * offloads until a test gives it some. */
static void rig_init(struct rig *r, unsigned n, const uint16_t *bridges)
{
    struct port_config cfg;

    memset(r, 0, sizeof *r);
    assert_int_equal(fdb_init(&r->fdb, RIG_FDB_CAPACITY), 0);
    assert_int_equal(fdb_reader_register(&r->fdb, 0), 0);
    sw_init(&r->sw, &r->fdb, 0, pool);
    config_port_init(&cfg);
    r->n = n;
    for (unsigned i = 0; i < n; i++) {
        snprintf(cfg.name, sizeof cfg.name, "p%u", i);
        port_init(&r->ports[i].up, &test_class, &cfg);
        assert_true(r->ports[i].up.rsc);
        r->ports[i].up.id = (uint16_t)i;
        r->ports[i].up.bridge = bridges ? bridges[i] : 0;
        r->ports[i].link = true;
        r->ports[i].ring_room = UINT16_MAX;
        r->ports[i].posted_frame = POSTED_FRAME_BIG;
        r->ports[i].posted_segs = POSTED_SEGS_BIG;
        sw_attach(&r->sw, &r->ports[i].up);
    }
}

/* Frees what the ports kept, and checks that every buffer came back to the pool. */
static void rig_fini(struct rig *r)
{
    for (unsigned i = 0; i < r->n; i++) {
        rte_pktmbuf_free_bulk(r->ports[i].seen, r->ports[i].n_seen);
        r->ports[i].n_seen = 0;
    }
    fdb_destroy(&r->fdb);
    assert_int_equal(rte_mempool_avail_count(pool), POOL_SIZE);
}

static void mac(uint8_t out[6], unsigned station)
{
    const uint8_t m[6] = {0x02, 0, 0, 0, (uint8_t)(station >> 8), (uint8_t)station};
    memcpy(out, m, 6);
}

static struct rte_mbuf *eth_frame(unsigned src, unsigned dst, uint16_t len)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
    struct rte_ether_hdr *eth;

    assert_non_null(m);
    eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, len);
    assert_non_null(eth);
    memset(eth, 0xab, len);
    mac(eth->src_addr.addr_bytes, src);
    if (dst == 0xffff)
        memset(eth->dst_addr.addr_bytes, 0xff, 6);
    else
        mac(eth->dst_addr.addr_bytes, dst);
    eth->ether_type = rte_cpu_to_be_16(0x88b5);
    return m;
}

/* Worker sw receives m on port and sends what it made of it. */
static void input_on(struct sw *sw, unsigned port, struct rte_mbuf *m)
{
    sw_input(sw, (uint16_t)port, &m, 1);
    sw_flush(sw);
}

static void input_one(struct rig *r, unsigned port, struct rte_mbuf *m)
{
    input_on(&r->sw, port, m);
}

static uint64_t total_drops(const struct port_stats *st)
{
    uint64_t sum = 0;

    for (int i = 0; i < PORT_DROP_N; i++)
        sum += st->drops[i];
    return sum;
}

/* The accounting invariant over the counters of n ports. */
static void assert_balanced_stats(const struct port_stats *stats, unsigned n)
{
    uint64_t in = 0, out = 0;

    for (unsigned i = 0; i < n; i++) {
        const struct port_stats *s = &stats[i];
        in += s->rx_packets + s->flood_copies + s->gso_segments - s->gso_frames -
              s->rsc.segments_in + s->rsc.aggregates_out;
        out += s->tx_packets + total_drops(s);
    }
    assert_int_equal(in, out);
}

static void assert_balanced(const struct rig *r)
{
    struct port_stats sum[PORT_MAX] = {0};

    sw_stats_add(&r->sw, sum);
    assert_balanced_stats(sum, r->n);
}

static void test_unicast_after_learning(void **state)
{
    struct rig r;

    (void)state;
    rig_init(&r, 3, NULL);
    input_one(&r, 1, eth_frame(11, 0xffff, 60)); /* station 11 speaks on port 1 */
    assert_int_equal(r.ports[0].n_seen, 1);
    assert_int_equal(r.ports[2].n_seen, 1);
    assert_int_equal(r.ports[1].n_seen, 0);
    input_one(&r, 0, eth_frame(10, 11, 60));
    assert_int_equal(r.ports[1].n_seen, 1);
    assert_int_equal(r.ports[2].n_seen, 1); /* nothing more */
    assert_int_equal(st(&r, 1)->tx_bytes, 60);
    assert_balanced(&r);
    rig_fini(&r);
}

static void test_flood_shares_one_buffer_within_the_bridge(void **state)
{
    const uint16_t bridges[] = {0, 0, 1, 0, 1};
    struct rig r;

    (void)state;
    rig_init(&r, 5, bridges);
    input_one(&r, 0, eth_frame(1, 99, 100)); /* unknown unicast */
    assert_int_equal(r.ports[1].n_seen, 1);
    assert_int_equal(r.ports[3].n_seen, 1);
    assert_int_equal(r.ports[2].n_seen + r.ports[4].n_seen + r.ports[0].n_seen, 0);
    assert_ptr_equal(r.ports[1].seen[0], r.ports[3].seen[0]);
    assert_int_equal(rte_mbuf_refcnt_read(r.ports[1].seen[0]), 2);
    assert_int_equal(st(&r, 0)->flood_copies, 1);
    /* the same MAC on another bridge is another station */
    input_one(&r, 2, eth_frame(7, 1, 60));
    assert_int_equal(r.ports[4].n_seen, 1);
    assert_int_equal(r.ports[0].n_seen, 0);
    assert_balanced(&r);
    rig_fini(&r);
}

static void test_drops_by_reason(void **state)
{
    struct rig r;
    struct rte_mbuf *runt;

    (void)state;
    rig_init(&r, 3, NULL);
    input_one(&r, 1, eth_frame(11, 0xffff, 60));
    input_one(&r, 2, eth_frame(12, 0xffff, 60));

    runt = rte_pktmbuf_alloc(pool);
    rte_pktmbuf_append(runt, 10);
    input_one(&r, 0, runt);
    assert_int_equal(st(&r, 0)->drops[PORT_DROP_RX_BAD_FRAME], 1);

    struct rte_mbuf *mcast_src = eth_frame(10, 11, 60);
    rte_pktmbuf_mtod(mcast_src, struct rte_ether_hdr *)->src_addr.addr_bytes[0] = 0x01;
    input_one(&r, 0, mcast_src);
    assert_int_equal(st(&r, 0)->drops[PORT_DROP_RX_BAD_FRAME], 2);

    input_one(&r, 0, eth_frame(10, 11, 1500 + 14 + 4 + 1));
    assert_int_equal(st(&r, 0)->drops[PORT_DROP_RX_TOO_BIG], 1);

    input_one(&r, 1, eth_frame(13, 11, 60)); /* 11 lives on port 1 itself */
    assert_int_equal(st(&r, 1)->drops[PORT_DROP_RX_SAME_PORT], 1);

    r.ports[1].link = false;
    input_one(&r, 0, eth_frame(10, 11, 60));
    assert_int_equal(st(&r, 1)->drops[PORT_DROP_TX_LINK_DOWN], 1);
    r.ports[1].link = true;

    r.ports[2].up.max_frame = 100;
    input_one(&r, 0, eth_frame(10, 12, 200));
    assert_int_equal(st(&r, 2)->drops[PORT_DROP_TX_TOO_BIG], 1);

    r.ports[2].ring_room = 1;
    struct rte_mbuf *burst[3] = {eth_frame(10, 12, 60), eth_frame(10, 12, 60),
                                 eth_frame(10, 12, 60)};
    sw_input(&r.sw, 0, burst, 3);
    sw_flush(&r.sw);
    assert_int_equal(st(&r, 2)->drops[PORT_DROP_TX_RING_FULL], 2);
    assert_balanced(&r);
    rig_fini(&r);
}

static void test_lone_port_flood_is_no_port(void **state)
{
    const uint16_t bridges[] = {0, 1};
    struct rig r;

    (void)state;
    rig_init(&r, 2, bridges);
    input_one(&r, 0, eth_frame(1, 0xffff, 60));
    assert_int_equal(st(&r, 0)->drops[PORT_DROP_RX_NO_PORT], 1);
    assert_int_equal(r.ports[1].n_seen, 0);
    assert_balanced(&r);
    rig_fini(&r);
}

static void test_detach_forgets_the_port(void **state)
{
    static const uint8_t station11[6] = {2, 0, 0, 0, 0, 11};
    struct port_stats final, sum[PORT_MAX] = {0};
    struct rig r;

    (void)state;
    rig_init(&r, 3, NULL);
    input_one(&r, 1, eth_frame(11, 0xffff, 60));
    sw_detach(&r.sw, &r.ports[1].up, &final);
    assert_int_equal(final.rx_packets, 1);
    assert_int_equal(final.flood_copies, 1);
    /* the FDB is shared: forgetting the port's MACs is the caller's, once every worker let go */
    assert_int_equal(fdb_lookup(&r.fdb, 0, station11), 1);
    assert_int_equal(fdb_flush_port(&r.fdb, 1), 1);
    assert_int_equal(fdb_lookup(&r.fdb, 0, station11), FDB_PORT_NONE);
    input_one(&r, 0, eth_frame(10, 11, 60)); /* now unknown: flooded to port 2 only */
    assert_int_equal(r.ports[2].n_seen, 2);
    assert_int_equal(r.ports[1].n_seen, 0);
    /* an entry another worker learned on the port before it let go is flooded too */
    fdb_learn(&r.fdb, 0, station11, 1, 0);
    input_one(&r, 0, eth_frame(10, 11, 60));
    assert_int_equal(r.ports[2].n_seen, 3);
    assert_int_equal(r.ports[1].n_seen, 0);
    /* the detached port's final counters complete the books */
    sw_stats_add(&r.sw, sum);
    port_stats_add(&sum[1], &final);
    assert_balanced_stats(sum, 3);
    rig_fini(&r);
}

/* Two workers, each with its own struct sw over the same ports, share one FDB: what one learns
 * the other knows at once, so it sends to that MAC unicast. Each keeps its own counters (a port
 * counts its drops into the calling worker's), and the books balance on their sum. */
static void test_two_workers_share_the_fdb(void **state)
{
    struct port_stats sum[PORT_MAX] = {0};
    struct rig r; /* worker A: r.sw, FDB reader 0 */
    struct sw b;  /* worker B: reader 1 */

    (void)state;
    rig_init(&r, 3, NULL);
    assert_int_equal(fdb_reader_register(&r.fdb, 1), 0);
    sw_init(&b, &r.fdb, 1, pool);
    for (unsigned p = 0; p < 3; p++)
        sw_attach(&b, &r.ports[p].up);

    input_on(&r.sw, 1, eth_frame(11, 0xffff, 60)); /* A learns 11 on port 1 */
    assert_int_equal(r.ports[0].n_seen + r.ports[2].n_seen, 2);
    input_on(&b, 0, eth_frame(10, 11, 60)); /* B: to port 1 only */
    assert_int_equal(r.ports[1].n_seen, 1);
    assert_int_equal(r.ports[0].n_seen + r.ports[2].n_seen, 2);
    input_on(&r.sw, 2, eth_frame(12, 10, 60)); /* A: to port 0, where B learned 10 */
    assert_int_equal(r.ports[0].n_seen, 2);
    assert_int_equal(r.ports[1].n_seen + r.ports[2].n_seen, 2);
    r.ports[1].ring_room = 0;
    input_on(&b, 0, eth_frame(10, 11, 60)); /* B's drop, in B's counters */
    assert_int_equal(r.fdb.learned, 3);

    assert_int_equal(st(&r, 1)->rx_packets, 1);
    assert_int_equal(st(&r, 1)->flood_copies, 1);
    assert_int_equal(st(&r, 1)->tx_packets, 0);
    assert_int_equal(st(&r, 1)->drops[PORT_DROP_TX_RING_FULL], 0);
    assert_int_equal(st(&r, 0)->rx_packets, 0);
    assert_int_equal(st(&r, 0)->tx_packets, 2);
    assert_int_equal(b.ports[0].stats.rx_packets, 2);
    assert_int_equal(b.ports[0].stats.flood_copies, 0);
    assert_int_equal(b.ports[0].stats.tx_packets, 0);
    assert_int_equal(b.ports[1].stats.tx_packets, 1);
    assert_int_equal(b.ports[1].stats.drops[PORT_DROP_TX_RING_FULL], 1);
    assert_int_equal(b.ports[2].stats.tx_packets + b.ports[2].stats.rx_packets, 0);

    sw_stats_add(&r.sw, sum);
    sw_stats_add(&b, sum);
    assert_int_equal(sum[0].rx_packets, 2);
    assert_int_equal(sum[1].rx_packets, 1);
    assert_int_equal(sum[2].rx_packets, 1);
    assert_int_equal(sum[0].tx_packets + sum[1].tx_packets + sum[2].tx_packets, 4);
    assert_balanced_stats(sum, 3);
    rig_fini(&r);
}

/* A flooded frame with a partial checksum: the port without checksum offload gets it
 * completed, and the shared frame stays valid for the port that has it. */
static void test_flood_with_partial_checksum(void **state)
{
    struct rig r;
    struct rte_mbuf *m;
    uint8_t *ip, *tcp;

    (void)state;
    rig_init(&r, 3, NULL);
    r.ports[1].offloads = PORT_OL_CSUM;
    m = eth_frame(10, 0xffff, 14 + 20 + 20 + 6);
    ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
    memset(ip, 0, 46);
    ip[0] = 0x45, ip[3] = 46, ip[8] = 64, ip[9] = 6;
    tcp = ip + 20;
    tcp[12] = 0x50;
    m->l2_len = 14;
    m->l3_len = 20;
    m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
    input_one(&r, 0, m);
    assert_int_equal(r.ports[1].n_seen, 1);
    assert_int_equal(r.ports[2].n_seen, 1);
    assert_ptr_equal(r.ports[1].seen[0], r.ports[2].seen[0]);
    assert_false(r.ports[2].seen[0]->ol_flags & RTE_MBUF_F_TX_L4_MASK);
    assert_int_not_equal(tcp[16] | tcp[17], 0);
    rig_fini(&r);
}

/* A jumbo frame arrives as a chain of mbufs; flooding it must hold a reference on every
 * segment for every target, or the first target's free would release the tail under the
 * others (rig_fini then finds the pool count wrong). */
static void test_flood_of_a_chained_frame(void **state)
{
    struct rig r;
    struct rte_mbuf *head = eth_frame(10, 0xffff, 1500), *tail = rte_pktmbuf_alloc(pool);

    (void)state;
    rig_init(&r, 4, NULL);
    for (unsigned p = 0; p < 4; p++)
        r.ports[p].up.max_frame = 9000 + 18;
    memset(rte_pktmbuf_append(tail, 1500), 0x5a, 1500);
    assert_int_equal(rte_pktmbuf_chain(head, tail), 0);
    input_one(&r, 0, head);
    for (unsigned p = 1; p < 4; p++) {
        assert_int_equal(r.ports[p].n_seen, 1);
        assert_int_equal(rte_pktmbuf_pkt_len(r.ports[p].seen[0]), 3000);
    }
    assert_int_equal(rte_mbuf_refcnt_read(tail), 3);
    rig_fini(&r);
}

/* ---- TSO frames ---- */

#define TSO_PAYLOAD 10000
#define TSO_MSS     1448 /* TCP/IPv4 in a 1500-byte MTU, with a timestamp option's room */
#define TSO_MSS6    1440 /* TCP/IPv6 in a 1500-byte MTU */
#define TSO_FRAME   (14 + 40 + 20 + TSO_PAYLOAD)
#define WIRE_MAX    1514 /* Ethernet header + a 1500-byte MTU */

#define SEQ0     0x12345678u /* sequence number of a test flow's first payload byte */
#define IP_ID0   0x4242      /* IPv4 ID of its first frame */
#define TCP_FPSH 0x08
#define TCP_FACK 0x10

/* The byte at offset off of a test flow's TCP payload. */
static uint8_t payload_byte(uint32_t off)
{
    return (uint8_t)(off * 7 + off / 251);
}

/* Writes into copy a frame of the test flow from station src to dst (0xffff: broadcast):
 * Ethernet, IPv4 (DF, the given ID, header checksum) or IPv6, a 20-byte TCP header with the
 * given flags and a sequence number off bytes past SEQ0, then the flow's payload bytes from off
 * on. The TCP checksum field is left 0. Returns the frame's length. */
static uint32_t tcp_build(uint8_t *copy, unsigned src, unsigned dst, int ipv6, uint32_t off,
                          uint32_t payload, uint16_t ip_id, uint8_t flags)
{
    const uint32_t l3 = ipv6 ? 40 : 20, l4 = 20;
    uint8_t *ip = copy + 14, *th = ip + l3;

    memset(copy, 0, 14 + l3 + l4);
    mac(copy, dst == 0xffff ? 0 : dst);
    if (dst == 0xffff)
        memset(copy, 0xff, 6);
    mac(copy + 6, src);
    wr16(copy + 12, ipv6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
    if (ipv6) {
        ip[0] = 0x60;
        wr16(ip + 4, l4 + payload);
        ip[6] = IPPROTO_TCP;
        ip[7] = 64;
        for (int i = 0; i < 32; i++)
            ip[8 + i] = (uint8_t)(0xfd + i * 5);
    } else {
        ip[0] = 0x45;
        wr16(ip + 2, l3 + l4 + payload);
        wr16(ip + 4, ip_id);
        wr16(ip + 6, 0x4000); /* DF */
        ip[8] = 64;
        ip[9] = IPPROTO_TCP;
        memcpy(ip + 12, (uint8_t[]){192, 168, 7, 1, 192, 168, 7, 2}, 8);
        wr16(ip + 10, (uint16_t)~ref_fold(ref_sum16(ip, 20, 0)));
    }
    wr16(th, 40000);
    wr16(th + 2, 5201);
    wr16(th + 4, (SEQ0 + off) >> 16);
    wr16(th + 6, (SEQ0 + off) & 0xffff);
    th[12] = 0x50;
    th[13] = flags;
    wr16(th + 14, 65535);
    for (uint32_t i = 0; i < payload; i++)
        th[l4 + i] = payload_byte(off + i);
    return 14 + l3 + l4 + payload;
}

/* Stores in a frame built by tcp_build its TCP checksum: the complete one, or (partial) the
 * pseudo-header sum a local sender leaves for the receiver to finish (Linux's convention). */
static void tcp_checksum(uint8_t *copy, int ipv6, uint32_t len, int partial)
{
    const uint32_t l3 = ipv6 ? 40 : 20, l4_len = len - 14 - l3;
    uint8_t *ip = copy + 14, *th = ip + l3;
    uint32_t pseudo = ref_pseudo(ip, ipv6, IPPROTO_TCP, l4_len);

    wr16(th + 16, 0);
    wr16(th + 16, partial ? ref_fold(pseudo) : (uint16_t)~ref_fold(ref_sum16(th, l4_len, pseudo)));
}

/* copy's len bytes in a chain of pool mbufs, each filled up to its tailroom. */
static struct rte_mbuf *chain_of(const uint8_t *copy, uint32_t len)
{
    struct rte_mbuf *head = NULL, *tail = NULL;
    uint32_t done = 0;

    while (done < len) {
        struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
        uint32_t take;

        assert_non_null(m);
        take = RTE_MIN((uint32_t)rte_pktmbuf_tailroom(m), len - done);
        unit_chain_add(&head, &tail, m, copy + done, take);
        done += take;
    }
    return head;
}

/* A TSO frame as a sender hands it over: one TCP segment of `payload` bytes behind one set of
 * headers, the TCP checksum field holding the pseudo-header sum (Linux's convention), in a
 * chain of pool mbufs. Its bytes are also written to copy. */
static struct rte_mbuf *tso_frame(unsigned src, unsigned dst, int ipv6, uint32_t payload,
                                  uint16_t mss, uint8_t *copy)
{
    uint32_t len = tcp_build(copy, src, dst, ipv6, 0, payload, IP_ID0, TCP_FPSH | TCP_FACK);
    struct rte_mbuf *head;

    tcp_checksum(copy, ipv6, len, 1);
    head = chain_of(copy, len);
    head->ol_flags = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
                     (ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4);
    head->l2_len = 14;
    head->l3_len = ipv6 ? 40 : 20;
    head->l4_len = 20;
    head->tso_segsz = mss;
    return head;
}

/* Copies a chain's bytes into out; returns their count. */
static uint32_t flatten(const struct rte_mbuf *m, uint8_t *out)
{
    uint32_t len = 0;

    for (; m; m = m->next) {
        memcpy(out + len, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len);
        len += m->data_len;
    }
    return len;
}

/* The frame a TSO-capable port got: the original, untouched, with its offload request. */
static void check_whole(const struct rte_mbuf *m, const uint8_t *orig, int ipv6, uint16_t mss)
{
    static uint8_t got[TSO_FRAME];
    const uint32_t len = 14 + (ipv6 ? 40 : 20) + 20 + TSO_PAYLOAD;

    assert_int_equal(rte_pktmbuf_pkt_len(m), len);
    assert_int_equal(flatten(m, got), len);
    assert_memory_equal(got, orig, len);
    assert_int_equal(m->ol_flags, RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
                                      (ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4));
    assert_int_equal(m->tso_segsz, mss);
    assert_int_equal(m->l4_len, 20);
}

/* The frames a port without TSO got: ceil(payload / mss) wire-sized segments with complete
 * checksums, whose payloads put together are the original's. */
static void check_segments(struct rig *r, unsigned p, const uint8_t *orig, int ipv6, uint16_t mss)
{
    static uint8_t seg[TSO_FRAME];
    const struct test_port *t = &r->ports[p];
    const uint32_t l3 = ipv6 ? 40 : 20, hdrs = 14 + l3 + 20;
    const uint32_t n = (TSO_PAYLOAD + mss - 1) / mss;
    uint32_t off = 0;

    assert_int_equal(t->n_seen, n);
    assert_int_equal(st(r, p)->gso_frames, 1);
    assert_int_equal(st(r, p)->gso_segments, n);
    for (uint32_t i = 0; i < n; i++) {
        const struct rte_mbuf *m = t->seen[i];
        uint32_t len = flatten(m, seg), part = RTE_MIN((uint32_t)mss, TSO_PAYLOAD - off);
        const uint8_t *ip = seg + 14, *th = ip + l3;

        assert_int_equal(len, rte_pktmbuf_pkt_len(m));
        assert_int_equal(len, hdrs + part);
        assert_true(len <= WIRE_MAX);
        assert_int_equal(m->ol_flags & (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_L4_MASK), 0);
        assert_memory_equal(seg, orig, 14);
        assert_memory_equal(seg + hdrs, orig + hdrs + off, part);
        assert_int_equal(rd32(th + 4), 0x12345678u + off);
        if (!ipv6)
            assert_int_equal(ref_fold(ref_sum16(ip, 20, 0)), 0xffff);
        assert_int_equal(
            ref_fold(ref_sum16(th, 20 + part, ref_pseudo(ip, ipv6, IPPROTO_TCP, 20 + part))),
            0xffff);
        off += part;
    }
    assert_int_equal(off, TSO_PAYLOAD);
}

static void forget_seen(struct rig *r)
{
    for (unsigned i = 0; i < r->n; i++) {
        rte_pktmbuf_free_bulk(r->ports[i].seen, r->ports[i].n_seen);
        r->ports[i].n_seen = 0;
    }
}

/* Stations 11 and 12 speak on ports 1 and 2. */
static void learn_1_and_2(struct rig *r)
{
    input_one(r, 1, eth_frame(11, 0xffff, 60));
    input_one(r, 2, eth_frame(12, 0xffff, 60));
    forget_seen(r);
}

/* To a port that takes TSO the frame goes whole; to one without offloads it goes as segments
 * of at most 1514 bytes, counted as GSO on that port. The 10 KB frame is no rx_too_big: its
 * segments fit the ingress MTU. */
static void test_tso_whole_or_segmented(void **state)
{
    static uint8_t orig[TSO_FRAME];
    struct rig r;
    uint64_t bytes1, bytes2;

    (void)state;
    rig_init(&r, 3, NULL);
    r.ports[1].offloads = PORT_OL_TSO4 | PORT_OL_CSUM;
    learn_1_and_2(&r);
    bytes1 = st(&r, 1)->tx_bytes;
    bytes2 = st(&r, 2)->tx_bytes;

    input_one(&r, 0, tso_frame(10, 11, 0, TSO_PAYLOAD, TSO_MSS, orig));
    assert_int_equal(r.ports[1].n_seen, 1);
    check_whole(r.ports[1].seen[0], orig, 0, TSO_MSS);
    assert_int_equal(st(&r, 1)->gso_frames, 0);
    assert_int_equal(st(&r, 1)->tx_bytes - bytes1, 14 + 20 + 20 + TSO_PAYLOAD);

    input_one(&r, 0, tso_frame(10, 12, 0, TSO_PAYLOAD, TSO_MSS, orig));
    check_segments(&r, 2, orig, 0, TSO_MSS);
    /* the headers once more for each segment after the first */
    assert_int_equal(st(&r, 2)->tx_bytes - bytes2, 14 + 20 + 20 + TSO_PAYLOAD + 6 * 54);

    assert_int_equal(st(&r, 0)->drops[PORT_DROP_RX_TOO_BIG], 0);
    assert_int_equal(total_drops(st(&r, 0)), 0);
    assert_int_equal(r.ports[1].n_seen, 1);
    assert_balanced(&r);
    rig_fini(&r);
}

/* A flooded TSO frame is one buffer shared by its targets: the port without TSO segments it
 * without changing it, whichever comes first, and the TSO port still gets the original. */
static void test_tso_flood_to_tso_and_non_tso(void **state)
{
    static uint8_t orig[TSO_FRAME];

    (void)state;
    for (unsigned tso_port = 1; tso_port <= 2; tso_port++) {
        unsigned plain_port = 3 - tso_port;
        struct rig r;

        rig_init(&r, 3, NULL);
        r.ports[tso_port].offloads = PORT_OL_TSO4 | PORT_OL_TSO6 | PORT_OL_CSUM;
        input_one(&r, 0, tso_frame(10, 99, 0, TSO_PAYLOAD, TSO_MSS, orig)); /* unknown */
        assert_int_equal(r.ports[tso_port].n_seen, 1);
        check_whole(r.ports[tso_port].seen[0], orig, 0, TSO_MSS);
        for (const struct rte_mbuf *g = r.ports[tso_port].seen[0]; g; g = g->next)
            assert_int_equal(rte_mbuf_refcnt_read(g), 1); /* the segmenter let go of its copy */
        check_segments(&r, plain_port, orig, 0, TSO_MSS);
        assert_int_equal(st(&r, 0)->flood_copies, 1);
        assert_balanced(&r);
        rig_fini(&r);
    }
}

/* TSO4 says nothing about IPv6: a port with only TSO4 gets an IPv6 TSO frame segmented, one
 * with TSO6 gets it whole. */
static void test_tso6_to_a_tso4_port_is_segmented(void **state)
{
    static uint8_t orig[TSO_FRAME];
    struct rig r;

    (void)state;
    rig_init(&r, 3, NULL);
    r.ports[1].offloads = PORT_OL_TSO4 | PORT_OL_CSUM;
    r.ports[2].offloads = PORT_OL_TSO6 | PORT_OL_CSUM;
    learn_1_and_2(&r);
    input_one(&r, 0, tso_frame(10, 11, 1, TSO_PAYLOAD, TSO_MSS6, orig));
    check_segments(&r, 1, orig, 1, TSO_MSS6);
    input_one(&r, 0, tso_frame(10, 12, 1, TSO_PAYLOAD, TSO_MSS6, orig));
    assert_int_equal(r.ports[2].n_seen, 1);
    check_whole(r.ports[2].seen[0], orig, 1, TSO_MSS6);
    assert_int_equal(st(&r, 2)->gso_frames, 0);
    assert_balanced(&r);
    rig_fini(&r);
}

/* A TSO request that cannot be carried out is dropped where it comes in, before any port
 * spends work on it. */
static void test_tso_bad_gso_at_ingress(void **state)
{
    static uint8_t orig[TSO_FRAME];
    struct rig r;
    struct rte_mbuf *m;

    (void)state;
    rig_init(&r, 3, NULL);
    learn_1_and_2(&r);
    input_one(&r, 0, tso_frame(10, 12, 0, TSO_PAYLOAD, 0, orig));
    assert_int_equal(st(&r, 0)->drops[PORT_DROP_RX_BAD_GSO], 1);
    m = tso_frame(10, 0xffff, 1, TSO_PAYLOAD, 0, orig); /* flooded ones too */
    input_one(&r, 0, m);
    assert_int_equal(st(&r, 0)->drops[PORT_DROP_RX_BAD_GSO], 2);
    m = tso_frame(10, 12, 0, TSO_PAYLOAD, TSO_MSS, orig);
    m->l4_len = 16;
    input_one(&r, 0, m);
    assert_int_equal(st(&r, 0)->drops[PORT_DROP_RX_BAD_GSO], 3);
    for (unsigned p = 0; p < 3; p++) {
        assert_int_equal(r.ports[p].n_seen, 0);
        assert_int_equal(st(&r, p)->gso_frames, 0);
    }
    assert_int_equal(st(&r, 0)->flood_copies, 0);
    assert_balanced(&r);
    rig_fini(&r);
}

/* MTUs limit wire frames, so a TSO frame is measured by its segments (headers + tso_segsz):
 * on the way in (rx_too_big only if a segment is too big, whatever pkt_len) and on the way out
 * (tx_too_big, with or without TSO at the egress port). */
static void test_tso_mtu_is_per_segment(void **state)
{
    static uint8_t orig[TSO_FRAME];
    struct rig r;

    (void)state;
    rig_init(&r, 3, NULL);
    r.ports[1].offloads = PORT_OL_TSO4 | PORT_OL_TSO6 | PORT_OL_CSUM;
    learn_1_and_2(&r);

    /* segments of 14 + 20 + 20 + 1465 = 1519 bytes: one more than a 1500 MTU allows */
    input_one(&r, 0, tso_frame(10, 11, 0, TSO_PAYLOAD, 1465, orig));
    assert_int_equal(st(&r, 0)->drops[PORT_DROP_RX_TOO_BIG], 1);
    /* 1464: exactly the MTU with a VLAN tag's room; the 10 KB pkt_len does not count */
    input_one(&r, 0, tso_frame(10, 11, 0, TSO_PAYLOAD, 1464, orig));
    assert_int_equal(st(&r, 0)->drops[PORT_DROP_RX_TOO_BIG], 1);
    assert_int_equal(r.ports[1].n_seen, 1);

    /* a jumbo ingress port sends 8948-byte segments, which no 1500-MTU port takes, TSO or not */
    r.ports[0].up.max_frame = 9000 + 18;
    input_one(&r, 0, tso_frame(10, 99, 0, TSO_PAYLOAD, 8948, orig)); /* flooded to 1 and 2 */
    assert_int_equal(st(&r, 0)->drops[PORT_DROP_RX_TOO_BIG], 1);
    assert_int_equal(st(&r, 1)->drops[PORT_DROP_TX_TOO_BIG], 1);
    assert_int_equal(st(&r, 2)->drops[PORT_DROP_TX_TOO_BIG], 1);
    /* and a small egress MTU refuses 1440-byte segments too, before segmenting */
    r.ports[2].up.max_frame = 1000;
    input_one(&r, 0, tso_frame(10, 12, 1, TSO_PAYLOAD, TSO_MSS6, orig));
    assert_int_equal(st(&r, 2)->drops[PORT_DROP_TX_TOO_BIG], 2);
    assert_int_equal(st(&r, 2)->gso_frames, 0);
    assert_int_equal(r.ports[2].n_seen, 0);
    assert_int_equal(r.ports[1].n_seen, 1);
    assert_balanced(&r);
    rig_fini(&r);
}

/* ---- receive segment coalescing ---- */

#define TRAIN_N 8
#define AGG_MAX (14 + 40 + 20 + 65535)

/* Segment k of the test flow from src to dst as it comes off a wire: mss payload bytes from
 * k * mss on, ACK only, the IPv4 ID one more per segment, complete checksums. Written to copy;
 * returns its length. */
static uint32_t train_segment(uint8_t *copy, unsigned src, unsigned dst, int ipv6, uint32_t k,
                              uint16_t mss)
{
    uint32_t len = tcp_build(copy, src, dst, ipv6, k * mss, mss, (uint16_t)(IP_ID0 + k), TCP_FACK);

    tcp_checksum(copy, ipv6, len, 0);
    return len;
}

/* Segments first .. first + n - 1 of the flow, in order and without offload requests. */
static void train(struct rte_mbuf **pkts, unsigned src, unsigned dst, int ipv6, uint32_t first,
                  uint32_t n, uint16_t mss)
{
    static uint8_t copy[WIRE_MAX];

    for (uint32_t i = 0; i < n; i++)
        pkts[i] = chain_of(copy, train_segment(copy, src, dst, ipv6, first + i, mss));
}

/* Sends segments first .. first + n - 1 of the flow from station src on port `in` as one burst,
 * and then every port's buffered frames. */
static void send_train(struct rig *r, unsigned in, unsigned src, unsigned dst, int ipv6,
                       uint32_t first, uint32_t n, uint16_t mss)
{
    struct rte_mbuf *pkts[PORT_BURST];

    assert_true(n <= PORT_BURST);
    train(pkts, src, dst, ipv6, first, n, mss);
    sw_input(&r->sw, (uint16_t)in, pkts, (uint16_t)n);
    sw_flush(&r->sw);
}

/* Frames seen[from .. from + n - 1] of port t are segments first .. of the flow, unchanged. */
static void check_train(const struct test_port *t, unsigned from, unsigned src, unsigned dst,
                        int ipv6, uint32_t first, uint32_t n, uint16_t mss)
{
    static uint8_t got[WIRE_MAX], want[WIRE_MAX];

    assert_true(t->n_seen >= from + n);
    for (uint32_t i = 0; i < n; i++) {
        const struct rte_mbuf *m = t->seen[from + i];
        uint32_t len = train_segment(want, src, dst, ipv6, first + i, mss);

        assert_int_equal(rte_pktmbuf_pkt_len(m), len);
        assert_int_equal(flatten(m, got), len);
        assert_memory_equal(got, want, len);
        assert_int_equal(m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK, 0);
    }
}

/* m is segments first .. first + n - 1 of the flow as one TSO frame: the first segment's
 * headers with the lengths of the whole (IPv4 header checksum redone), the payloads one after
 * the other, a partial checksum in the TCP checksum field and a TSO request at the segments'
 * MSS. Segmenting it gives the segments back, byte for byte. */
static void check_aggregate(const struct rte_mbuf *m, unsigned src, unsigned dst, int ipv6,
                            uint32_t first, uint32_t n, uint16_t mss)
{
    static uint8_t got[AGG_MAX], want[AGG_MAX];
    struct rte_mbuf *segs[GSO_MAX_SEGS];
    uint32_t len =
        tcp_build(want, src, dst, ipv6, first * mss, n * mss, (uint16_t)(IP_ID0 + first), TCP_FACK);
    int k;

    tcp_checksum(want, ipv6, len, 1);
    assert_int_equal(rte_pktmbuf_pkt_len(m), len);
    assert_int_equal(flatten(m, got), len);
    assert_memory_equal(got, want, len);
    assert_int_equal(m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK,
                     RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
                         (ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4));
    assert_int_equal(m->tso_segsz, mss);
    assert_int_equal(m->l2_len, 14);
    assert_int_equal(m->l3_len, ipv6 ? 40 : 20);
    assert_int_equal(m->l4_len, 20);

    k = gso_segment(m, pool, segs, GSO_MAX_SEGS);
    assert_int_equal(k, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t seg_len = train_segment(want, src, dst, ipv6, first + i, mss);
        assert_int_equal(flatten(segs[i], got), seg_len);
        assert_memory_equal(got, want, seg_len);
    }
    rte_pktmbuf_free_bulk(segs, (unsigned)k);
}

#define NONE (-1)

/* What a port's RSC counters gained since `before` is exactly this: segments_in, aggregates_out,
 * `flushes` under one flush reason and `bypasses` under one bypass reason (NONE: none), 0
 * elsewhere. */
static void check_rsc(const struct port_stats *port, const struct rsc_stats *before, uint64_t in,
                      uint64_t out, int flush, uint64_t flushes, int bypass, uint64_t bypasses)
{
    const struct rsc_stats *now = &port->rsc;

    assert_int_equal(now->segments_in - before->segments_in, in);
    assert_int_equal(now->aggregates_out - before->aggregates_out, out);
    for (int i = 0; i < RSC_FLUSH_N; i++)
        assert_int_equal(now->flushes[i] - before->flushes[i], i == flush ? flushes : 0);
    for (int i = 0; i < RSC_BYPASS_N; i++)
        assert_int_equal(now->bypasses[i] - before->bypasses[i], i == bypass ? bypasses : 0);
}

/* A burst of in-order segments of one flow toward a port that takes TSO4 leaves as one TSO frame,
 * already in the port's tx buffer when sw_input returns; the counters say TRAIN_N segments in,
 * one aggregate out, flushed at the end of the burst. */
static void test_rsc_train_becomes_one_tso_frame(void **state)
{
    struct rte_mbuf *pkts[TRAIN_N];
    struct rsc_stats before;
    struct rig r;
    uint64_t tx, bytes;

    (void)state;
    rig_init(&r, 3, NULL);
    r.ports[1].offloads = PORT_OL_TSO4 | PORT_OL_CSUM;
    r.ports[2].offloads = PORT_OL_TSO4 | PORT_OL_CSUM;
    learn_1_and_2(&r);
    before = st(&r, 1)->rsc;
    tx = st(&r, 1)->tx_packets;
    bytes = st(&r, 1)->tx_bytes;

    train(pkts, 10, 11, 0, 0, TRAIN_N, TSO_MSS);
    sw_input(&r.sw, 0, pkts, TRAIN_N);
    assert_true(rsc_idle(&r.sw.rsc));
    assert_int_equal(r.sw.ports[1].tx_count, 1);
    sw_flush(&r.sw);

    assert_int_equal(r.ports[1].n_seen, 1);
    check_aggregate(r.ports[1].seen[0], 10, 11, 0, 0, TRAIN_N, TSO_MSS);
    assert_int_equal(st(&r, 1)->tx_packets - tx, 1);
    assert_int_equal(st(&r, 1)->tx_bytes - bytes, 14 + 20 + 20 + TRAIN_N * TSO_MSS);
    check_rsc(st(&r, 1), &before, TRAIN_N, 1, RSC_FLUSH_POLL_END, 1, NONE, 0);
    assert_int_equal(st(&r, 1)->gso_frames, 0);
    assert_int_equal(r.ports[2].n_seen, 0);
    for (unsigned p = 0; p < 3; p++)
        assert_int_equal(total_drops(st(&r, p)), 0);
    assert_balanced(&r);
    rig_fini(&r);
}

/* With rsc off for the port, the same train goes out as it came, and the engine never sees it. */
static void test_rsc_off_passes_the_train_unchanged(void **state)
{
    struct rsc_stats before;
    struct rig r;

    (void)state;
    rig_init(&r, 3, NULL);
    r.ports[1].offloads = PORT_OL_TSO4 | PORT_OL_CSUM;
    r.ports[1].up.rsc = false;
    sw_set_rsc(&r.sw, &r.ports[1].up, false);
    learn_1_and_2(&r);
    before = st(&r, 1)->rsc;
    send_train(&r, 0, 10, 11, 0, 0, TRAIN_N, TSO_MSS);
    assert_int_equal(r.ports[1].n_seen, TRAIN_N);
    check_train(&r.ports[1], 0, 10, 11, 0, 0, TRAIN_N, TSO_MSS);
    check_rsc(st(&r, 1), &before, 0, 0, NONE, 0, NONE, 0);
    assert_balanced(&r);
    rig_fini(&r);
}

/* A receiver that cannot take the aggregate gets the segments unchanged, each counted as a
 * "receiver" bypass: no TSO4, TSO4 without checksum offload, or posted buffers that hold no
 * more than one segment (by size or by buffer count). */
static void test_rsc_bypassed_for_a_receiver_that_cannot_take_it(void **state)
{
    static const struct {
        uint32_t offloads, posted_frame;
        uint16_t posted_segs;
    } cases[] = {
        {PORT_OL_CSUM, POSTED_FRAME_BIG, POSTED_SEGS_BIG},
        {PORT_OL_CSUM | PORT_OL_TSO6, POSTED_FRAME_BIG, POSTED_SEGS_BIG},
        {PORT_OL_TSO4 | PORT_OL_TSO6, POSTED_FRAME_BIG, POSTED_SEGS_BIG},
        {PORT_OL_TSO4 | PORT_OL_CSUM, 2048, POSTED_SEGS_BIG},
        {PORT_OL_TSO4 | PORT_OL_CSUM, POSTED_FRAME_BIG, 1},
    };

    (void)state;
    for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct rsc_stats before;
        struct rig r;

        rig_init(&r, 3, NULL);
        r.ports[1].offloads = cases[c].offloads;
        r.ports[1].posted_frame = cases[c].posted_frame;
        r.ports[1].posted_segs = cases[c].posted_segs;
        learn_1_and_2(&r);
        before = st(&r, 1)->rsc;
        send_train(&r, 0, 10, 11, 0, 0, TRAIN_N, TSO_MSS);
        assert_int_equal(r.ports[1].n_seen, TRAIN_N);
        check_train(&r.ports[1], 0, 10, 11, 0, 0, TRAIN_N, TSO_MSS);
        check_rsc(st(&r, 1), &before, 0, 0, NONE, 0, RSC_BYPASS_RECEIVER, TRAIN_N);
        assert_balanced(&r);
        rig_fini(&r);
    }
}

/* A flooded train is one buffer per segment shared by both targets: neither may merge it, and
 * each counts a "flood" bypass per segment. */
static void test_rsc_not_for_floods(void **state)
{
    struct rsc_stats before[3];
    struct rig r;

    (void)state;
    rig_init(&r, 3, NULL);
    r.ports[1].offloads = PORT_OL_TSO4 | PORT_OL_CSUM;
    r.ports[2].offloads = PORT_OL_TSO4 | PORT_OL_TSO6 | PORT_OL_CSUM;
    for (unsigned p = 0; p < 3; p++)
        before[p] = st(&r, p)->rsc;
    send_train(&r, 0, 10, 99, 0, 0, TRAIN_N, TSO_MSS); /* 99: unknown */
    for (unsigned p = 1; p <= 2; p++) {
        assert_int_equal(r.ports[p].n_seen, TRAIN_N);
        check_train(&r.ports[p], 0, 10, 99, 0, 0, TRAIN_N, TSO_MSS);
        check_rsc(st(&r, p), &before[p], 0, 0, NONE, 0, RSC_BYPASS_FLOOD, TRAIN_N);
    }
    for (unsigned i = 0; i < TRAIN_N; i++)
        assert_ptr_equal(r.ports[1].seen[i], r.ports[2].seen[i]);
    assert_int_equal(st(&r, 0)->flood_copies, TRAIN_N);
    assert_balanced(&r);
    rig_fini(&r);
}

/* TSO4 says nothing about IPv6: an IPv6 train to a port with TSO4 only passes unmerged, to one
 * with TSO6 it is coalesced. */
static void test_rsc_ipv6_needs_tso6(void **state)
{
    struct rsc_stats before1, before2;
    struct rig r;

    (void)state;
    rig_init(&r, 3, NULL);
    r.ports[1].offloads = PORT_OL_TSO4 | PORT_OL_CSUM;
    r.ports[2].offloads = PORT_OL_TSO6 | PORT_OL_CSUM;
    learn_1_and_2(&r);
    before1 = st(&r, 1)->rsc;
    before2 = st(&r, 2)->rsc;

    send_train(&r, 0, 10, 11, 1, 0, TRAIN_N, TSO_MSS6);
    assert_int_equal(r.ports[1].n_seen, TRAIN_N);
    check_train(&r.ports[1], 0, 10, 11, 1, 0, TRAIN_N, TSO_MSS6);
    check_rsc(st(&r, 1), &before1, 0, 0, NONE, 0, RSC_BYPASS_RECEIVER, TRAIN_N);

    send_train(&r, 0, 10, 12, 1, 0, TRAIN_N, TSO_MSS6);
    assert_int_equal(r.ports[2].n_seen, 1);
    check_aggregate(r.ports[2].seen[0], 10, 12, 1, 0, TRAIN_N, TSO_MSS6);
    check_rsc(st(&r, 2), &before2, TRAIN_N, 1, RSC_FLUSH_POLL_END, 1, NONE, 0);
    assert_balanced(&r);
    rig_fini(&r);
}

/* A TSO frame goes whole to a TSO port only if its peer posted room for it: pkt_len within
 * max_frame and nb_segs within max_segs (the frame is a chain of 5 mbufs). Otherwise it is
 * segmented in software, and the segments do not go back to the engine. A frame delivered whole
 * is offered to the engine, which passes it on as "large". */
static void test_tso_frame_must_fit_the_posted_buffers(void **state)
{
    static uint8_t orig[TSO_FRAME];
    const uint32_t len = 14 + 20 + 20 + TSO_PAYLOAD;
    static const struct {
        uint32_t posted_frame;
        uint16_t posted_segs;
        bool whole;
    } cases[] = {
        {2048, POSTED_SEGS_BIG, false},
        {14 + 20 + 20 + TSO_PAYLOAD - 1, POSTED_SEGS_BIG, false},
        {14 + 20 + 20 + TSO_PAYLOAD, POSTED_SEGS_BIG, true},
        {POSTED_FRAME_BIG, 4, false},
        {POSTED_FRAME_BIG, 5, true},
        {POSTED_FRAME_BIG, POSTED_SEGS_BIG, true},
    };

    (void)state;
    for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct rsc_stats before;
        struct rte_mbuf *m;
        struct rig r;

        rig_init(&r, 3, NULL);
        r.ports[1].offloads = PORT_OL_TSO4 | PORT_OL_CSUM;
        r.ports[1].posted_frame = cases[c].posted_frame;
        r.ports[1].posted_segs = cases[c].posted_segs;
        learn_1_and_2(&r);
        before = st(&r, 1)->rsc;
        m = tso_frame(10, 11, 0, TSO_PAYLOAD, TSO_MSS, orig);
        assert_int_equal(m->nb_segs, 5);
        assert_int_equal(rte_pktmbuf_pkt_len(m), len);
        input_one(&r, 0, m);
        if (cases[c].whole) {
            assert_int_equal(r.ports[1].n_seen, 1);
            check_whole(r.ports[1].seen[0], orig, 0, TSO_MSS);
            assert_int_equal(st(&r, 1)->gso_frames, 0);
        } else {
            check_segments(&r, 1, orig, 0, TSO_MSS);
        }
        /* either way the frame passed the engine, which lets go of its flow first */
        check_rsc(st(&r, 1), &before, 0, 0, NONE, 0, RSC_BYPASS_LARGE, 1);
        assert_balanced(&r);
        rig_fini(&r);
    }
}

/* Every burst ends with the table empty: a train split over two bursts leaves as two
 * aggregates, each flushed at the end of its burst, even with no sw_flush in between. */
static void test_rsc_one_aggregate_per_burst(void **state)
{
    struct rte_mbuf *pkts[TRAIN_N];
    struct rsc_stats before;
    struct rig r;

    (void)state;
    rig_init(&r, 3, NULL);
    r.ports[1].offloads = PORT_OL_TSO4 | PORT_OL_CSUM;
    learn_1_and_2(&r);
    before = st(&r, 1)->rsc;
    train(pkts, 10, 11, 0, 0, TRAIN_N, TSO_MSS);
    sw_input(&r.sw, 0, pkts, TRAIN_N / 2);
    assert_true(rsc_idle(&r.sw.rsc));
    assert_int_equal(r.sw.ports[1].tx_count, 1);
    sw_input(&r.sw, 0, pkts + TRAIN_N / 2, TRAIN_N - TRAIN_N / 2);
    assert_int_equal(r.sw.ports[1].tx_count, 2);
    sw_flush(&r.sw);
    assert_int_equal(r.ports[1].n_seen, 2);
    check_aggregate(r.ports[1].seen[0], 10, 11, 0, 0, TRAIN_N / 2, TSO_MSS);
    check_aggregate(r.ports[1].seen[1], 10, 11, 0, TRAIN_N / 2, TRAIN_N - TRAIN_N / 2, TSO_MSS);
    check_rsc(st(&r, 1), &before, TRAIN_N, 2, RSC_FLUSH_POLL_END, 2, NONE, 0);
    assert_balanced(&r);
    rig_fini(&r);
}

/* Order within a flow is kept: a TSO frame of a flow whose segments are held (delivered whole,
 * so offered to the engine and passed on as "large") leaves after their aggregate. */
static void test_rsc_aggregate_goes_before_a_tso_frame_of_its_flow(void **state)
{
    static uint8_t orig[TSO_FRAME], got[TSO_FRAME];
    struct rte_mbuf *pkts[3];
    struct rsc_stats before;
    struct rig r;
    uint32_t len;

    (void)state;
    rig_init(&r, 3, NULL);
    r.ports[1].offloads = PORT_OL_TSO4 | PORT_OL_CSUM;
    learn_1_and_2(&r);
    before = st(&r, 1)->rsc;
    train(pkts, 10, 11, 0, 0, 2, TSO_MSS);
    len = tcp_build(orig, 10, 11, 0, 2 * TSO_MSS, TSO_PAYLOAD, IP_ID0 + 2, TCP_FACK);
    tcp_checksum(orig, 0, len, 1);
    pkts[2] = chain_of(orig, len);
    pkts[2]->ol_flags = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4;
    pkts[2]->l2_len = 14;
    pkts[2]->l3_len = 20;
    pkts[2]->l4_len = 20;
    pkts[2]->tso_segsz = TSO_MSS;
    sw_input(&r.sw, 0, pkts, 3);
    sw_flush(&r.sw);
    assert_int_equal(r.ports[1].n_seen, 2);
    check_aggregate(r.ports[1].seen[0], 10, 11, 0, 0, 2, TSO_MSS);
    assert_int_equal(flatten(r.ports[1].seen[1], got), len);
    assert_memory_equal(got, orig, len);
    assert_true(r.ports[1].seen[1]->ol_flags & RTE_MBUF_F_TX_TCP_SEG);
    check_rsc(st(&r, 1), &before, 2, 1, RSC_FLUSH_UNMERGEABLE, 1, RSC_BYPASS_LARGE, 1);
    assert_balanced(&r);
    rig_fini(&r);
}

/* The same, to a receiver whose posted buffers cannot hold the TSO frame: hashi segments it,
 * and the aggregate of its flow must still reach the port first. */
static void test_rsc_aggregate_goes_before_a_segmented_tso_frame(void **state)
{
    static uint8_t orig[TSO_FRAME];
    struct rte_mbuf *pkts[3];
    struct rig r;
    uint32_t len, seq0, seq;

    (void)state;
    rig_init(&r, 3, NULL);
    r.ports[1].offloads = PORT_OL_TSO4 | PORT_OL_CSUM;
    r.ports[1].posted_frame = 4096;
    learn_1_and_2(&r);
    train(pkts, 10, 11, 0, 0, 2, TSO_MSS);
    len = tcp_build(orig, 10, 11, 0, 2 * TSO_MSS, TSO_PAYLOAD, IP_ID0 + 2, TCP_FACK);
    tcp_checksum(orig, 0, len, 1);
    pkts[2] = chain_of(orig, len);
    pkts[2]->ol_flags = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4;
    pkts[2]->l2_len = 14;
    pkts[2]->l3_len = 20;
    pkts[2]->l4_len = 20;
    pkts[2]->tso_segsz = TSO_MSS;
    sw_input(&r.sw, 0, pkts, 3);
    sw_flush(&r.sw);
    assert_true(r.ports[1].n_seen > 2);
    assert_int_equal(st(&r, 1)->gso_frames, 1);
    /* sequence numbers only grow along what the port received */
    seq0 = rd32(rte_pktmbuf_mtod_offset(r.ports[1].seen[0], uint8_t *, 14 + 20 + 4));
    for (uint16_t i = 1; i < r.ports[1].n_seen; i++) {
        seq = rd32(rte_pktmbuf_mtod_offset(r.ports[1].seen[i], uint8_t *, 14 + 20 + 4));
        assert_true(seq > seq0);
        seq0 = seq;
    }
    assert_balanced(&r);
    rig_fini(&r);
}

/* Where a TCP flow of the random traffic is: next payload offset and IPv4 ID. */
struct random_flow {
    uint32_t off;
    uint16_t ip_id;
};

/* A frame of random traffic: plain Ethernet frames of random stations, sizes and destinations,
 * and TCP segments of four flows (stations 20-23 to 0, 3, 6 and 9, IPv4 and IPv6), mostly in
 * order and full-sized, some short, pushed, after a gap, with a partial or a wrong checksum;
 * now and then a TSO frame. */
static struct rte_mbuf *random_frame(unsigned *seed, struct random_flow *flows)
{
    static uint8_t copy[TSO_FRAME];
    unsigned kind = (unsigned)rand_r(seed) % 16;

    if (kind < 6) {
        unsigned dst = rand_r(seed) % 4 == 0 ? 0xffff : (unsigned)rand_r(seed) % 16;
        return eth_frame((unsigned)rand_r(seed) % 16, dst, (uint16_t)(14 + rand_r(seed) % 1600));
    }
    if (kind == 6) {
        int ipv6 = rand_r(seed) % 2;
        unsigned dst = rand_r(seed) % 4 == 0 ? 0xffff : (unsigned)rand_r(seed) % 16;
        return tso_frame(20 + (unsigned)rand_r(seed) % 4, dst, ipv6, TSO_PAYLOAD,
                         ipv6 ? TSO_MSS6 : TSO_MSS, copy);
    }

    unsigned f = (unsigned)rand_r(seed) % 4;
    int ipv6 = (int)(f & 1), partial = rand_r(seed) % 4 == 0;
    uint16_t mss = ipv6 ? TSO_MSS6 : TSO_MSS;
    uint32_t payload = rand_r(seed) % 8 == 0 ? 1 + (uint32_t)rand_r(seed) % mss : mss;
    uint8_t flags = TCP_FACK | (rand_r(seed) % 8 == 0 ? TCP_FPSH : 0);
    struct rte_mbuf *m;
    uint32_t len;

    if (rand_r(seed) % 16 == 0)
        flows[f].off += mss; /* a lost segment */
    len = tcp_build(copy, 20 + f, 3 * f, ipv6, flows[f].off, payload, flows[f].ip_id++, flags);
    flows[f].off += payload;
    tcp_checksum(copy, ipv6, len, partial);
    if (rand_r(seed) % 16 == 0)
        copy[len - 1] ^= 0x55; /* damaged on the way (a partial checksum cannot tell) */
    m = chain_of(copy, len);
    if (partial) {
        m->ol_flags = RTE_MBUF_F_TX_TCP_CKSUM | (ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4);
        m->l2_len = 14;
        m->l3_len = ipv6 ? 40 : 20;
    }
    return m;
}

/* Random traffic, stations, links, ring sizes, offloads, rsc settings and posted buffers: the
 * counters always balance and no buffer is lost or freed twice. The TCP segments among the
 * traffic are coalesced, segmented and bypassed along the way. */
static void test_random_traffic_balances(void **state)
{
    static const uint32_t posted_frame[] = {POSTED_FRAME_BIG, 1518, 4096, 16384};
    static const uint16_t posted_segs[] = {POSTED_SEGS_BIG, 1, 2, 4};
    const uint16_t bridges[] = {0, 0, 0, 1, 1, 0};
    struct random_flow flows[4] = {{0, IP_ID0}, {0, IP_ID0}, {0, IP_ID0}, {0, IP_ID0}};
    struct rsc_stats sum = {0};
    uint64_t gso_frames = 0;
    struct rig r;
    unsigned seed = 12345;

    (void)state;
    rig_init(&r, 6, bridges);
    for (int round = 0; round < 400; round++) {
        struct rte_mbuf *burst[PORT_BURST];
        unsigned in = (unsigned)rand_r(&seed) % 6;
        uint16_t n = (uint16_t)(1 + rand_r(&seed) % PORT_BURST);

        for (unsigned p = 0; p < 6; p++) {
            struct test_port *t = &r.ports[p];
            t->link = rand_r(&seed) % 5 != 0;
            t->ring_room = (uint16_t)(rand_r(&seed) % 40);
            t->offloads = (uint32_t)rand_r(&seed) & (PORT_OL_CSUM | PORT_OL_TSO4 | PORT_OL_TSO6);
            t->up.rsc = rand_r(&seed) % 4 != 0;
            sw_set_rsc(&r.sw, &t->up, t->up.rsc);
            t->posted_frame = posted_frame[rand_r(&seed) % 4];
            t->posted_segs = posted_segs[rand_r(&seed) % 4];
        }
        for (uint16_t i = 0; i < n; i++)
            burst[i] = random_frame(&seed, flows);
        sw_input(&r.sw, (uint16_t)in, burst, n);
        assert_true(rsc_idle(&r.sw.rsc));
        sw_flush(&r.sw);
        assert_balanced(&r);
        forget_seen(&r);
    }
    /* the engine had work of every kind */
    for (unsigned p = 0; p < 6; p++) {
        const struct port_stats *s = st(&r, p);
        sum.segments_in += s->rsc.segments_in;
        sum.aggregates_out += s->rsc.aggregates_out;
        for (int i = 0; i < RSC_FLUSH_N; i++)
            sum.flushes[i] += s->rsc.flushes[i];
        for (int i = 0; i < RSC_BYPASS_N; i++)
            sum.bypasses[i] += s->rsc.bypasses[i];
        gso_frames += s->gso_frames;
    }
    assert_true(sum.aggregates_out > 0);
    assert_true(sum.segments_in > sum.aggregates_out);
    assert_true(gso_frames > 0);
    for (int i = 0; i < RSC_FLUSH_N; i++)
        if (i != RSC_FLUSH_TABLE_FULL && i != RSC_FLUSH_UNMERGEABLE)
            assert_true(sum.flushes[i] > 0);
    assert_true(sum.bypasses[RSC_BYPASS_NOT_TCP] > 0);
    assert_true(sum.bypasses[RSC_BYPASS_FLOOD] > 0);
    assert_true(sum.bypasses[RSC_BYPASS_RECEIVER] > 0);
    assert_true(sum.bypasses[RSC_BYPASS_BAD_CSUM] > 0);
    assert_true(sum.bypasses[RSC_BYPASS_LARGE] > 0);
    rig_fini(&r);
}

/* DPDK comes up before cmocka runs: a failure here must fail the program, not skip tests. */
static int start_eal(void)
{
    if (unit_eal_start("test_switch", "64") < 0)
        return -1;
    pool = rte_pktmbuf_pool_create("test", POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    return pool ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unicast_after_learning),
        cmocka_unit_test(test_flood_shares_one_buffer_within_the_bridge),
        cmocka_unit_test(test_drops_by_reason),
        cmocka_unit_test(test_lone_port_flood_is_no_port),
        cmocka_unit_test(test_detach_forgets_the_port),
        cmocka_unit_test(test_two_workers_share_the_fdb),
        cmocka_unit_test(test_flood_with_partial_checksum),
        cmocka_unit_test(test_flood_of_a_chained_frame),
        cmocka_unit_test(test_tso_whole_or_segmented),
        cmocka_unit_test(test_tso_flood_to_tso_and_non_tso),
        cmocka_unit_test(test_tso6_to_a_tso4_port_is_segmented),
        cmocka_unit_test(test_tso_bad_gso_at_ingress),
        cmocka_unit_test(test_tso_mtu_is_per_segment),
        cmocka_unit_test(test_rsc_train_becomes_one_tso_frame),
        cmocka_unit_test(test_rsc_off_passes_the_train_unchanged),
        cmocka_unit_test(test_rsc_bypassed_for_a_receiver_that_cannot_take_it),
        cmocka_unit_test(test_rsc_not_for_floods),
        cmocka_unit_test(test_rsc_ipv6_needs_tso6),
        cmocka_unit_test(test_tso_frame_must_fit_the_posted_buffers),
        cmocka_unit_test(test_rsc_one_aggregate_per_burst),
        cmocka_unit_test(test_rsc_aggregate_goes_before_a_tso_frame_of_its_flow),
        cmocka_unit_test(test_rsc_aggregate_goes_before_a_segmented_tso_frame),
        cmocka_unit_test(test_random_traffic_balances),
    };
    int failed;

    if (start_eal() < 0) {
        fprintf(stderr, "test_switch: DPDK did not start (run as root)\n");
        return 1;
    }
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    rte_mempool_free(pool);
    unit_eal_stop();
    return failed;
}
