/*
 * The forwarding database: which port a MAC address was last seen on, per bridge.
 *
 * One table is shared by every worker: each learns the source MACs of what it receives and
 * looks up destinations, so a MAC learned by one worker is known to all of them at once. It is
 * an rte_hash in lock-free mode with several writers, plus an RCU (QSBR) variable that rte_hash
 * consults before it reuses the slot of a deleted key. So the table lives in DPDK memory and
 * fdb_init needs the EAL running.
 *
 * Entries are torn-free: the value of a key is one machine word (port and last-seen second
 * packed into rte_hash's data pointer), published with a single atomic store, so no reader
 * ever sees the port of one sighting with the time of another. A key's slot is recycled only
 * after every reader that might still be looking at it has passed a quiescent state, so a
 * reader never sees one key with another key's value either.
 *
 * Threads:
 *  - Readers. A worker takes a reader id (below FDB_MAX_READERS) with fdb_reader_register,
 *    reports a quiescent state once per loop iteration (fdb_reader_quiescent: holds no FDB
 *    reference across it), and goes offline before it sleeps. While online, its fdb_lookup and
 *    the read half of fdb_learn take no lock at all. A reader that stops reporting blocks no
 *    one: deletions wait in a defer queue, and only the reuse of their slots is postponed (in
 *    the worst case learning reports FDB_FULL until it reports again).
 *  - Any other thread may call every function too: while it is not an online reader of this
 *    table, the call borrows one shared reader id under a mutex, so it is safe but serialised
 *    with other such calls (fine for a control thread, not for a data path).
 *  - Changes: fdb_learn may run in any number of threads at once. fdb_age and fdb_flush_port
 *    run in one thread at a time (the caller's duty), concurrently with learners and readers.
 *    rte_hash's multi-writer mode keeps a cache of free slots per lcore, so every thread that
 *    changes the table (fdb_learn, fdb_age, fdb_flush_port, fdb_destroy) must have a DPDK lcore
 *    id: an EAL lcore or a thread that called rte_thread_register(); the FDB stops the process
 *    rather than corrupt the table otherwise. fdb_lookup and fdb_dump need none.
 *
 * Time is in whole seconds from any monotonic origin chosen by the caller. Workers' clocks may
 * differ by a second: an entry seen "later than now" counts as age 0, never as very old.
 */
#ifndef HASHI_FDB_H
#define HASHI_FDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FDB_PORT_NONE   0xffff /* fdb_lookup: no entry */
#define FDB_MAX_READERS 16     /* reader ids are 0 .. FDB_MAX_READERS - 1 */

struct rte_hash;
struct rte_rcu_qsbr;
struct fdb_locks;

/* The counters are shared by every thread that learns: read them with
 * __atomic_load_n(&fdb->learned, __ATOMIC_RELAXED) while workers run. */
struct fdb {
    struct rte_hash *hash;     /* key: bridge << 48 | MAC; data: port << 32 | last_seen */
    struct rte_rcu_qsbr *qsbr; /* the readers' quiescent states */
    struct fdb_locks *locks;   /* serialise changes to one key; the shared reader id */
    uint32_t id;               /* unique per fdb_init in the process: names, thread state */
    uint32_t capacity;         /* a power of two */
    uint32_t max_count;        /* 3/4 of the capacity, as a cuckoo table stays fast there */
    uint32_t count;            /* entries now */
    uint64_t learned, moved, aged, full;
};

enum fdb_learn_result {
    FDB_REFRESHED, /* known MAC on the same port */
    FDB_LEARNED,   /* new MAC */
    FDB_MOVED,     /* known MAC now seen on another port */
    FDB_FULL,      /* table full: not learned, frames to it are flooded */
};

/* A copy of one entry, for display. */
struct fdb_view {
    uint16_t bridge;
    uint8_t mac[6];
    uint16_t port;
    uint32_t age_s;
};

/* Makes a table for `capacity` entries (rounded up to a power of two, at least 16); up to 3/4
 * of them are used. Needs the EAL; may be called for several tables. Returns 0 or ENOMEM. */
int fdb_init(struct fdb *fdb, uint32_t capacity);

/* Frees everything. No other call may run on the table, and readers should have unregistered
 * (any still registered are dropped). Needs an lcore id (see above). */
void fdb_destroy(struct fdb *fdb);

/* Makes `reader` (< FDB_MAX_READERS) a reader of the table and puts it online. Any thread may
 * register an id for a worker it is about to start; the worker itself then reports on it.
 * Returns 0 or EINVAL. */
int fdb_reader_register(struct fdb *fdb, unsigned reader);

/* Removes the reader (online or not): deletions stop waiting for it. */
void fdb_reader_unregister(struct fdb *fdb, unsigned reader);

/* Called by the reader's own thread once per loop iteration, when it holds nothing it read
 * from the table: lets deleted entries' slots be reused. A few instructions, no lock. */
void fdb_reader_quiescent(struct fdb *fdb, unsigned reader);

/* Called by the reader's own thread before it blocks or sleeps, so that slots deleted meanwhile
 * are not held for it... */
void fdb_reader_offline(struct fdb *fdb, unsigned reader);

/* ...and after it wakes, before it uses the table again. */
void fdb_reader_online(struct fdb *fdb, unsigned reader);

/* Records that `mac` was seen on `port` of `bridge` at `now`. The caller rejects multicast and
 * all-zero source MACs first; fdb_learn does not. When nothing changed (same port, already seen
 * this second) it only reads, which is the per-packet case; otherwise it writes under a lock
 * of that key, so concurrent learners of one MAC are told LEARNED, MOVED and REFRESHED as if
 * they had come one after another. */
enum fdb_learn_result fdb_learn(struct fdb *fdb, uint16_t bridge, const uint8_t mac[6],
                                uint16_t port, uint32_t now);

/* The port that `mac` was last seen on, or FDB_PORT_NONE. Lock-free for an online reader. Does
 * not check age: expired entries live until the next fdb_age() sweep. */
uint16_t fdb_lookup(const struct fdb *fdb, uint16_t bridge, const uint8_t mac[6]);

/* Removes entries not seen for longer than aging_s[bridge] seconds (a bridge beyond n_bridges:
 * 0 s). Returns how many. An entry refreshed during the sweep is kept: the decision is taken
 * again under the key's lock. One thread at a time. */
unsigned fdb_age(struct fdb *fdb, uint32_t now, const uint32_t *aging_s, size_t n_bridges);

/* Removes every entry that points at `port` (the port is going away). Returns how many. An
 * entry learned on the port during the call may survive it. One thread at a time. */
unsigned fdb_flush_port(struct fdb *fdb, uint16_t port);

/* Copies up to `max` entries into out (when the table holds more, which ones is unspecified),
 * ordered by bridge then MAC, each key at most once; returns the number copied. Every copy is
 * an entry as it was at some instant of the call; while other threads change the table, an
 * entry added, deleted or moved inside the hash during the call may be missing. */
size_t fdb_dump(const struct fdb *fdb, uint32_t now, struct fdb_view *out, size_t max);

#endif
