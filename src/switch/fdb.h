/*
 * The forwarding database: which port a MAC address was last seen on, per bridge.
 *
 * An open-addressed hash table with linear probing and a fixed capacity, so that learning on
 * the fast path never allocates. It is owned by one thread (the worker); other threads reach it
 * only through worker_call(). Pure C with no DPDK dependency, so it is unit-tested directly.
 *
 * Time is in whole seconds from any monotonic origin chosen by the caller.
 */
#ifndef HASHI_FDB_H
#define HASHI_FDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FDB_PORT_NONE 0xffff /* fdb_lookup: no entry */

struct fdb_entry {
    uint64_t key;       /* bridge << 48 | MAC, see fdb_key() */
    uint32_t last_seen; /* seconds */
    uint16_t port;
    uint8_t used;
};

struct fdb {
    struct fdb_entry *slots;
    uint32_t mask; /* capacity - 1; capacity is a power of two */
    uint8_t shift; /* 64 - log2(capacity): the slot is the top bits of the hash product */
    uint32_t count;
    uint32_t max_count; /* 3/4 of the capacity keeps probe chains short */
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

/* Allocates room for `capacity` slots (rounded up to a power of two, at least 16); up to 3/4 of
 * them hold entries. Returns 0 or ENOMEM. */
int fdb_init(struct fdb *fdb, uint32_t capacity);
void fdb_destroy(struct fdb *fdb);

/* Records that `mac` was seen on `port` of `bridge` at `now`. The caller rejects multicast and
 * all-zero source MACs first; fdb_learn does not. */
enum fdb_learn_result fdb_learn(struct fdb *fdb, uint16_t bridge, const uint8_t mac[6],
                                uint16_t port, uint32_t now);

/* The port that `mac` was last seen on, or FDB_PORT_NONE. Does not check age: expired entries
 * live until the next fdb_age() sweep (at most one second with the worker's schedule). */
uint16_t fdb_lookup(const struct fdb *fdb, uint16_t bridge, const uint8_t mac[6]);

/* Removes entries not seen for longer than aging_s[bridge] seconds. Returns how many. */
unsigned fdb_age(struct fdb *fdb, uint32_t now, const uint32_t *aging_s, size_t n_bridges);

/* Removes every entry that points at `port` (the port is going away). Returns how many. */
unsigned fdb_flush_port(struct fdb *fdb, uint16_t port);

/* Copies up to `max` entries into out (when the table holds more, which ones is unspecified),
 * ordered by bridge then MAC; returns the number copied. */
size_t fdb_dump(const struct fdb *fdb, uint32_t now, struct fdb_view *out, size_t max);

#endif
