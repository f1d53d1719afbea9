/*
 * The data-plane worker: one pinned run-to-completion thread (a DPDK lcore) that polls every
 * port, switches what it receives and flushes the tx buffers, in that order, forever.
 *
 * The worker owns its switch (ports array, FDB, counters). Other threads never touch that state
 * directly: they pass a function to worker_call(), which the worker runs between two loop
 * iterations, so the fast path takes no lock and needs no atomics beyond one pointer load.
 */
#ifndef HASHI_WORKER_H
#define HASHI_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "switch/switch.h"

/* Cycle accounting as Open vSwitch's pmd-perf-show and testpmd's --record-core-cycles count
 * it: an iteration that received at least one packet is busy, any other is idle, and cycles
 * per packet is busy cycles over received packets. Cycles are TSC cycles. */
struct worker_stats {
    uint64_t iterations;
    uint64_t packets; /* received from all ports */
    uint64_t busy_cycles;
    uint64_t idle_cycles;
};

struct worker_call;

struct worker {
    unsigned lcore; /* DPDK lcore id */
    int core;       /* CPU it is pinned to */
    uint64_t tsc_hz;
    struct sw sw;
    struct worker_stats stats; /* worker-owned */

    atomic_bool stop;
    _Atomic(struct worker_call *) pending;
    pthread_mutex_t call_lock; /* serialises callers; never taken by the worker */
    bool running;              /* guarded by call_lock */
};

typedef void (*worker_fn)(struct worker *w, void *arg);

/* Returns 0 or ENOMEM. */
int worker_init(struct worker *w, unsigned lcore, int core, struct rte_mempool *pool);
void worker_destroy(struct worker *w);

/* Launches the loop on its lcore. Returns 0 or a positive errno. */
int worker_start(struct worker *w);

/* Ends the loop and waits for it; later worker_call()s run in the caller. */
void worker_stop(struct worker *w);

/* Runs fn(w, arg) on the worker between two iterations and returns when it has run. Before
 * worker_start and after worker_stop it runs fn in the calling thread. Any thread but the
 * worker itself. */
void worker_call(struct worker *w, worker_fn fn, void *arg);

/* worker_call() of nothing: returns once the worker has left any port call it was in.
 * Matches port_env.sync. */
void worker_sync(void *w);

#endif
