/*
 * Software dispatch (src/ports/dispatch.c) and the flow hash it splits by
 * (src/offload/flow_hash.c): a flow and its reply hash alike, each flow keeps one queue and its
 * order, MAC steering follows the map and falls back to the same default as the kernel-side
 * program, a full ring drops and counts, and nothing leaks when queues close.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "offload/flow_hash.h"
#include "ports/dispatch.h"
#include "unit.h"

#define POOL_SIZE 16383

static struct rte_mempool *pool;

/* A UDP/IPv4 frame from src:sport to dst:dport with a sequence number in its payload. */
static struct rte_mbuf *udp4(uint64_t dst_mac, uint32_t src, uint32_t dst, uint16_t sport,
                             uint16_t dport, uint32_t seq)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
    uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, 14 + 20 + 8 + 4);
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + 14);
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);

    memset(p, 0, 14 + 20 + 8 + 4);
    for (int b = 0; b < 6; b++)
        p[b] = (uint8_t)(dst_mac >> (40 - 8 * b));
    p[6] = 0x02; /* source MAC 02:00:00:00:00:01 */
    p[11] = 0x01;
    p[12] = 0x08; /* IPv4 */
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(20 + 8 + 4);
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_UDP;
    ip->src_addr = rte_cpu_to_be_32(src);
    ip->dst_addr = rte_cpu_to_be_32(dst);
    udp->src_port = rte_cpu_to_be_16(sport);
    udp->dst_port = rte_cpu_to_be_16(dport);
    memcpy(udp + 1, &seq, sizeof seq);
    return m;
}

static uint32_t seq_of(const struct rte_mbuf *m)
{
    uint32_t seq;

    memcpy(&seq, rte_pktmbuf_mtod_offset(m, const uint8_t *, 14 + 20 + 8), sizeof seq);
    return seq;
}

static void test_flow_hash_is_symmetric(void **state)
{
    unsigned port_blind = 0;

    (void)state;
    for (int i = 0; i < 200; i++) {
        uint32_t a = unit_rnd(), b = unit_rnd();
        uint16_t pa = (uint16_t)unit_rnd(), pb = (uint16_t)unit_rnd();
        struct rte_mbuf *there = udp4(1, a, b, pa, pb, 0), *back = udp4(1, b, a, pb, pa, 0);
        struct rte_mbuf *other = udp4(1, a, b, (uint16_t)(pa + 1), pb, 0);

        snprintf(ctx, sizeof ctx, "flow %08x:%u -> %08x:%u", a, pa, b, pb);
        CHECK(flow_hash(there) == flow_hash(back));
        CHECK(there->ol_flags & RTE_MBUF_F_RX_RSS_HASH);
        port_blind += flow_hash(there) == flow_hash(other);
        rte_pktmbuf_free(there);
        rte_pktmbuf_free(back);
        rte_pktmbuf_free(other);
    }
    /* the ports are hashed: another source port is another hash, but for rare collisions */
    assert_true(port_blind < 5);
    /* not IP: one queue for all */
    struct rte_mbuf *arp = udp4(1, 1, 2, 3, 4, 0);
    rte_pktmbuf_mtod(arp, uint8_t *)[13] = 0x06; /* ethertype 0x0806 */
    assert_int_equal(flow_hash(arp), 0);
    rte_pktmbuf_free(arp);
}

/* Splits bursts of many interleaved flows and checks that each flow lands on one queue, in
 * order, and that the flows use every queue. */
static void test_rss_keeps_flows_whole_and_in_order(void **state)
{
    enum { FLOWS = 64, ROUNDS = 40 };
    struct dispatch d;
    struct port_stats st = {0};
    struct port_io io = {.stats = &st, .pool = pool};
    char err[256];
    int flow_queue[FLOWS];
    uint32_t next_seq[FLOWS] = {0}, seen_per_queue[4] = {0};

    (void)state;
    assert_int_equal(dispatch_init(&d, "t", 4, err, sizeof err), 0);
    for (int f = 0; f < FLOWS; f++)
        flow_queue[f] = -1;
    for (uint32_t round = 0; round < ROUNDS; round++) {
        struct rte_mbuf *pkts[PORT_BURST];
        uint16_t kept;

        for (int i = 0; i < PORT_BURST; i++) {
            int f = (int)((round * PORT_BURST + (uint32_t)i) % FLOWS);
            pkts[i] = udp4(1, 0x0a000001, 0x0a000002, (uint16_t)(1000 + f), 80,
                           (round * PORT_BURST + (uint32_t)i) / FLOWS);
        }
        kept = dispatch_split(&d, &io, pkts, PORT_BURST);
        for (uint16_t q = 0; q < 4; q++) {
            struct rte_mbuf *got[PORT_BURST * 2];
            uint16_t n = q == 0 ? kept : dispatch_rx(&d, q, got, PORT_BURST * 2);
            for (uint16_t i = 0; i < n; i++) {
                struct rte_mbuf *m = q == 0 ? pkts[i] : got[i];
                int f = rte_be_to_cpu_16(
                            rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, 34)->src_port) -
                        1000;
                snprintf(ctx, sizeof ctx, "round %u flow %d queue %u", round, f, q);
                CHECK(flow_queue[f] < 0 || flow_queue[f] == q);
                flow_queue[f] = q;
                CHECK(seq_of(m) == next_seq[f]);
                next_seq[f]++;
                seen_per_queue[q]++;
                rte_pktmbuf_free(m);
            }
        }
    }
    for (int q = 0; q < 4; q++)
        assert_true(seen_per_queue[q] > 0);
    for (int f = 0; f < FLOWS; f++)
        assert_int_equal(next_seq[f], ROUNDS * PORT_BURST / FLOWS);
    assert_int_equal(st.rx_packets, 0);
    dispatch_fini(&d);
    assert_int_equal(d.discarded, 0);
}

static void sync_nothing(void *ctx)
{
    *(int *)ctx += 1;
}

/* MAC steering: mapped destinations go to their queue; others by the destination MAC's low four
 * bytes modulo the queues, as the kernel-side BPF program does. */
static void test_mac_map_and_default(void **state)
{
    struct dispatch d;
    struct port_stats st = {0};
    struct port_io io = {.stats = &st, .pool = pool};
    const uint64_t macs[] = {0x020000000a01ull, 0x020000000a02ull};
    const uint16_t queues[] = {2, 0};
    char err[256];
    int syncs = 0;

    (void)state;
    assert_int_equal(dispatch_init(&d, "m", 3, err, sizeof err), 0);
    assert_int_equal(
        dispatch_set_steering(&d, PORT_STEER_MAC, macs, queues, 2, sync_nothing, &syncs), 0);
    assert_int_equal(syncs, 1);
    for (int round = 0; round < 2; round++) {
        struct rte_mbuf *pkts[3] = {
            udp4(macs[0], 1, 2, 3, 4, 0), udp4(macs[1], 1, 2, 3, 4, 1),
            udp4(0x020000000007ull, 1, 2, 3, 4, 2), /* unmapped: 7 % 3 = 1 */
        };
        struct rte_mbuf *got[4];
        uint16_t kept = dispatch_split(&d, &io, pkts, 3);

        assert_int_equal(kept, 1);
        assert_int_equal(seq_of(pkts[0]), 1);
        rte_pktmbuf_free(pkts[0]);
        assert_int_equal(dispatch_rx(&d, 1, got, 4), 1);
        assert_int_equal(seq_of(got[0]), 2);
        rte_pktmbuf_free(got[0]);
        assert_int_equal(dispatch_rx(&d, 2, got, 4), 1);
        assert_int_equal(seq_of(got[0]), 0);
        rte_pktmbuf_free(got[0]);
        /* the second round runs on the other of the two maps */
        assert_int_equal(
            dispatch_set_steering(&d, PORT_STEER_MAC, macs, queues, 2, sync_nothing, &syncs), 0);
    }
    /* rss again: the map no longer applies */
    dispatch_set_steering(&d, PORT_STEER_RSS, NULL, NULL, 0, sync_nothing, &syncs);
    dispatch_fini(&d);
}

/* A ring that cannot take more drops what does not fit, counted as received and dropped; frames
 * left in rings when queues close are freed and counted as discarded. */
static void test_full_ring_and_close(void **state)
{
    struct dispatch d;
    struct port_stats st = {0};
    struct port_io io = {.stats = &st, .pool = pool};
    const uint64_t mac = 0x020000000b01ull;
    const uint16_t queue = 1;
    char err[256];
    int syncs = 0;
    unsigned avail = rte_mempool_avail_count(pool);
    uint64_t sent = 0;

    (void)state;
    assert_int_equal(dispatch_init(&d, "f", 2, err, sizeof err), 0);
    dispatch_set_steering(&d, PORT_STEER_MAC, &mac, &queue, 1, sync_nothing, &syncs);
    while (sent < DISPATCH_RING_SIZE + 2 * PORT_BURST) {
        struct rte_mbuf *pkts[PORT_BURST];
        for (int i = 0; i < PORT_BURST; i++)
            pkts[i] = udp4(mac, 1, 2, 3, 4, (uint32_t)sent++);
        assert_int_equal(dispatch_split(&d, &io, pkts, PORT_BURST), 0);
    }
    /* an rte_ring holds one less than its size */
    assert_int_equal(st.drops[PORT_DROP_RX_DISPATCH_FULL], sent - (DISPATCH_RING_SIZE - 1));
    assert_int_equal(st.rx_packets, st.drops[PORT_DROP_RX_DISPATCH_FULL]);
    assert_int_equal(dispatch_resize(&d, 1, err, sizeof err), 0);
    assert_int_equal(d.discarded, DISPATCH_RING_SIZE - 1);
    dispatch_fini(&d);
    assert_int_equal(rte_mempool_avail_count(pool), avail);
}

static bool readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, 0) == 1;
}

/* A sleeping queue's descriptor turns readable when frames are handed to it, and not before. */
static void test_sleeping_queue_is_woken(void **state)
{
    struct dispatch d;
    struct port_stats st = {0};
    struct port_io io = {.stats = &st, .pool = pool};
    const uint64_t macs[] = {0x020000000c01ull, 0x020000000c02ull};
    const uint16_t queues[] = {1, 0};
    struct rte_mbuf *got[2];
    char err[256];
    int syncs = 0, fd;

    (void)state;
    assert_int_equal(dispatch_init(&d, "w", 2, err, sizeof err), 0);
    dispatch_set_steering(&d, PORT_STEER_MAC, macs, queues, 2, sync_nothing, &syncs);
    fd = dispatch_wait(&d, 1, true);
    assert_true(fd >= 0);
    assert_false(readable(fd));
    struct rte_mbuf *own = udp4(macs[1], 1, 2, 3, 4, 0);
    assert_int_equal(dispatch_split(&d, &io, &own, 1), 1); /* queue 0's own: no wake-up */
    rte_pktmbuf_free(own);
    assert_false(readable(fd));
    struct rte_mbuf *other = udp4(macs[0], 1, 2, 3, 4, 1);
    assert_int_equal(dispatch_split(&d, &io, &other, 1), 0);
    assert_true(readable(fd));
    assert_int_equal(dispatch_wait(&d, 1, false), 0);
    assert_false(readable(fd));
    assert_int_equal(dispatch_rx(&d, 1, got, 2), 1);
    rte_pktmbuf_free(got[0]);
    /* awake: frames come without a signal */
    other = udp4(macs[0], 1, 2, 3, 4, 2);
    dispatch_split(&d, &io, &other, 1);
    assert_false(readable(fd));
    assert_int_equal(dispatch_rx(&d, 1, got, 2), 1);
    rte_pktmbuf_free(got[0]);
    dispatch_fini(&d);
}

static int reseed(void **state)
{
    (void)state;
    unit_rng = unit_seed;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_flow_hash_is_symmetric, reseed),
        cmocka_unit_test_setup(test_rss_keeps_flows_whole_and_in_order, reseed),
        cmocka_unit_test_setup(test_mac_map_and_default, reseed),
        cmocka_unit_test_setup(test_full_ring_and_close, reseed),
        cmocka_unit_test_setup(test_sleeping_queue_is_woken, reseed),
    };
    int failed;

    unit_seed_from_env("DISPATCH_SEED", 0x5eed);
    if (unit_eal_start("test_dispatch", "256") < 0 ||
        !(pool =
              rte_pktmbuf_pool_create("dispatch", POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0))) {
        fprintf(stderr, "test_dispatch: DPDK did not start (run as root)\n");
        return 1;
    }
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    rte_mempool_free(pool);
    unit_eal_stop();
    return failed;
}
