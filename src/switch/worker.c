#include "worker.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_launch.h>

struct worker_call {
    worker_fn fn;
    void *arg;
};

int worker_init(struct worker *w, unsigned lcore, int core, struct rte_mempool *pool)
{
    memset(w, 0, sizeof *w);
    w->lcore = lcore;
    w->core = core;
    w->tsc_hz = rte_get_tsc_hz();
    atomic_init(&w->stop, false);
    atomic_init(&w->pending, NULL);
    pthread_mutex_init(&w->call_lock, NULL);
    return sw_init(&w->sw, pool);
}

void worker_destroy(struct worker *w)
{
    sw_destroy(&w->sw);
    pthread_mutex_destroy(&w->call_lock);
}

static void run_pending_call(struct worker *w)
{
    struct worker_call *call = atomic_load_explicit(&w->pending, memory_order_acquire);

    if (likely(!call))
        return;
    call->fn(w, call->arg);
    atomic_store_explicit(&w->pending, NULL, memory_order_release);
}

static int worker_loop(void *arg)
{
    struct worker *w = arg;
    struct sw *sw = &w->sw;
    uint64_t start = rte_rdtsc();
    uint64_t next_second = start + w->tsc_hz;

    while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
        struct rte_mbuf *pkts[PORT_BURST];
        uint32_t received = 0;

        for (uint16_t id = 0; id < sw->n_ports_max; id++) {
            struct port *port = sw->ports[id];
            uint16_t n;

            if (!port)
                continue;
            n = port->class->rx_burst(port, pkts, PORT_BURST);
            if (n) {
                /* a burst goes out before the next port is polled: holding it back for a
                 * whole iteration would add that iteration to every frame's latency */
                sw_input(sw, port, pkts, n);
                sw_flush(sw);
                received += n;
            }
        }

        uint64_t end = rte_rdtsc();
        w->stats.iterations++;
        if (received) {
            w->stats.packets += received;
            w->stats.busy_cycles += end - start;
        } else {
            w->stats.idle_cycles += end - start;
        }
        start = end;
        if (unlikely(end >= next_second)) {
            next_second += w->tsc_hz;
            sw_tick(sw);
        }
        run_pending_call(w);
    }
    return 0;
}

int worker_start(struct worker *w)
{
    int rc;

    pthread_mutex_lock(&w->call_lock);
    atomic_store(&w->stop, false);
    rc = rte_eal_remote_launch(worker_loop, w, w->lcore);
    w->running = rc == 0;
    pthread_mutex_unlock(&w->call_lock);
    return rc < 0 ? -rc : rc;
}

void worker_stop(struct worker *w)
{
    /* Holding call_lock: no caller is waiting on a worker that is about to leave its loop. */
    pthread_mutex_lock(&w->call_lock);
    if (w->running) {
        atomic_store(&w->stop, true);
        rte_eal_wait_lcore(w->lcore);
        w->running = false;
    }
    pthread_mutex_unlock(&w->call_lock);
}

void worker_call(struct worker *w, worker_fn fn, void *arg)
{
    struct worker_call call = {fn, arg};
    const struct timespec pause = {0, 10000}; /* 10 us: the worker's loop is far shorter */

    pthread_mutex_lock(&w->call_lock);
    if (!w->running) {
        fn(w, arg);
    } else {
        atomic_store_explicit(&w->pending, &call, memory_order_release);
        while (atomic_load_explicit(&w->pending, memory_order_acquire) != NULL)
            nanosleep(&pause, NULL);
    }
    pthread_mutex_unlock(&w->call_lock);
}

static void nothing(struct worker *w, void *arg)
{
    (void)w;
    (void)arg;
}

void worker_sync(void *w)
{
    worker_call(w, nothing, NULL);
}
