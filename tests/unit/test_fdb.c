/*
 * Unit tests of the forwarding database (src/switch/fdb.c), over DPDK in plain memory (the
 * table is an rte_hash).
 *
 * Besides the directed cases, a randomised test drives the table against a plain array model,
 * because the bookkeeping around rte_hash (counts, the 3/4 limit, ageing per bridge) only goes
 * wrong for particular sequences that are tedious to build by hand. A stress test then runs
 * learners, readers, an ager and a dumper in parallel threads and checks that nobody ever sees
 * a port that was not learned for that very MAC, and that the books balance afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_lcore.h>

#include "switch/fdb.h"
#include "unit.h"

static const uint8_t MAC_A[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x0a};
static const uint8_t MAC_B[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x0b};
static const uint8_t MAC_C[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x0c};

/* Builds a MAC from a small integer, so tests can walk a pool of distinct addresses. */
static void mac_from_index(uint8_t mac[6], unsigned n)
{
    mac[0] = 0x52;
    mac[1] = 0x54;
    mac[2] = 0x00;
    mac[3] = (uint8_t)(n >> 16);
    mac[4] = (uint8_t)(n >> 8);
    mac[5] = (uint8_t)n;
}

static void test_init_rounds_capacity(void **state)
{
    struct fdb f;

    (void)state;
    /* Below the minimum: 16 slots, 3/4 of them usable. */
    assert_int_equal(fdb_init(&f, 0), 0);
    assert_int_equal(f.capacity, 16);
    assert_int_equal(f.max_count, 12);
    assert_int_equal(f.count, 0);
    fdb_destroy(&f);
    assert_null(f.hash);

    /* Not a power of two: rounded up. */
    assert_int_equal(fdb_init(&f, 17), 0);
    assert_int_equal(f.capacity, 32);
    assert_int_equal(f.max_count, 24);
    fdb_destroy(&f);

    assert_int_equal(fdb_init(&f, 64), 0);
    assert_int_equal(f.capacity, 64);
    assert_int_equal(f.max_count, 48);
    fdb_destroy(&f);
}

/* Tables made one after another and side by side do not share anything (rte_hash names are
 * process-wide). */
static void test_tables_are_independent(void **state)
{
    struct fdb f[3];

    (void)state;
    for (unsigned round = 0; round < 3; round++) {
        for (unsigned i = 0; i < 3; i++)
            assert_int_equal(fdb_init(&f[i], 16), 0);
        for (unsigned i = 0; i < 3; i++)
            assert_int_equal(fdb_learn(&f[i], 0, MAC_A, (uint16_t)i, 0), FDB_LEARNED);
        for (unsigned i = 0; i < 3; i++) {
            assert_int_equal(fdb_lookup(&f[i], 0, MAC_A), i);
            assert_int_equal(f[i].count, 1);
        }
        for (unsigned i = 0; i < 3; i++)
            fdb_destroy(&f[i]);
    }
}

static void test_learn_then_lookup(void **state)
{
    struct fdb f;

    (void)state;
    assert_int_equal(fdb_init(&f, 16), 0);
    assert_int_equal(fdb_lookup(&f, 0, MAC_A), FDB_PORT_NONE);
    assert_int_equal(fdb_learn(&f, 0, MAC_A, 3, 10), FDB_LEARNED);
    assert_int_equal(fdb_lookup(&f, 0, MAC_A), 3);
    assert_int_equal(fdb_lookup(&f, 0, MAC_B), FDB_PORT_NONE);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.learned, 1);
    assert_int_equal(f.moved, 0);
    fdb_destroy(&f);
}

static void test_refresh(void **state)
{
    struct fdb f;
    struct fdb_view v;

    (void)state;
    assert_int_equal(fdb_init(&f, 16), 0);
    assert_int_equal(fdb_learn(&f, 0, MAC_A, 3, 10), FDB_LEARNED);
    assert_int_equal(fdb_learn(&f, 0, MAC_A, 3, 10), FDB_REFRESHED);
    assert_int_equal(fdb_learn(&f, 0, MAC_A, 3, 25), FDB_REFRESHED);
    /* A refresh is neither a new entry nor a move. */
    assert_int_equal(f.count, 1);
    assert_int_equal(f.learned, 1);
    assert_int_equal(f.moved, 0);
    assert_int_equal(fdb_lookup(&f, 0, MAC_A), 3);
    /* ...but it does reset the age. */
    assert_int_equal(fdb_dump(&f, 30, &v, 1), 1);
    assert_int_equal(v.age_s, 5);
    fdb_destroy(&f);
}

static void test_move(void **state)
{
    struct fdb f;
    struct fdb_view v;

    (void)state;
    assert_int_equal(fdb_init(&f, 16), 0);
    assert_int_equal(fdb_learn(&f, 0, MAC_A, 3, 10), FDB_LEARNED);
    assert_int_equal(fdb_learn(&f, 0, MAC_A, 4, 20), FDB_MOVED);
    assert_int_equal(fdb_lookup(&f, 0, MAC_A), 4);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.learned, 1);
    assert_int_equal(f.moved, 1);
    /* A move is a sighting too: the age restarts. */
    assert_int_equal(fdb_dump(&f, 20, &v, 1), 1);
    assert_int_equal(v.age_s, 0);
    assert_int_equal(v.port, 4);
    /* Back on the old port is another move, not a refresh. */
    assert_int_equal(fdb_learn(&f, 0, MAC_A, 3, 21), FDB_MOVED);
    assert_int_equal(fdb_lookup(&f, 0, MAC_A), 3);
    assert_int_equal(f.moved, 2);
    fdb_destroy(&f);
}

static void test_bridges_are_independent(void **state)
{
    struct fdb f;
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

    (void)state;
    assert_int_equal(fdb_init(&f, 16), 0);
    assert_int_equal(fdb_learn(&f, 0, MAC_A, 1, 0), FDB_LEARNED);
    /* The same MAC on another bridge is a separate entry, not a move. */
    assert_int_equal(fdb_learn(&f, 1, MAC_A, 2, 0), FDB_LEARNED);
    assert_int_equal(f.count, 2);
    assert_int_equal(f.moved, 0);
    assert_int_equal(fdb_lookup(&f, 0, MAC_A), 1);
    assert_int_equal(fdb_lookup(&f, 1, MAC_A), 2);
    assert_int_equal(fdb_lookup(&f, 2, MAC_A), FDB_PORT_NONE);

    /* The bridge number sits above the MAC in the key: extreme values must not overlap. */
    assert_int_equal(fdb_learn(&f, 0xffff, bcast, 7, 0), FDB_LEARNED);
    assert_int_equal(fdb_learn(&f, 0xfffe, bcast, 8, 0), FDB_LEARNED);
    assert_int_equal(fdb_learn(&f, 0, bcast, 9, 0), FDB_LEARNED);
    assert_int_equal(fdb_lookup(&f, 0xffff, bcast), 7);
    assert_int_equal(fdb_lookup(&f, 0xfffe, bcast), 8);
    assert_int_equal(fdb_lookup(&f, 0, bcast), 9);

    /* Moving on one bridge leaves the other alone. */
    assert_int_equal(fdb_learn(&f, 1, MAC_A, 5, 1), FDB_MOVED);
    assert_int_equal(fdb_lookup(&f, 0, MAC_A), 1);
    assert_int_equal(fdb_lookup(&f, 1, MAC_A), 5);
    fdb_destroy(&f);
}

static void test_aging_boundary(void **state)
{
    struct fdb f;
    const uint32_t aging[] = {300};

    (void)state;
    assert_int_equal(fdb_init(&f, 16), 0);
    assert_int_equal(fdb_learn(&f, 0, MAC_A, 1, 0), FDB_LEARNED);
    /* Expiry is "older than aging", so exactly 300 s old still counts as alive. */
    assert_int_equal(fdb_age(&f, 300, aging, 1), 0);
    assert_int_equal(fdb_lookup(&f, 0, MAC_A), 1);
    assert_int_equal(f.count, 1);
    assert_int_equal(fdb_age(&f, 301, aging, 1), 1);
    assert_int_equal(fdb_lookup(&f, 0, MAC_A), FDB_PORT_NONE);
    assert_int_equal(f.count, 0);
    assert_int_equal(f.aged, 1);
    /* Once gone, the MAC is learned afresh. */
    assert_int_equal(fdb_learn(&f, 0, MAC_A, 1, 302), FDB_LEARNED);
    fdb_destroy(&f);
}

static void test_refresh_postpones_aging(void **state)
{
    struct fdb f;
    const uint32_t aging[] = {300};

    (void)state;
    assert_int_equal(fdb_init(&f, 16), 0);
    assert_int_equal(fdb_learn(&f, 0, MAC_A, 1, 0), FDB_LEARNED);
    assert_int_equal(fdb_learn(&f, 0, MAC_B, 2, 0), FDB_LEARNED);
    assert_int_equal(fdb_learn(&f, 0, MAC_A, 1, 100), FDB_REFRESHED);
    assert_int_equal(fdb_learn(&f, 0, MAC_B, 3, 100), FDB_MOVED);
    assert_int_equal(fdb_learn(&f, 0, MAC_C, 4, 0), FDB_LEARNED);
    assert_int_equal(fdb_age(&f, 301, aging, 1), 1);
    assert_int_equal(fdb_lookup(&f, 0, MAC_C), FDB_PORT_NONE);
    assert_int_equal(fdb_age(&f, 400, aging, 1), 0);
    assert_int_equal(fdb_lookup(&f, 0, MAC_A), 1);
    assert_int_equal(fdb_lookup(&f, 0, MAC_B), 3);
    assert_int_equal(fdb_age(&f, 401, aging, 1), 2);
    assert_int_equal(f.count, 0);
    assert_int_equal(f.aged, 3);
    fdb_destroy(&f);
}

static void test_aging_per_bridge(void **state)
{
    struct fdb f;
    const uint32_t aging[] = {10, 100};

    (void)state;
    assert_int_equal(fdb_init(&f, 16), 0);
    assert_int_equal(fdb_learn(&f, 0, MAC_A, 1, 0), FDB_LEARNED);
    assert_int_equal(fdb_learn(&f, 1, MAC_A, 2, 0), FDB_LEARNED);
    assert_int_equal(fdb_learn(&f, 1, MAC_B, 3, 0), FDB_LEARNED);
    assert_int_equal(fdb_age(&f, 10, aging, 2), 0);
    assert_int_equal(fdb_age(&f, 11, aging, 2), 1);
    assert_int_equal(fdb_lookup(&f, 0, MAC_A), FDB_PORT_NONE);
    assert_int_equal(fdb_lookup(&f, 1, MAC_A), 2);
    assert_int_equal(fdb_lookup(&f, 1, MAC_B), 3);
    assert_int_equal(fdb_age(&f, 100, aging, 2), 0);
    assert_int_equal(fdb_age(&f, 101, aging, 2), 2);
    assert_int_equal(f.count, 0);
    fdb_destroy(&f);
}

/* A bridge beyond the aging array has no aging time: its entries go at the first sweep after
 * the second they were seen in (the worker passes an array covering every bridge). */
static void test_aging_bridge_out_of_range(void **state)
{
    struct fdb f;
    const uint32_t aging[] = {300};

    (void)state;
    assert_int_equal(fdb_init(&f, 16), 0);
    assert_int_equal(fdb_learn(&f, 0, MAC_A, 1, 5), FDB_LEARNED);
    assert_int_equal(fdb_learn(&f, 3, MAC_A, 2, 5), FDB_LEARNED);
    assert_int_equal(fdb_age(&f, 5, aging, 1), 0);
    assert_int_equal(fdb_age(&f, 6, aging, 1), 1);
    assert_int_equal(fdb_lookup(&f, 3, MAC_A), FDB_PORT_NONE);
    assert_int_equal(fdb_lookup(&f, 0, MAC_A), 1);
    fdb_destroy(&f);
}

static void test_flush_port(void **state)
{
    struct fdb f;
    uint8_t mac[6];

    (void)state;
    assert_int_equal(fdb_init(&f, 64), 0);
    /* 30 entries in 64 slots, spread over three ports and two bridges. */
    for (unsigned i = 0; i < 30; i++) {
        mac_from_index(mac, i);
        assert_int_equal(fdb_learn(&f, (uint16_t)(i % 2), mac, (uint16_t)(i % 3), 0), FDB_LEARNED);
    }
    assert_int_equal(fdb_flush_port(&f, 1), 10);
    assert_int_equal(f.count, 20);
    for (unsigned i = 0; i < 30; i++) {
        mac_from_index(mac, i);
        uint16_t want = i % 3 == 1 ? FDB_PORT_NONE : (uint16_t)(i % 3);
        assert_int_equal(fdb_lookup(&f, (uint16_t)(i % 2), mac), want);
    }
    /* Flushing is not aging. */
    assert_int_equal(f.aged, 0);
    /* Nothing left on that port. */
    assert_int_equal(fdb_flush_port(&f, 1), 0);
    assert_int_equal(fdb_flush_port(&f, 9), 0);
    assert_int_equal(f.count, 20);
    assert_int_equal(fdb_flush_port(&f, 0), 10);
    assert_int_equal(fdb_flush_port(&f, 2), 10);
    assert_int_equal(f.count, 0);
    assert_int_equal(fdb_dump(&f, 0, &(struct fdb_view){0}, 1), 0);
    fdb_destroy(&f);
}

static void test_full(void **state)
{
    struct fdb f;
    uint8_t mac[6];

    (void)state;
    assert_int_equal(fdb_init(&f, 16), 0);
    for (unsigned i = 0; i < 12; i++) {
        mac_from_index(mac, i);
        assert_int_equal(fdb_learn(&f, 0, mac, 1, 0), FDB_LEARNED);
    }
    assert_int_equal(f.count, 12);
    mac_from_index(mac, 12);
    assert_int_equal(fdb_learn(&f, 0, mac, 1, 0), FDB_FULL);
    assert_int_equal(f.full, 1);
    assert_int_equal(fdb_learn(&f, 1, mac, 1, 0), FDB_FULL);
    assert_int_equal(f.full, 2);
    assert_int_equal(f.count, 12);
    assert_int_equal(f.learned, 12);
    assert_int_equal(fdb_lookup(&f, 0, mac), FDB_PORT_NONE);

    /* Known MACs still refresh and move while the table is full. */
    mac_from_index(mac, 3);
    assert_int_equal(fdb_learn(&f, 0, mac, 1, 1), FDB_REFRESHED);
    assert_int_equal(fdb_learn(&f, 0, mac, 2, 1), FDB_MOVED);
    assert_int_equal(f.full, 2);

    /* Room made by a flush is usable again. */
    assert_int_equal(fdb_flush_port(&f, 2), 1);
    mac_from_index(mac, 12);
    assert_int_equal(fdb_learn(&f, 0, mac, 5, 2), FDB_LEARNED);
    assert_int_equal(fdb_lookup(&f, 0, mac), 5);
    mac_from_index(mac, 13);
    assert_int_equal(fdb_learn(&f, 0, mac, 5, 2), FDB_FULL);
    assert_int_equal(f.full, 3);
    fdb_destroy(&f);
}

static void test_dump_order_and_age(void **state)
{
    struct fdb f;
    struct fdb_view v[8];
    static const uint8_t m1[6] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x02};
    static const uint8_t m2[6] = {0x00, 0x00, 0x00, 0x00, 0x01, 0x01};
    static const uint8_t m3[6] = {0xfe, 0x00, 0x00, 0x00, 0x00, 0x00};

    (void)state;
    assert_int_equal(fdb_init(&f, 16), 0);
    assert_int_equal(fdb_dump(&f, 0, v, 8), 0);
    /* Learned out of order; the MAC ordering is bytewise, m1 < m2 < m3. */
    assert_int_equal(fdb_learn(&f, 1, m1, 4, 10), FDB_LEARNED);
    assert_int_equal(fdb_learn(&f, 0, m3, 3, 20), FDB_LEARNED);
    assert_int_equal(fdb_learn(&f, 1, m3, 2, 30), FDB_LEARNED);
    assert_int_equal(fdb_learn(&f, 0, m2, 1, 40), FDB_LEARNED);
    assert_int_equal(fdb_learn(&f, 0, m1, 5, 50), FDB_LEARNED);

    assert_int_equal(fdb_dump(&f, 60, v, 8), 5);
    const struct {
        uint16_t bridge;
        const uint8_t *mac;
        uint16_t port;
        uint32_t age;
    } want[] = {
        {0, m1, 5, 10}, {0, m2, 1, 20}, {0, m3, 3, 40}, {1, m1, 4, 50}, {1, m3, 2, 30},
    };
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(v[i].bridge, want[i].bridge);
        assert_memory_equal(v[i].mac, want[i].mac, 6);
        assert_int_equal(v[i].port, want[i].port);
        assert_int_equal(v[i].age_s, want[i].age);
    }

    /* A short buffer gets exactly `max` entries, still in order, and nothing past them. */
    memset(v, 0xa5, sizeof v);
    assert_int_equal(fdb_dump(&f, 60, v, 3), 3);
    for (unsigned i = 1; i < 3; i++)
        assert_true(v[i - 1].bridge < v[i].bridge ||
                    (v[i - 1].bridge == v[i].bridge && memcmp(v[i - 1].mac, v[i].mac, 6) < 0));
    assert_int_equal(v[3].bridge, 0xa5a5);
    assert_int_equal(fdb_dump(&f, 60, v, 0), 0);
    fdb_destroy(&f);
}

/* ---- randomised test against a model ---------------------------------------------------- */

enum {
    MODEL_BRIDGES = 3, /* bridge 2 lies beyond the aging array: limit 0 */
    MODEL_MACS = 30,   /* per bridge: 90 keys for 48 usable slots, so FDB_FULL happens */
    MODEL_PORTS = 5,
    MODEL_CAPACITY = 64,
    MODEL_OPS = 20000,
};

struct model_entry {
    bool present;
    uint16_t port;
    uint32_t last_seen;
};

struct model {
    struct model_entry e[MODEL_BRIDGES][MODEL_MACS];
    uint32_t count;
    uint64_t learned, moved, aged, full;
};

/* xorshift64: a fixed, libc-independent sequence so a failure reproduces everywhere. */
static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t rng(uint32_t bound)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % bound);
}

/* MACs that differ only in the last two bytes, like a rack of VMs from one vendor prefix. */
static void model_mac(uint8_t mac[6], unsigned m)
{
    mac_from_index(mac, 0x100 * (m % 3) + m);
}

static void model_check(const struct fdb *f, const struct model *m, unsigned op)
{
    uint8_t mac[6];

    for (unsigned b = 0; b < MODEL_BRIDGES; b++) {
        for (unsigned i = 0; i < MODEL_MACS; i++) {
            const struct model_entry *e = &m->e[b][i];
            uint16_t want = e->present ? e->port : FDB_PORT_NONE;

            model_mac(mac, i);
            uint16_t got = fdb_lookup(f, (uint16_t)b, mac);
            if (got != want)
                fail_msg("op %u: bridge %u mac %u: lookup gave %u, model has %u", op, b, i,
                         (unsigned)got, (unsigned)want);
        }
    }
    if (f->count != m->count)
        fail_msg("op %u: count %u, model has %u", op, f->count, m->count);
    assert_true(f->learned == m->learned && f->moved == m->moved && f->aged == m->aged &&
                f->full == m->full);
}

static void test_random_against_model(void **state)
{
    static struct model m;
    const uint32_t aging[MODEL_BRIDGES - 1] = {7, 20};
    struct fdb f;
    uint32_t now = 0;
    uint8_t mac[6];
    unsigned n_full = 0, n_aged_sweeps = 0, n_moved = 0;

    (void)state;
    memset(&m, 0, sizeof m);
    assert_int_equal(fdb_init(&f, MODEL_CAPACITY), 0);
    for (unsigned op = 0; op < MODEL_OPS; op++) {
        uint32_t dice = rng(100);

        if (dice < 80) {
            unsigned b = rng(MODEL_BRIDGES), i = rng(MODEL_MACS);
            uint16_t port = (uint16_t)rng(MODEL_PORTS);
            struct model_entry *e = &m.e[b][i];
            enum fdb_learn_result want;

            if (e->present && e->port == port) {
                want = FDB_REFRESHED;
                e->last_seen = now;
            } else if (e->present) {
                want = FDB_MOVED;
                e->port = port;
                e->last_seen = now;
                m.moved++;
                n_moved++;
            } else if (m.count >= f.max_count) {
                want = FDB_FULL;
                m.full++;
                n_full++;
            } else {
                want = FDB_LEARNED;
                *e = (struct model_entry){true, port, now};
                m.count++;
                m.learned++;
            }
            model_mac(mac, i);
            enum fdb_learn_result got = fdb_learn(&f, (uint16_t)b, mac, port, now);
            if (got != want)
                fail_msg("op %u: learn bridge %u mac %u port %u gave %d, model wants %d", op, b, i,
                         (unsigned)port, (int)got, (int)want);
        } else if (dice < 85) {
            uint16_t port = (uint16_t)rng(MODEL_PORTS);
            unsigned want = 0;

            for (unsigned b = 0; b < MODEL_BRIDGES; b++)
                for (unsigned i = 0; i < MODEL_MACS; i++)
                    if (m.e[b][i].present && m.e[b][i].port == port) {
                        m.e[b][i].present = false;
                        want++;
                    }
            m.count -= want;
            assert_int_equal(fdb_flush_port(&f, port), want);
        } else if (dice < 95) {
            unsigned want = 0;

            for (unsigned b = 0; b < MODEL_BRIDGES; b++) {
                uint32_t limit = b < MODEL_BRIDGES - 1 ? aging[b] : 0;
                for (unsigned i = 0; i < MODEL_MACS; i++)
                    if (m.e[b][i].present && now - m.e[b][i].last_seen > limit) {
                        m.e[b][i].present = false;
                        want++;
                    }
            }
            m.count -= want;
            m.aged += want;
            n_aged_sweeps += want > 0;
            assert_int_equal(fdb_age(&f, now, aging, MODEL_BRIDGES - 1), want);
        } else {
            now += rng(3);
        }
        model_check(&f, &m, op);
    }
    /* The run must actually have exercised the interesting paths, or it proves little. */
    assert_true(n_full > 100);
    assert_true(n_aged_sweeps > 100);
    assert_true(n_moved > 100);
    fdb_destroy(&f);
}

/* ---- readers and deferred reuse ------------------------------------------------------------ */

/* A reader that stops reporting must not make deletions fail or block: they all happen, and
 * only the reuse of their slots waits. Once the reader reports again, learning works again. */
static void test_stalled_reader_delays_reuse_only(void **state)
{
    const uint32_t aging[] = {0};
    struct fdb f;
    uint8_t mac[6];
    unsigned rounds, max_rounds, learned_total = 0;
    bool full = false;

    (void)state;
    assert_int_equal(fdb_init(&f, 16), 0);
    /* 12 keys a round use up every key slot in this many rounds, spares for lcore caches
     * included (they depend on RTE_MAX_LCORE) */
    max_rounds = (unsigned)rte_hash_max_key_id(f.hash) / 12 + 2;
    assert_int_equal(fdb_reader_register(&f, FDB_MAX_READERS), EINVAL);
    /* online from here on and never quiescent: nothing deleted from now on may be reused */
    assert_int_equal(fdb_reader_register(&f, 3), 0);
    for (rounds = 0; rounds < max_rounds && !full; rounds++) {
        unsigned learned = 0;

        for (unsigned i = 0; i < 12 && !full; i++) {
            mac_from_index(mac, i);
            enum fdb_learn_result r = fdb_learn(&f, 0, mac, 1, rounds * 2);
            if (r == FDB_FULL) {
                full = true;
            } else {
                assert_int_equal(r, FDB_LEARNED);
                learned++;
            }
        }
        /* every deletion succeeds although none of their slots can come back yet */
        assert_int_equal(fdb_age(&f, rounds * 2 + 1, aging, 1), learned);
        assert_int_equal(f.count, 0);
        learned_total += learned;
    }
    /* the slots (the lcore caches' spares included) ran out: learning reported it */
    assert_true(full);
    assert_true(learned_total > 12);
    assert_int_equal(f.learned, learned_total);
    assert_int_equal(f.aged, learned_total);

    /* the reader moves on: the defer queue gives the slots back to the next insertion */
    fdb_reader_quiescent(&f, 3);
    for (unsigned i = 0; i < 12; i++) {
        mac_from_index(mac, i);
        assert_int_equal(fdb_learn(&f, 0, mac, 2, rounds * 2), FDB_LEARNED);
        assert_int_equal(fdb_lookup(&f, 0, mac), 2);
    }
    fdb_reader_unregister(&f, 3);
    fdb_destroy(&f);
}

/* Where rte_hash keeps a key: the slot a reader may be looking at. */
static int32_t key_slot(const struct fdb *f, uint16_t bridge, const uint8_t mac[6])
{
    uint64_t key = (uint64_t)bridge << 48;

    for (int i = 0; i < 6; i++)
        key |= (uint64_t)mac[i] << (40 - 8 * i);
    return rte_hash_lookup(f->hash, &key);
}

/* While a reader is online and has not reported since a key was deleted, the key's slot is
 * not given to another key; after it reports, it is (the point of deferring: memory comes
 * back). */
static void test_deleted_slot_waits_for_readers(void **state)
{
    enum { KEYS = 40 };
    int32_t slots[KEYS];
    struct fdb f;
    uint8_t mac[6];
    bool reused = false;

    (void)state;
    assert_int_equal(fdb_init(&f, 16), 0);
    assert_int_equal(fdb_reader_register(&f, 0), 0);
    for (unsigned i = 0; i < KEYS; i++) {
        mac_from_index(mac, i);
        assert_int_equal(fdb_learn(&f, 0, mac, 1, 0), FDB_LEARNED);
        slots[i] = key_slot(&f, 0, mac);
        assert_true(slots[i] >= 0);
        for (unsigned j = 0; j < i; j++)
            assert_int_not_equal(slots[i], slots[j]);
        assert_int_equal(fdb_flush_port(&f, 1), 1);
    }
    /* the reader lets go: deleted slots are reused from the next deletions on */
    fdb_reader_quiescent(&f, 0);
    for (unsigned i = KEYS; i < 2 * KEYS && !reused; i++) {
        mac_from_index(mac, i);
        assert_int_equal(fdb_learn(&f, 0, mac, 1, 0), FDB_LEARNED);
        for (unsigned j = 0; j < KEYS; j++)
            reused |= key_slot(&f, 0, mac) == slots[j];
        assert_int_equal(fdb_flush_port(&f, 1), 1);
    }
    assert_true(reused);
    fdb_reader_unregister(&f, 0);
    fdb_destroy(&f);
}

/* ---- many threads at once ------------------------------------------------------------------ */

/* Key k is bridge k % 2 with MAC mac_from_index(k); the ports learned for it are k << 2 | j for
 * j < 4 and nothing else, so a port read back for the wrong key gives itself away. There are
 * more keys than room (192 entries in 256), so the table fills up. */
enum {
    STRESS_CAPACITY = 256,
    STRESS_KEYS = 400,
    STRESS_LEARNERS = 3,
    STRESS_READERS = 2,
    STRESS_MS = 1500,
};

struct stress {
    struct fdb *fdb;
    uint32_t now; /* the clock, advanced by the ager */
    bool stop;
    uint64_t flushed; /* entries fdb_flush_port removed */
    uint64_t lookups, dumps;
    pthread_mutex_t lock; /* for `error` */
    char error[256];      /* the first thing a thread found wrong */
};

struct stress_thread {
    struct stress *s;
    unsigned reader; /* its FDB reader id */
    uint64_t rng;
};

static void stress_error(struct stress *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cmocka's assertions jump out of the test: only the main thread may use them. */
static void stress_error(struct stress *s, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&s->lock);
    if (!s->error[0]) {
        va_start(ap, fmt);
        vsnprintf(s->error, sizeof s->error, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&s->lock);
    __atomic_store_n(&s->stop, true, __ATOMIC_RELAXED);
}

static bool stress_stopped(struct stress *s)
{
    return __atomic_load_n(&s->stop, __ATOMIC_RELAXED);
}

static uint16_t stress_port(unsigned key, unsigned j)
{
    return (uint16_t)(key << 2 | j);
}

static bool stress_port_ok(unsigned key, uint16_t port)
{
    return port == FDB_PORT_NONE || port >> 2 == key;
}

static void stress_check_lookup(struct stress_thread *t, unsigned key, const char *who)
{
    uint8_t mac[6];
    uint16_t port;

    mac_from_index(mac, key);
    port = fdb_lookup(t->s->fdb, (uint16_t)(key % 2), mac);
    if (!stress_port_ok(key, port))
        stress_error(t->s, "%s %u: key %u looked up as port %u", who, t->reader, key,
                     (unsigned)port);
    if (__atomic_load_n(&t->s->fdb->count, __ATOMIC_RELAXED) > t->s->fdb->max_count)
        stress_error(t->s, "%s %u: count above the limit", who, t->reader);
}

/* A worker: learns (writing needs an lcore id) and looks up, as an FDB reader; now and then
 * it sleeps, offline. */
static void *stress_learner(void *arg)
{
    struct stress_thread *t = arg;
    struct fdb *fdb = t->s->fdb;
    uint8_t mac[6];

    if (rte_thread_register() != 0 || fdb_reader_register(fdb, t->reader) != 0) {
        stress_error(t->s, "learner %u cannot register", t->reader);
        return NULL;
    }
    for (uint64_t i = 0; !stress_stopped(t->s); i++) {
        unsigned key = unit_xorshift(&t->rng) % STRESS_KEYS;
        unsigned j = unit_xorshift(&t->rng) % 4;
        uint32_t now = __atomic_load_n(&t->s->now, __ATOMIC_RELAXED);

        mac_from_index(mac, key);
        enum fdb_learn_result r =
            fdb_learn(fdb, (uint16_t)(key % 2), mac, stress_port(key, j), now);
        if (r != FDB_REFRESHED && r != FDB_LEARNED && r != FDB_MOVED && r != FDB_FULL)
            stress_error(t->s, "learner %u: learn gave %d", t->reader, (int)r);
        stress_check_lookup(t, key, "learner");
        stress_check_lookup(t, unit_xorshift(&t->rng) % STRESS_KEYS, "learner");
        fdb_reader_quiescent(fdb, t->reader);
        if (i % 4096 == 4095) {
            fdb_reader_offline(fdb, t->reader);
            sched_yield();
            fdb_reader_online(fdb, t->reader);
        }
    }
    fdb_reader_unregister(fdb, t->reader);
    rte_thread_unregister();
    return NULL;
}

/* A worker that only looks up: needs no lcore id. */
static void *stress_reader(void *arg)
{
    struct stress_thread *t = arg;
    uint64_t n = 0;

    if (fdb_reader_register(t->s->fdb, t->reader) != 0) {
        stress_error(t->s, "reader %u cannot register", t->reader);
        return NULL;
    }
    while (!stress_stopped(t->s)) {
        for (unsigned i = 0; i < 16; i++)
            stress_check_lookup(t, unit_xorshift(&t->rng) % STRESS_KEYS, "reader");
        n += 16;
        fdb_reader_quiescent(t->s->fdb, t->reader);
    }
    fdb_reader_unregister(t->s->fdb, t->reader);
    __atomic_fetch_add(&t->s->lookups, n, __ATOMIC_RELAXED);
    return NULL;
}

/* The one thread that ages and flushes, as a reader too. Bridge 0 keeps entries for a tick,
 * bridge 1 not at all; every so often it pauses long enough for the learners to fill up the
 * table. */
static void *stress_ager(void *arg)
{
    struct stress_thread *t = arg;
    struct fdb *fdb = t->s->fdb;
    const uint32_t aging[2] = {1, 0};

    if (rte_thread_register() != 0 || fdb_reader_register(fdb, t->reader) != 0) {
        stress_error(t->s, "ager cannot register");
        return NULL;
    }
    for (unsigned i = 0; !stress_stopped(t->s); i++) {
        uint32_t now = __atomic_add_fetch(&t->s->now, 1, __ATOMIC_RELAXED);
        unsigned key = unit_xorshift(&t->rng) % STRESS_KEYS;
        uint8_t mac[6];
        uint16_t port;

        fdb_age(fdb, now, aging, 2);
        /* mostly a port in use: the one a random key is on */
        mac_from_index(mac, key);
        port = fdb_lookup(fdb, (uint16_t)(key % 2), mac);
        if (port == FDB_PORT_NONE)
            port = stress_port(key, 0);
        __atomic_fetch_add(&t->s->flushed, fdb_flush_port(fdb, port), __ATOMIC_RELAXED);
        fdb_reader_quiescent(fdb, t->reader);
        fdb_reader_offline(fdb, t->reader);
        usleep(i % 64 == 0 ? 2000 : 50);
        fdb_reader_online(fdb, t->reader);
    }
    fdb_reader_unregister(fdb, t->reader);
    rte_thread_unregister();
    return NULL;
}

/* A control thread: neither a reader nor an lcore. Its dumps are sorted, hold each key once,
 * and only ports learned for their own keys. */
static void *stress_dumper(void *arg)
{
    struct stress_thread *t = arg;
    static struct fdb_view views[STRESS_CAPACITY];
    uint64_t dumps = 0;

    while (!stress_stopped(t->s)) {
        uint32_t now = __atomic_load_n(&t->s->now, __ATOMIC_RELAXED);
        size_t n = fdb_dump(t->s->fdb, now, views, STRESS_CAPACITY);

        for (size_t i = 0; i < n; i++) {
            const struct fdb_view *v = &views[i];
            unsigned key = (unsigned)v->mac[3] << 16 | (unsigned)v->mac[4] << 8 | v->mac[5];

            if (v->bridge != key % 2 || v->port == FDB_PORT_NONE || !stress_port_ok(key, v->port))
                stress_error(t->s, "dump: bridge %u key %u port %u", v->bridge, key, v->port);
            if (i > 0 &&
                (views[i - 1].bridge > v->bridge ||
                 (views[i - 1].bridge == v->bridge && memcmp(views[i - 1].mac, v->mac, 6) >= 0)))
                stress_error(t->s, "dump: entry %zu out of order or repeated", i);
        }
        stress_check_lookup(t, unit_xorshift(&t->rng) % STRESS_KEYS, "dumper");
        dumps++;
    }
    __atomic_store_n(&t->s->dumps, dumps, __ATOMIC_RELAXED);
    return NULL;
}

static int key_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* What must hold of a table nobody is using: rte_hash's own contents agree with the count, no
 * key twice, every entry's port one learned for its key, and lookups agree with the contents. */
static void check_quiet_table(const struct fdb *f)
{
    static uint64_t keys[STRESS_CAPACITY];
    uint32_t next = 0, n = 0;
    const void *key;
    void *data;

    while (rte_hash_iterate(f->hash, &key, &data, &next) >= 0) {
        uint64_t k;
        uint8_t mac[6];

        assert_true(n < STRESS_CAPACITY);
        memcpy(&k, key, sizeof k);
        keys[n++] = k;
        unsigned index = (unsigned)(k & 0xffffff);
        uint16_t port = (uint16_t)((uintptr_t)data >> 32);
        snprintf(ctx, sizeof ctx, "key %#llx port %u", (unsigned long long)k, port);
        CHECK((k >> 48) == index % 2);
        CHECK(index < STRESS_KEYS && port != FDB_PORT_NONE && stress_port_ok(index, port));
        mac_from_index(mac, index);
        CHECK(fdb_lookup(f, (uint16_t)(k >> 48), mac) == port);
    }
    assert_int_equal(n, f->count);
    qsort(keys, n, sizeof keys[0], key_cmp);
    for (uint32_t i = 1; i < n; i++)
        assert_true(keys[i - 1] != keys[i]);
}

static void test_concurrent_workers(void **state)
{
    static struct fdb f;
    static struct stress s;
    enum { N = STRESS_LEARNERS + STRESS_READERS + 2 };
    struct stress_thread threads[N];
    pthread_t ids[N];
    void *(*bodies[N])(void *);
    const uint32_t aging[2] = {0, 0};
    unsigned n = 0, removed;
    uint8_t mac[6];

    (void)state;
    assert_int_equal(fdb_init(&f, STRESS_CAPACITY), 0);
    memset(&s, 0, sizeof s);
    s.fdb = &f;
    pthread_mutex_init(&s.lock, NULL);
    for (unsigned i = 0; i < STRESS_LEARNERS; i++)
        bodies[n++] = stress_learner;
    for (unsigned i = 0; i < STRESS_READERS; i++)
        bodies[n++] = stress_reader;
    bodies[n++] = stress_ager;
    bodies[n++] = stress_dumper;
    for (unsigned i = 0; i < N; i++) {
        threads[i] = (struct stress_thread){&s, i, unit_seed + i * 0x9e3779b97f4a7c15ull};
        assert_int_equal(pthread_create(&ids[i], NULL, bodies[i], &threads[i]), 0);
    }
    usleep(STRESS_MS * 1000);
    __atomic_store_n(&s.stop, true, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < N; i++)
        pthread_join(ids[i], NULL);
    print_message("stress: learned %llu moved %llu aged %llu flushed %llu full %llu, "
                  "%llu reader lookups, %llu dumps, %u ticks\n",
                  (unsigned long long)f.learned, (unsigned long long)f.moved,
                  (unsigned long long)f.aged, (unsigned long long)s.flushed,
                  (unsigned long long)f.full, (unsigned long long)s.lookups,
                  (unsigned long long)s.dumps, s.now);
    if (s.error[0])
        fail_msg("%s", s.error);

    /* Every entry learned is still there or was removed exactly once. */
    assert_int_equal(f.learned, f.count + f.aged + s.flushed);
    /* The run went through every path, or it proves little. */
    assert_true(f.learned > 1000 && f.moved > 1000 && f.aged > 1000 && s.flushed > 0);
    assert_true(f.full > 0);
    assert_true(s.dumps > 10 && s.lookups > 1000);
    check_quiet_table(&f);

    /* Empty it, then fill it again: every slot deleted under the readers came back. */
    removed = fdb_age(&f, s.now + 10, aging, 2);
    assert_int_equal(f.count, 0);
    assert_int_equal(f.learned, f.aged + s.flushed);
    assert_true(removed <= f.max_count);
    for (unsigned key = 0; key < f.max_count; key++) {
        mac_from_index(mac, key);
        assert_int_equal(fdb_learn(&f, (uint16_t)(key % 2), mac, stress_port(key, 0), s.now),
                         FDB_LEARNED);
    }
    mac_from_index(mac, f.max_count);
    assert_int_equal(fdb_learn(&f, 0, mac, 0, s.now), FDB_FULL);
    check_quiet_table(&f);
    pthread_mutex_destroy(&s.lock);
    fdb_destroy(&f);
}

int main(void)
{
    int rc;

    unit_seed_from_env("FDB_SEED", 0x6664622d73656564ull);
    print_message("FDB_SEED=%#llx\n", (unsigned long long)unit_seed);
    if (unit_eal_start("test_fdb", "64") < 0) {
        fprintf(stderr, "cannot start DPDK\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rounds_capacity),
        cmocka_unit_test(test_tables_are_independent),
        cmocka_unit_test(test_learn_then_lookup),
        cmocka_unit_test(test_refresh),
        cmocka_unit_test(test_move),
        cmocka_unit_test(test_bridges_are_independent),
        cmocka_unit_test(test_aging_boundary),
        cmocka_unit_test(test_refresh_postpones_aging),
        cmocka_unit_test(test_aging_per_bridge),
        cmocka_unit_test(test_aging_bridge_out_of_range),
        cmocka_unit_test(test_flush_port),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_dump_order_and_age),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_deleted_slot_waits_for_readers),
        cmocka_unit_test(test_stalled_reader_delays_reuse_only),
        cmocka_unit_test(test_concurrent_workers),
    };

    rc = cmocka_run_group_tests(tests, NULL, NULL);
    unit_eal_stop();
    return rc;
}
