/*
 * The switch core over real mbufs (a DPDK mempool, EAL in --no-huge mode without shared config
 * files or telemetry) and a test port type whose tx_burst keeps what it is given: forwarding,
 * flooding, drops by reason, checksum completion before floods, TSO frames delivered whole or
 * segmented in software by the egress port's offloads, and the accounting invariant under random
 * traffic, with the pool checked for leaked buffers after every test.
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

#include "switch/switch.h"
#include "util/util.h"
#include "ref_csum.h"
#include "unit.h"

#define POOL_SIZE 4095
#define MAX_SEEN  512

/* A port that records what it sends, with a link and a receive ring the test controls. */
struct test_port {
    struct port up;
    bool link;
    uint32_t offloads;
    uint16_t ring_room; /* frames its peer still takes */
    uint16_t n_seen;
    struct rte_mbuf *seen[MAX_SEEN];
};

static struct rte_mempool *pool;

static struct test_port *tp(struct port *port)
{
    return container_of(port, struct test_port, up);
}

static uint16_t test_tx(struct port *port, struct rte_mbuf **pkts, uint16_t n)
{
    struct test_port *t = tp(port);
    uint16_t take = n < t->ring_room ? n : t->ring_room;

    for (uint16_t i = 0; i < take && t->n_seen < MAX_SEEN; i++)
        t->seen[t->n_seen++] = pkts[i];
    t->ring_room -= take;
    rte_pktmbuf_free_bulk(pkts + take, n - take);
    port->stats.drops[PORT_DROP_TX_RING_FULL] += n - take;
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

static const struct port_class test_class = {
    .type = "test",
    .tx_burst = test_tx,
    .link_up = test_link,
    .offloads = test_offloads,
};

struct rig {
    struct sw sw;
    struct test_port ports[6];
    unsigned n;
};

static void rig_init(struct rig *r, unsigned n, const uint16_t *bridges)
{
    struct port_config cfg;

    memset(r, 0, sizeof *r);
    assert_int_equal(sw_init(&r->sw, pool), 0);
    config_port_init(&cfg);
    r->n = n;
    for (unsigned i = 0; i < n; i++) {
        snprintf(cfg.name, sizeof cfg.name, "p%u", i);
        port_init(&r->ports[i].up, &test_class, &cfg);
        r->ports[i].up.id = (uint16_t)i;
        r->ports[i].up.bridge = bridges ? bridges[i] : 0;
        r->ports[i].link = true;
        r->ports[i].ring_room = UINT16_MAX;
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
    sw_destroy(&r->sw);
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

static void input_one(struct rig *r, unsigned port, struct rte_mbuf *m)
{
    sw_input(&r->sw, &r->ports[port].up, &m, 1);
    sw_flush(&r->sw);
}

static uint64_t total_drops(const struct port_stats *st)
{
    uint64_t sum = 0;

    for (int i = 0; i < PORT_DROP_N; i++)
        sum += st->drops[i];
    return sum;
}

static void assert_balanced(const struct rig *r)
{
    uint64_t in = 0, out = 0;

    for (unsigned i = 0; i < r->n; i++) {
        const struct port_stats *st = &r->ports[i].up.stats;
        in += st->rx_packets + st->flood_copies + st->gso_segments - st->gso_frames;
        out += st->tx_packets + total_drops(st);
    }
    assert_int_equal(in, out);
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
    assert_int_equal(r.ports[1].up.stats.tx_bytes, 60);
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
    assert_int_equal(r.ports[0].up.stats.flood_copies, 1);
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
    assert_int_equal(r.ports[0].up.stats.drops[PORT_DROP_RX_BAD_FRAME], 1);

    struct rte_mbuf *mcast_src = eth_frame(10, 11, 60);
    rte_pktmbuf_mtod(mcast_src, struct rte_ether_hdr *)->src_addr.addr_bytes[0] = 0x01;
    input_one(&r, 0, mcast_src);
    assert_int_equal(r.ports[0].up.stats.drops[PORT_DROP_RX_BAD_FRAME], 2);

    input_one(&r, 0, eth_frame(10, 11, 1500 + 14 + 4 + 1));
    assert_int_equal(r.ports[0].up.stats.drops[PORT_DROP_RX_TOO_BIG], 1);

    input_one(&r, 1, eth_frame(13, 11, 60)); /* 11 lives on port 1 itself */
    assert_int_equal(r.ports[1].up.stats.drops[PORT_DROP_RX_SAME_PORT], 1);

    r.ports[1].link = false;
    input_one(&r, 0, eth_frame(10, 11, 60));
    assert_int_equal(r.ports[1].up.stats.drops[PORT_DROP_TX_LINK_DOWN], 1);
    r.ports[1].link = true;

    r.ports[2].up.max_frame = 100;
    input_one(&r, 0, eth_frame(10, 12, 200));
    assert_int_equal(r.ports[2].up.stats.drops[PORT_DROP_TX_TOO_BIG], 1);

    r.ports[2].ring_room = 1;
    struct rte_mbuf *burst[3] = {eth_frame(10, 12, 60), eth_frame(10, 12, 60),
                                 eth_frame(10, 12, 60)};
    sw_input(&r.sw, &r.ports[0].up, burst, 3);
    sw_flush(&r.sw);
    assert_int_equal(r.ports[2].up.stats.drops[PORT_DROP_TX_RING_FULL], 2);
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
    assert_int_equal(r.ports[0].up.stats.drops[PORT_DROP_RX_NO_PORT], 1);
    assert_int_equal(r.ports[1].n_seen, 0);
    assert_balanced(&r);
    rig_fini(&r);
}

static void test_detach_forgets_the_port(void **state)
{
    struct rig r;

    (void)state;
    rig_init(&r, 3, NULL);
    input_one(&r, 1, eth_frame(11, 0xffff, 60));
    sw_detach(&r.sw, &r.ports[1].up);
    assert_int_equal(fdb_lookup(&r.sw.fdb, 0, (uint8_t[]){2, 0, 0, 0, 0, 11}), FDB_PORT_NONE);
    input_one(&r, 0, eth_frame(10, 11, 60)); /* now unknown: flooded to port 2 only */
    assert_int_equal(r.ports[2].n_seen, 2);
    assert_int_equal(r.ports[1].n_seen, 0);
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

/* Random traffic, stations, links and ring sizes: the counters always balance and no buffer
 * is lost or freed twice. */
static void test_random_traffic_balances(void **state)
{
    const uint16_t bridges[] = {0, 0, 0, 1, 1, 0};
    struct rig r;
    unsigned seed = 12345;

    (void)state;
    rig_init(&r, 6, bridges);
    for (int round = 0; round < 200; round++) {
        struct rte_mbuf *burst[PORT_BURST];
        unsigned in = (unsigned)rand_r(&seed) % 6;
        uint16_t n = (uint16_t)(1 + rand_r(&seed) % PORT_BURST);

        for (unsigned p = 0; p < 6; p++) {
            r.ports[p].link = rand_r(&seed) % 5 != 0;
            r.ports[p].ring_room = (uint16_t)(rand_r(&seed) % 40);
        }
        for (uint16_t i = 0; i < n; i++) {
            unsigned dst = rand_r(&seed) % 4 == 0 ? 0xffff : (unsigned)rand_r(&seed) % 16;
            burst[i] =
                eth_frame((unsigned)rand_r(&seed) % 16, dst, (uint16_t)(14 + rand_r(&seed) % 1600));
        }
        sw_input(&r.sw, &r.ports[in].up, burst, n);
        sw_flush(&r.sw);
        assert_balanced(&r);
        for (unsigned p = 0; p < 6; p++) {
            rte_pktmbuf_free_bulk(r.ports[p].seen, r.ports[p].n_seen);
            r.ports[p].n_seen = 0;
        }
    }
    rig_fini(&r);
}

/* ---- TSO frames ---- */

#define TSO_PAYLOAD 10000
#define TSO_MSS     1448 /* TCP/IPv4 in a 1500-byte MTU, with a timestamp option's room */
#define TSO_MSS6    1440 /* TCP/IPv6 in a 1500-byte MTU */
#define TSO_FRAME   (14 + 40 + 20 + TSO_PAYLOAD)
#define WIRE_MAX    1514 /* Ethernet header + a 1500-byte MTU */

static void wr16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A TSO frame as a sender hands it over: one TCP segment of `payload` bytes behind one set of
 * headers, the TCP checksum field holding the pseudo-header sum (Linux's convention), in a
 * chain of pool mbufs. Its bytes are also written to copy. */
static struct rte_mbuf *tso_frame(unsigned src, unsigned dst, int ipv6, uint32_t payload,
                                  uint16_t mss, uint8_t *copy)
{
    const uint32_t l3 = ipv6 ? 40 : 20, l4 = 20, len = 14 + l3 + l4 + payload;
    uint8_t *ip = copy + 14, *th = ip + l3;
    struct rte_mbuf *head = NULL, *tail = NULL;
    uint32_t done = 0;

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
        wr16(ip + 4, 0x4242);
        wr16(ip + 6, 0x4000); /* DF */
        ip[8] = 64;
        ip[9] = IPPROTO_TCP;
        memcpy(ip + 12, (uint8_t[]){192, 168, 7, 1, 192, 168, 7, 2}, 8);
        wr16(ip + 10, (uint16_t)~ref_fold(ref_sum16(ip, 20, 0)));
    }
    wr16(th, 40000);
    wr16(th + 2, 5201);
    wr16(th + 4, 0x1234); /* seq 0x12345678 */
    wr16(th + 6, 0x5678);
    th[12] = 0x50;
    th[13] = 0x18; /* PSH ACK */
    wr16(th + 14, 65535);
    wr16(th + 16, ref_fold(ref_pseudo(ip, ipv6, IPPROTO_TCP, l4 + payload)));
    for (uint32_t i = 0; i < payload; i++)
        th[l4 + i] = (uint8_t)(i * 7 + i / 251);

    while (done < len) {
        struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
        uint32_t take;

        assert_non_null(m);
        take = RTE_MIN((uint32_t)rte_pktmbuf_tailroom(m), len - done);
        memcpy(rte_pktmbuf_append(m, (uint16_t)take), copy + done, take);
        done += take;
        if (!head) {
            head = m;
        } else {
            tail->next = m;
            head->nb_segs++;
            head->pkt_len += take;
        }
        tail = m;
    }
    head->ol_flags = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
                     (ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4);
    head->l2_len = 14;
    head->l3_len = l3;
    head->l4_len = l4;
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
static void check_segments(const struct test_port *t, const uint8_t *orig, int ipv6, uint16_t mss)
{
    static uint8_t seg[TSO_FRAME];
    const uint32_t l3 = ipv6 ? 40 : 20, hdrs = 14 + l3 + 20;
    const uint32_t n = (TSO_PAYLOAD + mss - 1) / mss;
    uint32_t off = 0;

    assert_int_equal(t->n_seen, n);
    assert_int_equal(t->up.stats.gso_frames, 1);
    assert_int_equal(t->up.stats.gso_segments, n);
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
    bytes1 = r.ports[1].up.stats.tx_bytes;
    bytes2 = r.ports[2].up.stats.tx_bytes;

    input_one(&r, 0, tso_frame(10, 11, 0, TSO_PAYLOAD, TSO_MSS, orig));
    assert_int_equal(r.ports[1].n_seen, 1);
    check_whole(r.ports[1].seen[0], orig, 0, TSO_MSS);
    assert_int_equal(r.ports[1].up.stats.gso_frames, 0);
    assert_int_equal(r.ports[1].up.stats.tx_bytes - bytes1, 14 + 20 + 20 + TSO_PAYLOAD);

    input_one(&r, 0, tso_frame(10, 12, 0, TSO_PAYLOAD, TSO_MSS, orig));
    check_segments(&r.ports[2], orig, 0, TSO_MSS);
    /* the headers once more for each segment after the first */
    assert_int_equal(r.ports[2].up.stats.tx_bytes - bytes2, 14 + 20 + 20 + TSO_PAYLOAD + 6 * 54);

    assert_int_equal(r.ports[0].up.stats.drops[PORT_DROP_RX_TOO_BIG], 0);
    assert_int_equal(total_drops(&r.ports[0].up.stats), 0);
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
        check_segments(&r.ports[plain_port], orig, 0, TSO_MSS);
        assert_int_equal(r.ports[0].up.stats.flood_copies, 1);
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
    check_segments(&r.ports[1], orig, 1, TSO_MSS6);
    input_one(&r, 0, tso_frame(10, 12, 1, TSO_PAYLOAD, TSO_MSS6, orig));
    assert_int_equal(r.ports[2].n_seen, 1);
    check_whole(r.ports[2].seen[0], orig, 1, TSO_MSS6);
    assert_int_equal(r.ports[2].up.stats.gso_frames, 0);
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
    assert_int_equal(r.ports[0].up.stats.drops[PORT_DROP_RX_BAD_GSO], 1);
    m = tso_frame(10, 0xffff, 1, TSO_PAYLOAD, 0, orig); /* flooded ones too */
    input_one(&r, 0, m);
    assert_int_equal(r.ports[0].up.stats.drops[PORT_DROP_RX_BAD_GSO], 2);
    m = tso_frame(10, 12, 0, TSO_PAYLOAD, TSO_MSS, orig);
    m->l4_len = 16;
    input_one(&r, 0, m);
    assert_int_equal(r.ports[0].up.stats.drops[PORT_DROP_RX_BAD_GSO], 3);
    for (unsigned p = 0; p < 3; p++) {
        assert_int_equal(r.ports[p].n_seen, 0);
        assert_int_equal(r.ports[p].up.stats.gso_frames, 0);
    }
    assert_int_equal(r.ports[0].up.stats.flood_copies, 0);
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
    assert_int_equal(r.ports[0].up.stats.drops[PORT_DROP_RX_TOO_BIG], 1);
    /* 1464: exactly the MTU with a VLAN tag's room; the 10 KB pkt_len does not count */
    input_one(&r, 0, tso_frame(10, 11, 0, TSO_PAYLOAD, 1464, orig));
    assert_int_equal(r.ports[0].up.stats.drops[PORT_DROP_RX_TOO_BIG], 1);
    assert_int_equal(r.ports[1].n_seen, 1);

    /* a jumbo ingress port sends 8948-byte segments, which no 1500-MTU port takes, TSO or not */
    r.ports[0].up.max_frame = 9000 + 18;
    input_one(&r, 0, tso_frame(10, 99, 0, TSO_PAYLOAD, 8948, orig)); /* flooded to 1 and 2 */
    assert_int_equal(r.ports[0].up.stats.drops[PORT_DROP_RX_TOO_BIG], 1);
    assert_int_equal(r.ports[1].up.stats.drops[PORT_DROP_TX_TOO_BIG], 1);
    assert_int_equal(r.ports[2].up.stats.drops[PORT_DROP_TX_TOO_BIG], 1);
    /* and a small egress MTU refuses 1440-byte segments too, before segmenting */
    r.ports[2].up.max_frame = 1000;
    input_one(&r, 0, tso_frame(10, 12, 1, TSO_PAYLOAD, TSO_MSS6, orig));
    assert_int_equal(r.ports[2].up.stats.drops[PORT_DROP_TX_TOO_BIG], 2);
    assert_int_equal(r.ports[2].up.stats.gso_frames, 0);
    assert_int_equal(r.ports[2].n_seen, 0);
    assert_int_equal(r.ports[1].n_seen, 1);
    assert_balanced(&r);
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
        cmocka_unit_test(test_flood_with_partial_checksum),
        cmocka_unit_test(test_flood_of_a_chained_frame),
        cmocka_unit_test(test_random_traffic_balances),
        cmocka_unit_test(test_tso_whole_or_segmented),
        cmocka_unit_test(test_tso_flood_to_tso_and_non_tso),
        cmocka_unit_test(test_tso6_to_a_tso4_port_is_segmented),
        cmocka_unit_test(test_tso_bad_gso_at_ingress),
        cmocka_unit_test(test_tso_mtu_is_per_segment),
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
