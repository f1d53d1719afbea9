#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pause.h>

#include "switch/fdb.h"

struct worker_call {
    worker_fn fn;
    void *arg;
};

int worker_init(struct worker *w, const struct worker_params *p)
{
    const struct hashi_config *cfg = p->cfg;

    memset(w, 0, sizeof *w);
    w->index = p->index;
    w->lcore = p->lcore;
    w->core = p->core;
    w->numa = (int)rte_lcore_to_socket_id(p->lcore);
    w->tsc_hz = rte_get_tsc_hz();
    w->epoch_tsc = p->epoch_tsc;
    w->adaptive = cfg->poll_adaptive;
    w->pause_after_cycles = w->tsc_hz / 1000000 * cfg->poll_pause_us;
    w->sleep_after_cycles = w->tsc_hz / 1000000 * cfg->poll_sleep_us;
    atomic_init(&w->stop, false);
    atomic_init(&w->pending, NULL);
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0)
        return errno;
    pthread_mutex_init(&w->call_lock, NULL);
    sw_init(&w->sw, p->fdb, p->index, p->pool);
    return 0;
}

void worker_destroy(struct worker *w)
{
    close(w->wake_fd);
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

/* Polls every queue once, switching each burst before the next queue is polled: holding it
 * back for a whole iteration would add that iteration to every frame's latency. Counts the
 * frames each queue handed to the switch. Returns the frames read, including those a queue
 * handed to another worker (software dispatch): reading them was this worker's work. */
static uint32_t poll_queues(struct worker *w)
{
    struct sw *sw = &w->sw;
    uint32_t work = 0;

    for (uint16_t i = 0; i < w->n_rxqs; i++) {
        struct worker_rxq *q = &w->rxqs[i];
        struct sw_port *sp = &sw->ports[q->port];
        struct rte_mbuf *pkts[PORT_BURST];
        uint64_t start = rte_rdtsc(), dispatched = sp->stats.dispatched;
        uint16_t n = sp->port->class->rx_burst(sp->port, q->queue, &sp->io, pkts, PORT_BURST);
        uint32_t read = n + (uint32_t)(sp->stats.dispatched - dispatched);

        if (n) {
            sw_input(sw, q->port, pkts, n);
            sw_flush(sw);
            q->packets += n;
            w->stats.packets += n;
        }
        if (read) {
            work += read;
            q->cycles += rte_rdtsc() - start;
        }
    }
    return work;
}

/* Arms (or disarms) every queue's signal. Returns how many descriptors went into fds (after
 * the wake-up eventfd in fds[0]); *all_signal tells whether every queue can signal. */
static unsigned arm_queues(struct worker *w, bool arm, struct pollfd *fds, bool *all_signal)
{
    unsigned n = 1;

    *all_signal = true;
    for (uint16_t i = 0; i < w->n_rxqs; i++) {
        struct port *port = w->sw.ports[w->rxqs[i].port].port;
        int fd = port->class->rx_wait ? port->class->rx_wait(port, w->rxqs[i].queue, arm)
                                      : PORT_WAIT_NAP;

        if (!arm || fd == PORT_WAIT_NONE)
            continue;
        if (fd == PORT_WAIT_NAP)
            *all_signal = false;
        else
            fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    return n;
}

/* Sleeps until a queue signals, a call arrives or the next tick is due (at the latest). The
 * queues are polled once more after they are armed: a frame that came in between arming and
 * the last poll would otherwise wait for the timeout. Returns the frames read in that poll. */
static uint32_t sleep_until_work(struct worker *w, uint64_t next_tick)
{
    struct pollfd fds[1 + WORKER_MAX_RXQS];
    uint32_t work = 0;
    bool all_signal;
    unsigned n;

    fds[0] = (struct pollfd){.fd = w->wake_fd, .events = POLLIN};
    n = arm_queues(w, true, fds, &all_signal);
    /* a call or a wake-up from here on leaves the eventfd readable, so poll() returns */
    if (!atomic_load(&w->pending) && (work = poll_queues(w)) == 0) {
        uint64_t now = rte_rdtsc();
        uint64_t ms = next_tick > now ? (next_tick - now) * 1000 / w->tsc_hz + 1 : 0;
        uint64_t eventfd_value;

        if (!all_signal && ms > WORKER_NAP_MS)
            ms = WORKER_NAP_MS;
        /* a sleeping worker holds no FDB reference: writers need not wait for it */
        fdb_reader_offline(w->sw.fdb, w->sw.fdb_reader);
        int ready = poll(fds, n, (int)ms);
        fdb_reader_online(w->sw.fdb, w->sw.fdb_reader);
        w->stats.sleeps++;
        if (ready > 0 && (ready > 1 || !(fds[0].revents & POLLIN)))
            w->stats.wakes++;
        if (fds[0].revents & POLLIN)
            (void)!read(w->wake_fd, &eventfd_value, sizeof eventfd_value);
        w->stats.sleep_cycles += rte_rdtsc() - now;
    }
    arm_queues(w, false, fds, &all_signal);
    return work;
}

static int worker_loop(void *arg)
{
    struct worker *w = arg;
    uint64_t start = rte_rdtsc();
    uint64_t next_tick = start + w->tsc_hz;
    uint64_t last_work = start;

    fdb_reader_online(w->sw.fdb, w->sw.fdb_reader);
    while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
        uint32_t work = poll_queues(w);
        uint64_t end = rte_rdtsc();

        w->stats.iterations++;
        if (work) {
            w->stats.busy_cycles += end - start;
            last_work = end;
        } else {
            w->stats.idle_cycles += end - start;
        }
        fdb_reader_quiescent(w->sw.fdb, w->sw.fdb_reader);
        if (unlikely(end >= next_tick)) {
            next_tick = end + w->tsc_hz;
            sw_tick(&w->sw, (uint32_t)((end - w->epoch_tsc) / w->tsc_hz));
        }
        run_pending_call(w);
        if (w->adaptive && !work) {
            uint64_t idle = end - last_work;
            if (idle >= w->sleep_after_cycles) {
                /* an empty wake-up (a nap's end, a call, a tick) goes back to sleep after one
                 * more look at the queues, not after another poll-sleep-us of polling */
                if (sleep_until_work(w, next_tick))
                    last_work = rte_rdtsc();
                run_pending_call(w);
            } else if (idle >= w->pause_after_cycles) {
                rte_pause();
            }
        }
        start = rte_rdtsc();
    }
    fdb_reader_offline(w->sw.fdb, w->sw.fdb_reader);
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

void worker_wake(struct worker *w)
{
    uint64_t one = 1;

    /* always written: a worker about to sleep then returns at once instead of missing it */
    (void)!write(w->wake_fd, &one, sizeof one);
}

void worker_stop(struct worker *w)
{
    /* Holding call_lock: no caller is waiting on a worker that is about to leave its loop. */
    pthread_mutex_lock(&w->call_lock);
    if (w->running) {
        atomic_store(&w->stop, true);
        worker_wake(w);
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
        atomic_store(&w->pending, &call);
        worker_wake(w);
        while (atomic_load_explicit(&w->pending, memory_order_acquire) != NULL)
            nanosleep(&pause, NULL);
    }
    pthread_mutex_unlock(&w->call_lock);
}

void worker_set_rxqs(struct worker *w, const struct worker_rxq *rxqs, uint16_t n)
{
    struct worker_rxq next[WORKER_MAX_RXQS];

    for (uint16_t i = 0; i < n; i++) {
        next[i] = rxqs[i]; /* a queue new to this worker brings its counters along */
        for (uint16_t j = 0; j < w->n_rxqs; j++)
            if (w->rxqs[j].port == rxqs[i].port && w->rxqs[j].queue == rxqs[i].queue) {
                next[i].packets = w->rxqs[j].packets;
                next[i].cycles = w->rxqs[j].cycles;
            }
    }
    memcpy(w->rxqs, next, n * sizeof *next);
    w->n_rxqs = n;
}
