#include "fdb.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_debug.h>
#include <rte_hash.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_rcu_qsbr.h>
#include <rte_spinlock.h>

_Static_assert(sizeof(uintptr_t) >= sizeof(uint64_t), "an entry's value is 48 bits in a pointer");

/* Changes to one key take one of these locks, chosen by the key, so that the decision (learned,
 * moved, expired...) is made on the entry's current value: two workers learning one MAC, or the
 * ager and a learner, cannot both act on what they read before the other wrote. Keys of
 * different locks change in parallel as far as rte_hash allows. */
#define FDB_KEY_LOCK_BITS 6

/* The reader id that threads which are not online readers borrow, one at a time. */
#define FDB_SHARED_READER FDB_MAX_READERS

struct fdb_locks {
    pthread_mutex_t shared; /* held while FDB_SHARED_READER is online */
    rte_spinlock_t key[1u << FDB_KEY_LOCK_BITS];
};

/* Which table this thread is an online reader of (by id, as a destroyed table's memory may be
 * reused; 0: none), and as which reader. Set by the reader's own calls only, so a control thread
 * that registers ids on behalf of workers is not mistaken for one of them. */
static __thread uint32_t self_fdb;
static __thread unsigned self_reader;

static inline uint64_t fdb_key(uint16_t bridge, const uint8_t mac[6])
{
    uint64_t key = (uint64_t)bridge << 48;

    for (int i = 0; i < 6; i++)
        key |= (uint64_t)mac[i] << (40 - 8 * i);
    return key;
}

static inline uintptr_t pack(uint16_t port, uint32_t seen)
{
    return (uintptr_t)port << 32 | seen;
}

static inline uint16_t value_port(uintptr_t value)
{
    return (uint16_t)(value >> 32);
}

static inline uint32_t value_seen(uintptr_t value)
{
    return (uint32_t)value;
}

/* Workers' clocks may be a second apart: a sighting "after now" is age 0, not 4 billion. */
static inline uint32_t age_at(uint32_t now, uint32_t seen)
{
    int32_t age = (int32_t)(now - seen);

    return age > 0 ? (uint32_t)age : 0;
}

static rte_spinlock_t *key_lock(const struct fdb *fdb, uint64_t key)
{
    return &fdb->locks->key[(key * 0x9e3779b97f4a7c15ull) >> (64 - FDB_KEY_LOCK_BITS)];
}

/* rte_hash's multi-writer mode indexes a per-lcore cache of free slots by rte_lcore_id(): a
 * thread without an lcore id would write far outside it. */
static void need_lcore(void)
{
    RTE_VERIFY(rte_lcore_id() != LCORE_ID_ANY);
}

/* Every use of the hash is inside a read-side section, so that no key slot it looks at is
 * reused meanwhile: the caller's own while it is an online reader, else the shared reader id.
 * Returns whether it took the shared one. */
static bool section_enter(const struct fdb *fdb)
{
    if (likely(self_fdb == fdb->id))
        return false;
    pthread_mutex_lock(&fdb->locks->shared);
    rte_rcu_qsbr_thread_online(fdb->qsbr, FDB_SHARED_READER);
    return true;
}

static void section_leave(const struct fdb *fdb, bool shared)
{
    if (likely(!shared))
        return;
    rte_rcu_qsbr_thread_offline(fdb->qsbr, FDB_SHARED_READER);
    pthread_mutex_unlock(&fdb->locks->shared);
}

static void forget_self(const struct fdb *fdb, unsigned reader)
{
    if (self_fdb == fdb->id && self_reader == reader)
        self_fdb = 0;
}

int fdb_init(struct fdb *fdb, uint32_t capacity)
{
    static uint32_t last_id;
    uint32_t cap = 16;
    char name[RTE_HASH_NAMESIZE];

    memset(fdb, 0, sizeof *fdb);
    while (cap < capacity && cap < (1u << 30))
        cap <<= 1;
    fdb->id = __atomic_add_fetch(&last_id, 1, __ATOMIC_RELAXED);
    fdb->capacity = cap;
    fdb->max_count = cap / 4 * 3;

    fdb->locks = calloc(1, sizeof *fdb->locks);
    if (!fdb->locks)
        goto fail;
    pthread_mutex_init(&fdb->locks->shared, NULL);
    for (unsigned i = 0; i < RTE_DIM(fdb->locks->key); i++)
        rte_spinlock_init(&fdb->locks->key[i]);

    fdb->qsbr =
        rte_zmalloc("fdb_qsbr", rte_rcu_qsbr_get_memsize(FDB_MAX_READERS + 1), RTE_CACHE_LINE_SIZE);
    if (!fdb->qsbr || rte_rcu_qsbr_init(fdb->qsbr, FDB_MAX_READERS + 1) != 0 ||
        rte_rcu_qsbr_thread_register(fdb->qsbr, FDB_SHARED_READER) != 0)
        goto fail;

    /* Short: rte_hash and its defer queue prefix it into ring names of 29 characters. */
    snprintf(name, sizeof name, "fdb%u", fdb->id);
    struct rte_hash_parameters params = {
        .name = name,
        .entries = cap,
        .key_len = sizeof(uint64_t),
        .socket_id = SOCKET_ID_ANY,
        .extra_flag =
            RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD,
    };
    fdb->hash = rte_hash_create(&params);
    if (!fdb->hash)
        goto fail;

    /* The defer queue has a place for every key slot, the lcore caches' included: a deleted key
     * holds its slot until reclaimed, so the queue can never be full, and no deletion, however
     * many one sweep makes, fails to be queued (rte_hash would leak the slot, not report it).
     * Each deletion reclaims a few slots whose readers have moved on (trigger limit 0), and an
     * insertion that finds no free slot reclaims before it gives up. */
    struct rte_hash_rcu_config rcu = {
        .v = fdb->qsbr,
        .mode = RTE_HASH_QSBR_MODE_DQ,
        .dq_size = (uint32_t)rte_hash_max_key_id(fdb->hash) + 1,
        .trigger_reclaim_limit = 0,
    };
    if (rte_hash_rcu_qsbr_add(fdb->hash, &rcu) != 0)
        goto fail;
    return 0;

fail:
    fdb_destroy(fdb);
    return ENOMEM;
}

void fdb_destroy(struct fdb *fdb)
{
    if (fdb->qsbr) {
        /* A reader left registered would keep deleted slots in the defer queue, which
         * rte_hash_free could not empty and would leak. */
        for (unsigned r = 0; r <= FDB_SHARED_READER; r++)
            rte_rcu_qsbr_thread_unregister(fdb->qsbr, r);
    }
    if (fdb->hash) {
        need_lcore(); /* emptying the defer queue returns slots to this lcore's cache */
        rte_hash_free(fdb->hash);
    }
    rte_free(fdb->qsbr);
    if (fdb->locks) {
        pthread_mutex_destroy(&fdb->locks->shared);
        free(fdb->locks);
    }
    if (self_fdb == fdb->id)
        self_fdb = 0;
    fdb->hash = NULL;
    fdb->qsbr = NULL;
    fdb->locks = NULL;
}

int fdb_reader_register(struct fdb *fdb, unsigned reader)
{
    if (reader >= FDB_MAX_READERS || rte_rcu_qsbr_thread_register(fdb->qsbr, reader) != 0)
        return EINVAL;
    rte_rcu_qsbr_thread_online(fdb->qsbr, reader);
    return 0;
}

void fdb_reader_unregister(struct fdb *fdb, unsigned reader)
{
    if (reader >= FDB_MAX_READERS)
        return;
    forget_self(fdb, reader);
    rte_rcu_qsbr_thread_offline(fdb->qsbr, reader);
    rte_rcu_qsbr_thread_unregister(fdb->qsbr, reader);
}

void fdb_reader_quiescent(struct fdb *fdb, unsigned reader)
{
    if (unlikely(reader >= FDB_MAX_READERS))
        return;
    rte_rcu_qsbr_quiescent(fdb->qsbr, reader);
    /* only an online reader reports: this is the thread of that reader */
    self_fdb = fdb->id;
    self_reader = reader;
}

void fdb_reader_offline(struct fdb *fdb, unsigned reader)
{
    if (reader >= FDB_MAX_READERS)
        return;
    forget_self(fdb, reader);
    rte_rcu_qsbr_thread_offline(fdb->qsbr, reader);
}

void fdb_reader_online(struct fdb *fdb, unsigned reader)
{
    if (reader >= FDB_MAX_READERS)
        return;
    rte_rcu_qsbr_thread_online(fdb->qsbr, reader);
    self_fdb = fdb->id;
    self_reader = reader;
}

static bool lookup(const struct fdb *fdb, uint64_t key, uintptr_t *value)
{
    void *data;

    if (rte_hash_lookup_data(fdb->hash, &key, &data) < 0)
        return false;
    *value = (uintptr_t)data;
    return true;
}

/* Whether seeing the MAC on `port` at `now` tells nothing new. A sighting from a worker whose
 * clock lags does not pull last_seen back, nor cost a write on every packet. */
static bool unchanged(uintptr_t value, uint16_t port, uint32_t now)
{
    return value_port(value) == port && age_at(now, value_seen(value)) == 0;
}

/* Reserves a place for a new entry unless 3/4 of the capacity is used. A compare-and-swap, as
 * learners of different MACs (different key locks) may take the last place at once. */
static bool take_room(struct fdb *fdb)
{
    uint32_t n = __atomic_load_n(&fdb->count, __ATOMIC_RELAXED);

    do {
        if (n >= fdb->max_count)
            return false;
    } while (!__atomic_compare_exchange_n(&fdb->count, &n, n + 1, true, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    return true;
}

static enum fdb_learn_result learn_locked(struct fdb *fdb, uint64_t key, uint16_t port,
                                          uint32_t now)
{
    rte_spinlock_t *lock = key_lock(fdb, key);
    enum fdb_learn_result result;
    uintptr_t old;

    need_lcore();
    rte_spinlock_lock(lock);
    /* Again under the lock: another learner of this MAC may have written since. */
    if (lookup(fdb, key, &old)) {
        if (unchanged(old, port, now)) {
            result = FDB_REFRESHED;
        } else {
            uint32_t seen = age_at(now, value_seen(old)) ? now : value_seen(old);

            /* the key exists and no one can delete it while we hold its lock: this replaces
             * the value with one atomic store and cannot fail */
            rte_hash_add_key_data(fdb->hash, &key, (void *)pack(port, seen));
            result = value_port(old) == port ? FDB_REFRESHED : FDB_MOVED;
        }
    } else if (!take_room(fdb)) {
        result = FDB_FULL;
    } else if (rte_hash_add_key_data(fdb->hash, &key, (void *)pack(port, now)) != 0) {
        /* both buckets of the key full (rare below 3/4 load), or no free slot left because
         * readers have not yet let go of deleted ones */
        __atomic_fetch_sub(&fdb->count, 1, __ATOMIC_RELAXED);
        result = FDB_FULL;
    } else {
        result = FDB_LEARNED;
    }
    rte_spinlock_unlock(lock);
    return result;
}

enum fdb_learn_result fdb_learn(struct fdb *fdb, uint16_t bridge, const uint8_t mac[6],
                                uint16_t port, uint32_t now)
{
    uint64_t key = fdb_key(bridge, mac);
    bool shared = section_enter(fdb);
    enum fdb_learn_result result;
    uintptr_t old;

    /* The per-packet case: a known MAC, on its port, already seen this second. Only reads. */
    if (lookup(fdb, key, &old) && unchanged(old, port, now)) {
        section_leave(fdb, shared);
        return FDB_REFRESHED;
    }
    result = learn_locked(fdb, key, port, now);
    section_leave(fdb, shared);

    if (result == FDB_LEARNED)
        __atomic_fetch_add(&fdb->learned, 1, __ATOMIC_RELAXED);
    else if (result == FDB_MOVED)
        __atomic_fetch_add(&fdb->moved, 1, __ATOMIC_RELAXED);
    else if (result == FDB_FULL)
        __atomic_fetch_add(&fdb->full, 1, __ATOMIC_RELAXED);
    return result;
}

uint16_t fdb_lookup(const struct fdb *fdb, uint16_t bridge, const uint8_t mac[6])
{
    bool shared = section_enter(fdb);
    uintptr_t value;
    uint16_t port = lookup(fdb, fdb_key(bridge, mac), &value) ? value_port(value) : FDB_PORT_NONE;

    section_leave(fdb, shared);
    return port;
}

typedef bool doomed_fn(uint64_t key, uintptr_t value, const void *ctx);

/* Deletes key if `doomed` still holds for its current value: what the sweep read may be stale
 * (a learner may have refreshed or moved the entry since). */
static bool remove_if(struct fdb *fdb, uint64_t key, doomed_fn *doomed, const void *ctx)
{
    rte_spinlock_t *lock = key_lock(fdb, key);
    bool removed = false;
    uintptr_t value;

    rte_spinlock_lock(lock);
    if (lookup(fdb, key, &value) && doomed(key, value, ctx) &&
        rte_hash_del_key(fdb->hash, &key) >= 0) {
        __atomic_fetch_sub(&fdb->count, 1, __ATOMIC_RELAXED);
        removed = true;
    }
    rte_spinlock_unlock(lock);
    return removed;
}

/* Deleting while iterating is safe: without extendable buckets a deletion moves no other key,
 * and the iterator is past the deleted one. Only insertions (cuckoo displacement) move keys, so
 * with learners running an entry may escape one sweep, never two in a row for long. */
static unsigned sweep(struct fdb *fdb, doomed_fn *doomed, const void *ctx)
{
    unsigned removed = 0;
    uint32_t next = 0;
    const void *key_in_table;
    void *data;
    bool shared;

    need_lcore();
    shared = section_enter(fdb);
    while (rte_hash_iterate(fdb->hash, &key_in_table, &data, &next) >= 0) {
        uint64_t key;

        memcpy(&key, key_in_table, sizeof key);
        if (doomed(key, (uintptr_t)data, ctx) && remove_if(fdb, key, doomed, ctx))
            removed++;
    }
    section_leave(fdb, shared);
    return removed;
}

struct age_ctx {
    uint32_t now;
    const uint32_t *aging_s;
    size_t n_bridges;
};

static bool entry_expired(uint64_t key, uintptr_t value, const void *arg)
{
    const struct age_ctx *ctx = arg;
    size_t bridge = (size_t)(key >> 48);
    uint32_t limit = bridge < ctx->n_bridges ? ctx->aging_s[bridge] : 0;

    return age_at(ctx->now, value_seen(value)) > limit;
}

unsigned fdb_age(struct fdb *fdb, uint32_t now, const uint32_t *aging_s, size_t n_bridges)
{
    struct age_ctx ctx = {now, aging_s, n_bridges};
    unsigned removed = sweep(fdb, entry_expired, &ctx);

    __atomic_fetch_add(&fdb->aged, removed, __ATOMIC_RELAXED);
    return removed;
}

static bool entry_on_port(uint64_t key, uintptr_t value, const void *arg)
{
    (void)key;
    return value_port(value) == *(const uint16_t *)arg;
}

unsigned fdb_flush_port(struct fdb *fdb, uint16_t port)
{
    return sweep(fdb, entry_on_port, &port);
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
    size_t n = 0, kept = 0;
    uint32_t next = 0;
    const void *key_in_table;
    void *data;
    bool shared = section_enter(fdb);

    /* The section keeps each key slot from being reused while it is copied, so key and value
     * belong together; the value word is read whole. */
    while (n < max && rte_hash_iterate(fdb->hash, &key_in_table, &data, &next) >= 0) {
        uint64_t key;

        memcpy(&key, key_in_table, sizeof key);
        out[n].bridge = (uint16_t)(key >> 48);
        for (int b = 0; b < 6; b++)
            out[n].mac[b] = (uint8_t)(key >> (40 - 8 * b));
        out[n].port = value_port((uintptr_t)data);
        out[n].age_s = age_at(now, value_seen((uintptr_t)data));
        n++;
    }
    section_leave(fdb, shared);
    if (n < 2)
        return n;
    qsort(out, n, sizeof *out, view_cmp);
    /* a key moved by a concurrent insertion may have been met twice: keep the first */
    for (size_t i = 0; i < n; i++)
        if (kept == 0 || view_cmp(&out[kept - 1], &out[i]) != 0)
            out[kept++] = out[i];
    return kept;
}
