/*
 * Data-plane workers: pinned run-to-completion threads (DPDK lcores), one per configured core.
 * Each polls the receive queues it was given, switches what it receives and flushes its tx
 * buffers, in that order, forever; every receive queue of every port belongs to exactly one
 * worker, and every worker transmits to every port with its own buffers and counters, so the
 * fast path takes no lock.
 *
 * A worker's own state (its switch, its queue list, its counters) is touched by no other
 * thread: other threads pass a function to worker_call(), which the worker runs between two
 * loop iterations, so the fast path needs no atomics beyond one pointer load.
 *
 * Adaptive polling: a worker that has found nothing to do for `pause_after_us` pauses the CPU
 * between polls (cheaper for a sibling hyperthread, no added latency worth counting); after
 * `sleep_after_us` it asks each of its queues' peers to signal new frames (a vhost-user kick
 * eventfd, a readable TAP or socket descriptor) and sleeps in poll() until one does, until a
 * worker_call() arrives, or until its next one-second tick. A queue that cannot signal limits
 * the sleep to WORKER_NAP_MS. Traffic puts it back to busy polling at once.
 */
#ifndef HASHI_WORKER_H
#define HASHI_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "switch/switch.h"

#define WORKER_MAX      CONFIG_MAX_WORKERS
#define WORKER_MAX_RXQS (PORT_MAX * CONFIG_QUEUES_MAX)
#define WORKER_NAP_MS   1 /* longest sleep while a polled queue cannot signal */

/* Cycle accounting as Open vSwitch's pmd-perf-show and testpmd's --record-core-cycles count
 * it: an iteration that received at least one packet is busy, any other is idle, and cycles
 * per packet is busy cycles over received packets. Cycles are TSC cycles; time asleep is
 * counted apart, in neither. */
struct worker_stats {
    uint64_t iterations;
    uint64_t packets; /* received from all queues */
    uint64_t busy_cycles;
    uint64_t idle_cycles;
    uint64_t sleep_cycles;
    uint64_t sleeps; /* times it went to sleep */
    uint64_t wakes;  /* sleeps ended by a queue's signal (the others ended by a timeout or a
                        control call) */
};

/* One receive queue a worker polls, with what it cost. */
struct worker_rxq {
    uint16_t port; /* port id */
    uint16_t queue;
    uint64_t packets;
    uint64_t cycles; /* busy cycles spent receiving and switching its bursts */
};

struct worker_call;

struct worker {
    unsigned index; /* 0..n-1, also its FDB reader id */
    unsigned lcore; /* DPDK lcore id */
    int core;       /* CPU it is pinned to */
    int numa;       /* that CPU's NUMA node */
    uint64_t tsc_hz;
    uint64_t epoch_tsc; /* common to every worker: the FDB's clock counts seconds from it */
    bool adaptive;      /* adaptive polling, or always poll */
    uint64_t pause_after_cycles, sleep_after_cycles;
    struct sw sw;

    /* --- worker-owned --- */
    struct worker_stats stats;
    uint16_t n_rxqs;
    struct worker_rxq rxqs[WORKER_MAX_RXQS];

    int wake_fd; /* eventfd: a call, or a port's change, for a sleeping worker */
    atomic_bool stop;
    _Atomic(struct worker_call *) pending;
    pthread_mutex_t call_lock; /* serialises callers; never taken by the worker */
    bool running;              /* guarded by call_lock */
};

struct worker_params {
    unsigned index, lcore;
    int core;
    uint64_t epoch_tsc;
    const struct hashi_config *cfg; /* poll mode and thresholds */
    struct fdb *fdb;
    struct rte_mempool *pool; /* on the worker's NUMA node */
};

typedef void (*worker_fn)(struct worker *w, void *arg);

/* Returns 0 or a positive errno. */
int worker_init(struct worker *w, const struct worker_params *p);
void worker_destroy(struct worker *w);

/* Launches the loop on its lcore. Returns 0 or a positive errno. */
int worker_start(struct worker *w);

/* Ends the loop and waits for it; later worker_call()s run in the caller. */
void worker_stop(struct worker *w);

/* Runs fn(w, arg) on the worker between two iterations (waking it if it sleeps) and returns
 * when it has run. Before worker_start and after worker_stop it runs fn in the calling thread.
 * Any thread but the worker itself. */
void worker_call(struct worker *w, worker_fn fn, void *arg);

/* Makes a sleeping worker look at its queues again; returns at once. Any thread. */
void worker_wake(struct worker *w);

/* Replaces the worker's queue list. A queue it had keeps its own load counters; a new one
 * takes those given with it. Worker (through worker_call). */
void worker_set_rxqs(struct worker *w, const struct worker_rxq *rxqs, uint16_t n);

#endif
