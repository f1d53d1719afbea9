/*
 * The switch core over real mbufs (a DPDK mempool in --no-huge, --in-memory mode) and a test
 * port type whose tx_burst keeps what it is given: forwarding, flooding, drops by reason,
 * checksum completion before floods, and the accounting invariant under random traffic, with
 * the pool checked for leaked buffers after every test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "switch/switch.h"
#include "util/util.h"

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

/* DPDK comes up before cmocka runs: a failure here must fail the program, not skip tests. */
static int start_eal(void)
{
    char prefix[64];
    char *args[] = {"test_switch", "--no-huge",     "--no-pci", "-m", "64", "--log-level",
                    "*:error",     "--file-prefix", prefix,     "-l", "0",  NULL};

    snprintf(prefix, sizeof prefix, "hashi-unit-%d", (int)getpid());
    if (rte_eal_init((int)ARRAY_SIZE(args) - 1, args) < 0)
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
    };
    int failed;

    if (start_eal() < 0) {
        fprintf(stderr, "test_switch: DPDK did not start (run as root)\n");
        return 1;
    }
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    rte_mempool_free(pool);
    rte_eal_cleanup();
    return failed;
}
