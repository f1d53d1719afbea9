#include "ctl_commands.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/hashi.h"

static char error_buf[CONFIG_ERR_SIZE];

static json_t *port_add(struct hashi *h, json_t *args, const char **error)
{
    struct port_config cfg;
    const char *key;
    json_t *value;

    config_port_init(&cfg);
    json_object_foreach(args, key, value)
    {
        char text[CONFIG_PATH_SIZE];

        if (json_is_string(value) && json_string_length(value) >= sizeof text) {
            snprintf(error_buf, sizeof error_buf, "'%s' is longer than %zu bytes", key,
                     sizeof text - 1);
            goto fail;
        } else if (json_is_string(value))
            snprintf(text, sizeof text, "%s", json_string_value(value));
        else if (json_is_integer(value))
            snprintf(text, sizeof text, "%lld", (long long)json_integer_value(value));
        else {
            snprintf(error_buf, sizeof error_buf, "'%s' must be a string or a number", key);
            goto fail;
        }
        if (!strcmp(key, "name")) {
            if (!config_valid_name(text)) {
                snprintf(error_buf, sizeof error_buf,
                         "port name '%s' is not valid; use letters, "
                         "digits, '-', '_', '.' (at most %d)",
                         text, CONFIG_NAME_SIZE - 1);
                goto fail;
            }
            strcpy(cfg.name, text);
        } else if (config_port_set(&cfg, key, text, error_buf, sizeof error_buf) < 0) {
            goto fail;
        }
    }
    if (!cfg.name[0]) {
        snprintf(error_buf, sizeof error_buf, "port-add needs a name");
        goto fail;
    }
    if (hashi_port_add(h, &cfg, error_buf, sizeof error_buf) != 0)
        goto fail;
    return NULL;
fail:
    *error = error_buf;
    return NULL;
}

/* What coalescing did for one receiver. */
static json_t *rsc_stats_json(const struct rsc_stats *st)
{
    json_t *flushes = json_object(), *bypasses = json_object();

    for (int r = 0; r < RSC_FLUSH_N; r++)
        json_object_set_new(flushes, rsc_flush_names[r], json_integer((json_int_t)st->flushes[r]));
    for (int r = 0; r < RSC_BYPASS_N; r++)
        json_object_set_new(bypasses, rsc_bypass_names[r],
                            json_integer((json_int_t)st->bypasses[r]));
    return json_pack("{s:I, s:I, s:f, s:o, s:o}", "segments_in", (json_int_t)st->segments_in,
                     "aggregates_out", (json_int_t)st->aggregates_out, "segments_per_aggregate",
                     st->aggregates_out ? (double)st->segments_in / (double)st->aggregates_out
                                        : 0.0,
                     "flushes", flushes, "bypasses", bypasses);
}

/* The counters of one port as `stats` and `port-del` report them. */
static json_t *port_stats_json(const char *name, const struct port_stats *st)
{
    json_t *drops = json_object();

    for (int r = 0; r < PORT_DROP_N; r++)
        json_object_set_new(drops, port_drop_names[r], json_integer((json_int_t)st->drops[r]));
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "name", name,
                     "rx_packets", (json_int_t)st->rx_packets, "tx_packets",
                     (json_int_t)st->tx_packets, "rx_bytes", (json_int_t)st->rx_bytes, "tx_bytes",
                     (json_int_t)st->tx_bytes, "flood_copies", (json_int_t)st->flood_copies,
                     "gso_frames", (json_int_t)st->gso_frames, "gso_segments",
                     (json_int_t)st->gso_segments, "dispatched", (json_int_t)st->dispatched,
                     "drops", drops, "rsc", rsc_stats_json(&st->rsc));
}

static json_t *port_del(struct hashi *h, json_t *args, const char **error)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    struct port_stats final;

    if (!name) {
        *error = "port-del needs a name";
        return NULL;
    }
    if (hashi_port_del(h, name, &final, error_buf, sizeof error_buf) != 0) {
        *error = error_buf;
        return NULL;
    }
    return port_stats_json(name, &final);
}

static json_t *port_set(struct hashi *h, json_t *args, const char **error)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    const char *key = json_string_value(json_object_get(args, "key"));
    const char *value = json_string_value(json_object_get(args, "value"));

    if (!name || !key || !value) {
        *error = "port-set needs a name, a key and a value";
        return NULL;
    }
    if (hashi_port_set(h, name, key, value, error_buf, sizeof error_buf) != 0)
        *error = error_buf;
    return NULL;
}

static json_t *port_list(struct hashi *h)
{
    json_t *list = json_array();

    for (unsigned id = 0; id < PORT_MAX; id++) {
        struct port *port = h->ports[id];
        if (!port)
            continue;
        uint32_t ol = port->class->offloads(port);
        /* rsc changes only on this thread: reading it here is safe */
        json_t *item =
            json_pack("{s:s, s:s, s:s, s:i, s:s, s:{s:b, s:b, s:b}, s:b}", "name", port->name,
                      "type", port->class->type, "bridge", h->cfg.bridges[port->bridge].name, "mtu",
                      (int)port->mtu, "link", port->class->link_up(port) ? "up" : "down",
                      "offloads", "csum", (ol & PORT_OL_CSUM) != 0, "tso4",
                      (ol & PORT_OL_TSO4) != 0, "tso6", (ol & PORT_OL_TSO6) != 0, "rsc", port->rsc);
        if (port->class->describe)
            port->class->describe(port, item);
        json_array_append_new(list, item);
    }
    return list;
}

static json_t *fdb_show(struct hashi *h)
{
    size_t max = HASHI_FDB_CAPACITY;
    struct fdb_view *views = calloc(max, sizeof *views);
    json_t *list = json_array();
    size_t n;

    if (!views)
        return list;
    n = hashi_fdb(h, views, max);
    for (size_t i = 0; i < n; i++) {
        const struct port *port = views[i].port < PORT_MAX ? h->ports[views[i].port] : NULL;
        char mac[18];
        const uint8_t *m = views[i].mac;

        snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                 m[5]);
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s, s:i}", "bridge",
                                        h->cfg.bridges[views[i].bridge].name, "mac", mac, "port",
                                        port ? port->name : "?", "age", (int)views[i].age_s));
    }
    free(views);
    return list;
}

static json_t *stats(struct hashi *h)
{
    struct hashi_port_stats copies[PORT_MAX];
    size_t n = hashi_stats(h, copies);
    json_t *list = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, port_stats_json(copies[i].port->name, &copies[i].stats));
    return list;
}

/* Each worker's cycles, as pmd-perf-show counts them, with its receive queues and their load
 * since the last rebalance (or since the queue was made). */
static json_t *worker_list(struct hashi *h)
{
    static struct hashi_worker_view views[WORKER_MAX]; /* control thread only */
    unsigned n = hashi_workers(h, views), in_use, total;
    json_t *list = json_array();

    /* buffers in use include those parked in ports (TAP read chains, AF_XDP fill rings); those
     * in per-core caches count as free. A count that only grows under steady traffic is a
     * leak. */
    hashi_buffers(h, &in_use, &total);
    for (unsigned w = 0; w < n; w++) {
        const struct worker_stats *st = &views[w].stats;
        uint64_t polling = st->busy_cycles + st->idle_cycles;
        uint64_t all = polling + st->sleep_cycles;
        uint64_t queue_cycles = 0;
        json_t *queues = json_array();

        for (uint16_t i = 0; i < views[w].n_rxqs; i++)
            queue_cycles += views[w].rxqs[i].cycles;
        for (uint16_t i = 0; i < views[w].n_rxqs; i++) {
            const struct worker_rxq *q = &views[w].rxqs[i];
            const struct port *port = h->ports[q->port];
            json_array_append_new(
                queues,
                json_pack("{s:s, s:i, s:b, s:I, s:I, s:f}", "port", port ? port->name : "?",
                          "queue", q->queue, "pinned", h->rxqs[q->port][q->queue].pinned, "packets",
                          (json_int_t)q->packets, "cycles", (json_int_t)q->cycles, "load_percent",
                          queue_cycles ? 100.0 * (double)q->cycles / (double)queue_cycles : 0.0));
        }
        json_array_append_new(
            list,
            json_pack("{s:i, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:I, s:f, s:i, "
                      "s:i, s:o}",
                      "core", views[w].core, "numa", views[w].numa, "mode",
                      views[w].adaptive ? "adaptive" : "always", "packets", (json_int_t)st->packets,
                      "iterations", (json_int_t)st->iterations, "busy_cycles",
                      (json_int_t)st->busy_cycles, "idle_cycles", (json_int_t)st->idle_cycles,
                      "sleep_cycles", (json_int_t)st->sleep_cycles, "cycles_per_packet",
                      st->packets ? (double)st->busy_cycles / (double)st->packets : 0.0,
                      "busy_percent", all ? 100.0 * (double)st->busy_cycles / (double)all : 0.0,
                      "sleeps", (json_int_t)st->sleeps, "wakes", (json_int_t)st->wakes,
                      "sleep_percent", all ? 100.0 * (double)st->sleep_cycles / (double)all : 0.0,
                      "buffers_in_use", (int)in_use, "buffers_total", (int)total, "queues",
                      queues));
    }
    return list;
}

static json_t *rxq_pin(struct hashi *h, json_t *args, const char **error)
{
    const char *name = json_string_value(json_object_get(args, "port"));
    json_t *queue = json_object_get(args, "queue"), *core = json_object_get(args, "core");

    if (!name || !json_is_integer(queue) || !json_is_integer(core) ||
        json_integer_value(queue) < 0 || json_integer_value(queue) >= CONFIG_QUEUES_MAX ||
        json_integer_value(core) < -1 || json_integer_value(core) > 1023) {
        *error = "rxq-pin needs a port, a queue (0-7) and a core (-1 unpins)";
        return NULL;
    }
    if (hashi_rxq_pin(h, name, (unsigned)json_integer_value(queue), (int)json_integer_value(core),
                      error_buf, sizeof error_buf) != 0)
        *error = error_buf;
    return NULL;
}

void ctl_commands_tick(void *ctx)
{
    hashi_housekeeping(ctx);
}

json_t *ctl_commands_handle(void *ctx, const char *command, json_t *args, const char **error)
{
    struct hashi *h = ctx;
    json_t *empty = NULL;

    if (!args)
        args = empty = json_object();
    json_t *result = NULL;
    if (!strcmp(command, "port-add"))
        result = port_add(h, args, error);
    else if (!strcmp(command, "port-del"))
        result = port_del(h, args, error);
    else if (!strcmp(command, "port-set"))
        result = port_set(h, args, error);
    else if (!strcmp(command, "port-list"))
        result = port_list(h);
    else if (!strcmp(command, "fdb-show"))
        result = fdb_show(h);
    else if (!strcmp(command, "stats"))
        result = stats(h);
    else if (!strcmp(command, "stats-clear"))
        hashi_stats_clear(h);
    else if (!strcmp(command, "pmd-stats") || !strcmp(command, "worker-list"))
        result = worker_list(h);
    else if (!strcmp(command, "rxq-pin"))
        result = rxq_pin(h, args, error);
    else if (!strcmp(command, "rxq-rebalance"))
        hashi_rxq_rebalance(h);
    else if (!strcmp(command, "pmd-stats-clear"))
        hashi_pmd_stats_clear(h);
    else
        *error = "unknown command; hashictl --help lists them";
    json_decref(empty);
    return result;
}
