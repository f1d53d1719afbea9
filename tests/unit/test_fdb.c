/*
 * Unit tests of the forwarding database (src/switch/fdb.c).
 *
 * Besides the directed cases, a randomised test drives the table against a plain array model,
 * because the delicate part (backward-shift deletion in a linear-probing table) only goes wrong
 * for particular arrangements of probe chains that are tedious to build by hand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "switch/fdb.h"

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

/* The slot a key lands in when the table is empty, i.e. its home slot. Found through the public
 * slot array rather than by copying the hash function, so the tests do not pin the hash. */
static uint32_t home_slot(uint32_t capacity, uint16_t bridge, const uint8_t mac[6])
{
    struct fdb f;
    uint32_t home = UINT32_MAX;

    assert_int_equal(fdb_init(&f, capacity), 0);
    assert_int_equal(fdb_learn(&f, bridge, mac, 1, 0), FDB_LEARNED);
    for (uint32_t i = 0; i <= f.mask; i++)
        if (f.slots[i].used)
            home = i;
    fdb_destroy(&f);
    assert_int_not_equal(home, UINT32_MAX);
    return home;
}

static void test_init_rounds_capacity(void **state)
{
    struct fdb f;

    (void)state;
    /* Below the minimum: 16 slots, 3/4 of them usable. */
    assert_int_equal(fdb_init(&f, 0), 0);
    assert_int_equal(f.mask, 15);
    assert_int_equal(f.max_count, 12);
    assert_int_equal(f.count, 0);
    fdb_destroy(&f);
    assert_null(f.slots);

    /* Not a power of two: rounded up. */
    assert_int_equal(fdb_init(&f, 17), 0);
    assert_int_equal(f.mask, 31);
    assert_int_equal(f.max_count, 24);
    fdb_destroy(&f);

    assert_int_equal(fdb_init(&f, 64), 0);
    assert_int_equal(f.mask, 63);
    assert_int_equal(f.max_count, 48);
    fdb_destroy(&f);
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
    for (uint32_t i = 0; i <= f.mask; i++)
        assert_false(f.slots[i].used);
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

/* A probe chain that wraps from the last slot to slot 0, then deletions inside it: the backward
 * shift has to handle the cyclic range, which the random test may hit only by luck. */
static void test_delete_in_wrapping_chain(void **state)
{
    enum { CAP = 16, POOL = 4096 };
    uint8_t last[3][6], first[6], mac[6];
    unsigned n_last = 0, n_first = 0;

    (void)state;
    for (unsigned i = 0; i < POOL && (n_last < 3 || n_first < 1); i++) {
        mac_from_index(mac, i);
        uint32_t home = home_slot(CAP, 0, mac);
        if (home == CAP - 1 && n_last < 3) {
            memcpy(last[n_last++], mac, 6);
        } else if (home == 0 && n_first < 1) {
            memcpy(first, mac, 6);
            n_first++;
        }
    }
    assert_int_equal(n_last, 3);
    assert_int_equal(n_first, 1);

    /* Two layouts, each with every entry as the victim in turn (each entry has its own port).
     * Layout 0: slot 15 = last[0], 0 = last[1], 1 = first, 2 = last[2]: entries must move back
     * across the wrap. Layout 1: 15 = last[0], 0 = first, 1 = last[1], 2 = last[2]: `first` is
     * at its home and must stay put while the hole jumps over it. */
    for (unsigned layout = 0; layout < 2; layout++) {
        for (unsigned victim = 0; victim < 4; victim++) {
            struct fdb f;
            unsigned used = 0;

            assert_int_equal(fdb_init(&f, CAP), 0);
            assert_int_equal(fdb_learn(&f, 0, last[0], 0, 0), FDB_LEARNED);
            if (layout == 0) {
                assert_int_equal(fdb_learn(&f, 0, last[1], 1, 0), FDB_LEARNED);
                assert_int_equal(fdb_learn(&f, 0, first, 2, 0), FDB_LEARNED);
            } else {
                assert_int_equal(fdb_learn(&f, 0, first, 2, 0), FDB_LEARNED);
                assert_int_equal(fdb_learn(&f, 0, last[1], 1, 0), FDB_LEARNED);
            }
            assert_int_equal(fdb_learn(&f, 0, last[2], 3, 0), FDB_LEARNED);
            assert_true(f.slots[CAP - 1].used && f.slots[0].used && f.slots[1].used &&
                        f.slots[2].used);

            assert_int_equal(fdb_flush_port(&f, (uint16_t)victim), 1);
            assert_int_equal(f.count, 3);
            assert_int_equal(fdb_lookup(&f, 0, last[0]), victim == 0 ? FDB_PORT_NONE : 0);
            assert_int_equal(fdb_lookup(&f, 0, last[1]), victim == 1 ? FDB_PORT_NONE : 1);
            assert_int_equal(fdb_lookup(&f, 0, first), victim == 2 ? FDB_PORT_NONE : 2);
            assert_int_equal(fdb_lookup(&f, 0, last[2]), victim == 3 ? FDB_PORT_NONE : 3);
            /* The shift leaves no hole inside the chain, so the chain's tail slot is freed. */
            for (uint32_t i = 0; i <= f.mask; i++)
                used += f.slots[i].used;
            assert_int_equal(used, 3);
            assert_false(f.slots[2].used);
            fdb_destroy(&f);
        }
    }
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rounds_capacity),
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
        cmocka_unit_test(test_delete_in_wrapping_chain),
        cmocka_unit_test(test_dump_order_and_age),
        cmocka_unit_test(test_random_against_model),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
