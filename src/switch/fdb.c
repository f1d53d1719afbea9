#include "fdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t fdb_key(uint16_t bridge, const uint8_t mac[6])
{
    uint64_t key = (uint64_t)bridge << 48;

    for (int i = 0; i < 6; i++)
        key |= (uint64_t)mac[i] << (40 - 8 * i);
    return key;
}

/* Fibonacci hashing: the multiply mixes every key bit (bridge included) into the top bits of
 * the product, and the top log2(capacity) bits are the slot. */
static inline uint32_t fdb_slot(const struct fdb *fdb, uint64_t key)
{
    return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> fdb->shift);
}

int fdb_init(struct fdb *fdb, uint32_t capacity)
{
    uint32_t cap = 16;

    memset(fdb, 0, sizeof *fdb);
    while (cap < capacity && cap < (1u << 30))
        cap <<= 1;
    fdb->slots = calloc(cap, sizeof *fdb->slots);
    if (!fdb->slots)
        return ENOMEM;
    fdb->mask = cap - 1;
    fdb->shift = (uint8_t)(64 - __builtin_ctz(cap));
    fdb->max_count = cap / 4 * 3;
    return 0;
}

void fdb_destroy(struct fdb *fdb)
{
    free(fdb->slots);
    fdb->slots = NULL;
}

static struct fdb_entry *fdb_find(const struct fdb *fdb, uint64_t key)
{
    for (uint32_t i = fdb_slot(fdb, key);; i = (i + 1) & fdb->mask) {
        struct fdb_entry *e = &fdb->slots[i];
        if (!e->used)
            return NULL;
        if (e->key == key)
            return e;
    }
}

enum fdb_learn_result fdb_learn(struct fdb *fdb, uint16_t bridge, const uint8_t mac[6],
                                uint16_t port, uint32_t now)
{
    uint64_t key = fdb_key(bridge, mac);
    uint32_t i = fdb_slot(fdb, key);
    struct fdb_entry *e;

    for (;; i = (i + 1) & fdb->mask) {
        e = &fdb->slots[i];
        if (!e->used)
            break;
        if (e->key != key)
            continue;
        /* Only write when something changed: the per-packet refresh stays a read. */
        if (e->port != port) {
            e->port = port;
            e->last_seen = now;
            fdb->moved++;
            return FDB_MOVED;
        }
        if (e->last_seen != now)
            e->last_seen = now;
        return FDB_REFRESHED;
    }
    if (fdb->count >= fdb->max_count) {
        fdb->full++;
        return FDB_FULL;
    }
    e->key = key;
    e->port = port;
    e->last_seen = now;
    e->used = 1;
    fdb->count++;
    fdb->learned++;
    return FDB_LEARNED;
}

uint16_t fdb_lookup(const struct fdb *fdb, uint16_t bridge, const uint8_t mac[6])
{
    const struct fdb_entry *e = fdb_find(fdb, fdb_key(bridge, mac));

    return e ? e->port : FDB_PORT_NONE;
}

/* Deletes slot i and shifts later members of its probe chain back, so that lookups never stop
 * at a hole that used to be part of a chain (no tombstones needed). */
static void fdb_remove_slot(struct fdb *fdb, uint32_t i)
{
    uint32_t j = i;

    for (;;) {
        j = (j + 1) & fdb->mask;
        if (!fdb->slots[j].used)
            break;
        uint32_t home = fdb_slot(fdb, fdb->slots[j].key);
        /* Entry j may move to hole i only if its home is not in the cyclic range (i, j]. */
        bool home_in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!home_in_range) {
            fdb->slots[i] = fdb->slots[j];
            i = j;
        }
    }
    fdb->slots[i].used = 0;
    fdb->count--;
}

/* Removes entries matching `doomed`; restarts a slot after a removal, because the backward
 * shift may have moved a not-yet-visited entry into it. */
static unsigned fdb_remove_if(struct fdb *fdb,
                              bool (*doomed)(const struct fdb_entry *, const void *),
                              const void *ctx)
{
    unsigned removed = 0;

    for (uint32_t i = 0; i <= fdb->mask;) {
        if (fdb->slots[i].used && doomed(&fdb->slots[i], ctx)) {
            fdb_remove_slot(fdb, i);
            removed++;
            continue;
        }
        i++;
    }
    return removed;
}

struct age_ctx {
    uint32_t now;
    const uint32_t *aging_s;
    size_t n_bridges;
};

static bool entry_expired(const struct fdb_entry *e, const void *arg)
{
    const struct age_ctx *ctx = arg;
    size_t bridge = (size_t)(e->key >> 48);
    uint32_t limit = bridge < ctx->n_bridges ? ctx->aging_s[bridge] : 0;

    return ctx->now - e->last_seen > limit;
}

unsigned fdb_age(struct fdb *fdb, uint32_t now, const uint32_t *aging_s, size_t n_bridges)
{
    struct age_ctx ctx = {now, aging_s, n_bridges};
    unsigned removed = fdb_remove_if(fdb, entry_expired, &ctx);

    fdb->aged += removed;
    return removed;
}

static bool entry_on_port(const struct fdb_entry *e, const void *arg)
{
    return e->port == *(const uint16_t *)arg;
}

unsigned fdb_flush_port(struct fdb *fdb, uint16_t port)
{
    return fdb_remove_if(fdb, entry_on_port, &port);
}

static int view_cmp(const void *a, const void *b)
{
    const struct fdb_view *x = a, *y = b;

    if (x->bridge != y->bridge)
        return x->bridge < y->bridge ? -1 : 1;
    return memcmp(x->mac, y->mac, 6);
}

size_t fdb_dump(const struct fdb *fdb, uint32_t now, struct fdb_view *out, size_t max)
{
    size_t n = 0;

    for (uint32_t i = 0; i <= fdb->mask && n < max; i++) {
        const struct fdb_entry *e = &fdb->slots[i];
        if (!e->used)
            continue;
        out[n].bridge = (uint16_t)(e->key >> 48);
        for (int b = 0; b < 6; b++)
            out[n].mac[b] = (uint8_t)(e->key >> (40 - 8 * b));
        out[n].port = e->port;
        out[n].age_s = now - e->last_seen;
        n++;
    }
    qsort(out, n, sizeof *out, view_cmp);
    return n;
}
