#include "ctl_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#define USAGE_PORT_ADD                                                                             \
    "port add NAME type vhost-user path PATH [mode server|client] [queues N] "                     \
    "[mtu N] [bridge BR]\n"                                                                        \
    "  port add NAME type tap ifname IF [queues N] [offload on|off] [mtu N] [bridge BR]\n"         \
    "  port add NAME type afpacket iface IF [queues N] [steering rss|mac]\n"                       \
    "      [dispatch kernel|software] [offload on|off] [mtu N] [bridge BR]\n"                      \
    "  port add NAME type afxdp iface IF [mtu N] [bridge BR]"
#define USAGE_RXQ_PIN "rxq pin PORT QUEUE CORE|none"
#define CPU_MAX       1023 /* the highest CPU number hashi takes anywhere (config.c) */

static json_t *request(const char *command, json_t *args)
{
    return json_pack("{s:s, s:o}", "command", command, "args", args ? args : json_object());
}

/* port add NAME key value ...: the keys are checked by the daemon, with the same words and
 * messages as the config file. */
static json_t *port_add(int n, char *const *words, char *err, size_t errlen)
{
    json_t *args;

    if (n < 1 || (n - 1) % 2 != 0) {
        snprintf(err, errlen, "usage: %s", USAGE_PORT_ADD);
        return NULL;
    }
    args = json_pack("{s:s}", "name", words[0]);
    for (int i = 1; i < n; i += 2) {
        if (!strcmp(words[i], "name") || json_object_get(args, words[i])) {
            snprintf(err, errlen, "'%s' is given twice; usage: %s", words[i], USAGE_PORT_ADD);
            json_decref(args);
            return NULL;
        }
        json_object_set_new(args, words[i], json_string(words[i + 1]));
    }
    return request("port-add", args);
}

/* A number in decimal digits from 0 to max, nothing else: strtol alone would take " 1", "+1"
 * and "1x". Returns -1 when the word is not one. */
static long number(const char *word, long max)
{
    long value = 0;

    if (!*word)
        return -1;
    for (const char *c = word; *c; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        value = value * 10 + (*c - '0');
        if (value > max)
            return -1;
    }
    return value;
}

/* rxq pin PORT QUEUE CORE|none: the numbers go as JSON integers, `none` as core -1 (unpin).
 * Checked here so that a typo gets a usage message, not the daemon's protocol wording. */
static json_t *rxq_pin(int n, char *const *words, char *err, size_t errlen)
{
    long queue, core;

    if (n != 3) {
        snprintf(err, errlen, "usage: %s", USAGE_RXQ_PIN);
        return NULL;
    }
    if ((queue = number(words[1], CONFIG_QUEUES_MAX - 1)) < 0) {
        snprintf(err, errlen, "QUEUE '%s' is not a queue number (0 to %d); usage: %s", words[1],
                 CONFIG_QUEUES_MAX - 1, USAGE_RXQ_PIN);
        return NULL;
    }
    if (!strcmp(words[2], "none")) {
        core = -1;
    } else if ((core = number(words[2], CPU_MAX)) < 0) {
        snprintf(err, errlen, "CORE '%s' is not a CPU number (0 to %d) or none (unpin); usage: %s",
                 words[2], CPU_MAX, USAGE_RXQ_PIN);
        return NULL;
    }
    return request("rxq-pin", json_pack("{s:s, s:i, s:i}", "port", words[0], "queue", (int)queue,
                                        "core", (int)core));
}

json_t *ctl_request_from_words(int n, char *const *words, char *err, size_t errlen)
{
    /* JSON strings are UTF-8; jansson would refuse other words and leave holes in requests */
    for (int i = 0; i < n; i++) {
        json_t *word = json_string(words[i]);
        if (!word) {
            snprintf(err, errlen, "argument %d is not valid UTF-8", i + 1);
            return NULL;
        }
        json_decref(word);
    }
    const char *a = n > 0 ? words[0] : "", *b = n > 1 ? words[1] : "";

    if (!strcmp(a, "port") && !strcmp(b, "add"))
        return port_add(n - 2, words + 2, err, errlen);
    if (!strcmp(a, "port") && !strcmp(b, "del") && n == 3)
        return request("port-del", json_pack("{s:s}", "name", words[2]));
    if (!strcmp(a, "port") && !strcmp(b, "set") && n == 5)
        return request("port-set", json_pack("{s:s, s:s, s:s}", "name", words[2], "key", words[3],
                                             "value", words[4]));
    if (!strcmp(a, "port") && !strcmp(b, "list") && n == 2)
        return request("port-list", NULL);
    if (!strcmp(a, "fdb") && !strcmp(b, "show") && n == 2)
        return request("fdb-show", NULL);
    if (!strcmp(a, "stats") && n == 1)
        return request("stats", NULL);
    if (!strcmp(a, "stats") && !strcmp(b, "clear") && n == 2)
        return request("stats-clear", NULL);
    if (!strcmp(a, "worker") && !strcmp(b, "list") && n == 2)
        return request("worker-list", NULL);
    if (!strcmp(a, "rxq") && !strcmp(b, "pin"))
        return rxq_pin(n - 2, words + 2, err, errlen);
    if (!strcmp(a, "rxq") && !strcmp(b, "rebalance") && n == 2)
        return request("rxq-rebalance", NULL);
    if (!strcmp(a, "pmd-stats") && n == 1)
        return request("pmd-stats", NULL);
    if (!strcmp(a, "pmd-stats") && !strcmp(b, "clear") && n == 2)
        return request("pmd-stats-clear", NULL);
    snprintf(err, errlen,
             "unknown command '%s%s%s'; commands:\n"
             "  " USAGE_PORT_ADD "\n"
             "  port del NAME\n"
             "  port set NAME rsc on|off\n"
             "  port set NAME queues N\n"
             "  port set NAME steering rss|mac\n"
             "  port list\n"
             "  fdb show\n"
             "  stats [clear]\n"
             "  worker list\n"
             "  " USAGE_RXQ_PIN "\n"
             "  rxq rebalance\n"
             "  pmd-stats [clear]",
             a, n > 1 ? " " : "", b);
    return NULL;
}

json_t *ctl_response_ok(json_t *result)
{
    return json_pack("{s:b, s:o}", "ok", 1, "result", result ? result : json_null());
}

json_t *ctl_response_error(const char *message)
{
    return json_pack("{s:b, s:s}", "ok", 0, "error", message);
}

char *ctl_encode(const json_t *message)
{
    char *text = json_dumps(message, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t len;
    char *line;

    if (!text)
        return NULL;
    len = strlen(text);
    line = realloc(text, len + 2);
    if (!line) {
        free(text);
        return NULL;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    return line;
}
