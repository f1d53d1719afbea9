#include "ctl_render.h"

#include <stdbool.h>
#include <string.h>

#define I(obj, key) ((long long)json_integer_value(json_object_get(obj, key)))
#define S(obj, key) (json_string_value(json_object_get(obj, key)) ?: "")
#define F(obj, key) json_real_value(json_object_get(obj, key))

static void render_ports(FILE *out, const json_t *list)
{
    size_t i;
    const json_t *p;

    fprintf(out, "%-16s %-11s %-8s %-5s %-5s %-16s %-4s %-8s %s\n", "NAME", "TYPE", "BRIDGE", "MTU",
            "LINK", "OFFLOADS", "RSC", "MODE", "ENDPOINT");
    json_array_foreach(list, i, p)
    {
        const json_t *ol = json_object_get(p, "offloads");
        char offloads[32] = "";
        static const char *const names[] = {"csum", "tso4", "tso6"};

        for (size_t k = 0; k < 3; k++)
            if (json_is_true(json_object_get(ol, names[k])))
                snprintf(offloads + strlen(offloads), sizeof offloads - strlen(offloads), "%s%s",
                         offloads[0] ? "," : "", names[k]);
        /* vhost-user: server/client and the socket; tap: created/attached and the device;
         * uplinks: the interface */
        const json_t *created = json_object_get(p, "created");
        const char *mode =
            created ? (json_is_true(created) ? "created" : "attached") : S(p, "mode");
        const char *endpoint = *S(p, "path")     ? S(p, "path")
                               : *S(p, "ifname") ? S(p, "ifname")
                                                 : S(p, "iface");
        /* steering only matters, and is only shown, where there are queues to steer to */
        char queues[48] = "";
        if (I(p, "queues") > 1)
            snprintf(queues, sizeof queues, " (%lld queues%s%s)", I(p, "queues"),
                     *S(p, "steering") ? ", steering " : "", S(p, "steering"));
        fprintf(out, "%-16s %-11s %-8s %-5lld %-5s %-16s %-4s %-8s %s%s\n", S(p, "name"),
                S(p, "type"), S(p, "bridge"), I(p, "mtu"), S(p, "link"),
                offloads[0] ? offloads : "-",
                json_is_true(json_object_get(p, "rsc")) ? "on" : "off", *mode ? mode : "-",
                endpoint, queues);
    }
}

static void render_fdb(FILE *out, const json_t *list)
{
    size_t i;
    const json_t *e;

    fprintf(out, "%-8s %-17s %-16s %s\n", "BRIDGE", "MAC", "PORT", "AGE(s)");
    json_array_foreach(list, i, e) fprintf(out, "%-8s %-17s %-16s %lld\n", S(e, "bridge"),
                                           S(e, "mac"), S(e, "port"), I(e, "age"));
}

static void render_stats(FILE *out, const json_t *list)
{
    size_t i;
    const json_t *p;

    fprintf(out, "%-16s %12s %14s %12s %14s %10s %14s %18s  %s\n", "PORT", "RX_PACKETS", "RX_BYTES",
            "TX_PACKETS", "TX_BYTES", "FLOOD_COPY", "GSO_FRM/SEGS", "RSC_SEGS/AGG", "DROPS");
    json_array_foreach(list, i, p)
    {
        const char *reason;
        const json_t *count;
        char drops[256] = "";

        json_object_foreach((json_t *)json_object_get(p, "drops"), reason,
                            count) if (json_integer_value(count))
            snprintf(drops + strlen(drops), sizeof drops - strlen(drops), "%s%s=%lld",
                     drops[0] ? " " : "", reason, (long long)json_integer_value(count));
        char gso[32], rsc[48];
        const json_t *r = json_object_get(p, "rsc");
        snprintf(gso, sizeof gso, "%lld/%lld", I(p, "gso_frames"), I(p, "gso_segments"));
        snprintf(rsc, sizeof rsc, "%lld/%lld", I(r, "segments_in"), I(r, "aggregates_out"));
        fprintf(out, "%-16s %12lld %14lld %12lld %14lld %10lld %14s %18s  %s\n", S(p, "name"),
                I(p, "rx_packets"), I(p, "rx_bytes"), I(p, "tx_packets"), I(p, "tx_bytes"),
                I(p, "flood_copies"), gso, rsc, drops[0] ? drops : "-");
    }
}

static void render_pmd(FILE *out, const json_t *list)
{
    size_t i;
    const json_t *w;

    fprintf(out, "%-5s %14s %16s %16s %7s %12s\n", "CORE", "PACKETS", "BUSY_CYCLES", "IDLE_CYCLES",
            "BUSY%", "CYCLES/PKT");
    json_array_foreach(list, i, w)
        fprintf(out, "%-5lld %14lld %16lld %16lld %6.1f%% %12.1f\n", I(w, "core"), I(w, "packets"),
                I(w, "busy_cycles"), I(w, "idle_cycles"),
                json_real_value(json_object_get(w, "busy_percent")),
                json_real_value(json_object_get(w, "cycles_per_packet")));
}

/* One row per worker, its queues as PORT:QUEUE ('*': pinned) in the last column, where their
 * number cannot break the alignment; then one row per queue with what it carried. */
static void render_workers(FILE *out, const json_t *list)
{
    size_t i, k;
    const json_t *w, *q;
    bool any_queue = false;

    fprintf(out, "%-5s %-4s %-9s %7s %7s %10s %14s %10s %10s  %s\n", "CORE", "NUMA", "MODE",
            "BUSY%", "SLEEP%", "CYC/PKT", "PACKETS", "SLEEPS", "WAKES", "QUEUES");
    json_array_foreach(list, i, w)
    {
        const json_t *queues = json_object_get(w, "queues");

        fprintf(out, "%-5lld %-4lld %-9s %6.1f%% %6.1f%% %10.1f %14lld %10lld %10lld ",
                I(w, "core"), I(w, "numa"), S(w, "mode"), F(w, "busy_percent"),
                F(w, "sleep_percent"), F(w, "cycles_per_packet"), I(w, "packets"), I(w, "sleeps"),
                I(w, "wakes"));
        if (json_array_size(queues) == 0)
            fprintf(out, " -");
        json_array_foreach(queues, k, q)
        {
            fprintf(out, " %s:%lld%s", S(q, "port"), I(q, "queue"),
                    json_is_true(json_object_get(q, "pinned")) ? "*" : "");
            any_queue = true;
        }
        fputc('\n', out);
    }
    if (!any_queue)
        return;
    /* LOAD% is the queue's share of its own worker's receive cycles: which queue to move */
    fprintf(out, "\n%-5s %-16s %5s %-6s %14s %7s\n", "CORE", "PORT", "QUEUE", "PINNED", "PACKETS",
            "LOAD%");
    json_array_foreach(list, i, w)
    {
        json_array_foreach(json_object_get(w, "queues"), k, q)
            fprintf(out, "%-5lld %-16s %5lld %-6s %14lld %6.1f%%\n", I(w, "core"), S(q, "port"),
                    I(q, "queue"), json_is_true(json_object_get(q, "pinned")) ? "yes" : "no",
                    I(q, "packets"), F(q, "load_percent"));
    }
}

void ctl_render(FILE *out, const char *command, const json_t *result)
{
    if (!strcmp(command, "port-list"))
        render_ports(out, result);
    else if (!strcmp(command, "fdb-show"))
        render_fdb(out, result);
    else if (!strcmp(command, "stats"))
        render_stats(out, result);
    else if (!strcmp(command, "port-del")) {
        /* the port's last counters, so that what it carried stays accounted for */
        json_t *one = json_pack("[O]", result);
        render_stats(out, one);
        json_decref(one);
    } else if (!strcmp(command, "pmd-stats"))
        render_pmd(out, result);
    else if (!strcmp(command, "worker-list"))
        render_workers(out, result);
    else
        fprintf(out, "ok\n");
}
