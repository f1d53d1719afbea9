#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define MAX_LINE 1024

enum section { SECTION_NONE, SECTION_HASHI, SECTION_BRIDGE, SECTION_PORT };

struct parser {
    const char *file;
    unsigned line;
    char *err;
    size_t errlen;
    enum section section;
    bool bridges_declared; /* the first [bridge] replaces the implicit br0 */
};

static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parser *p, const char *fmt, ...)
{
    char msg[CONFIG_ERR_SIZE];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s:%u: %s", p->file, p->line, msg);
    return -1;
}

static int parse_uint(const char *text, unsigned long max, unsigned long *out)
{
    char *end;

    if (!isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    *out = strtoul(text, &end, 10);
    if (errno || *end != '\0' || *out > max)
        return -1;
    return 0;
}

bool config_valid_name(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len >= CONFIG_NAME_SIZE)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '-' && c != '_' && c != '.')
            return false;
    }
    return true;
}

const char *config_port_type_name(enum port_type type)
{
    switch (type) {
    case PORT_TYPE_VHOST_USER:
        return "vhost-user";
    case PORT_TYPE_TAP:
        return "tap";
    case PORT_TYPE_AFPACKET:
        return "afpacket";
    case PORT_TYPE_AFXDP:
        return "afxdp";
    case PORT_TYPE_NONE:
        break;
    }
    return "none";
}

void config_port_init(struct port_config *port)
{
    memset(port, 0, sizeof *port);
    strcpy(port->bridge, "br0");
    port->type = PORT_TYPE_VHOST_USER;
    port->mtu = CONFIG_MTU_DEFAULT;
    port->queues = 1;
    port->offload = true;
    port->rsc = -1;
}

bool config_port_rsc(const struct port_config *port)
{
    if (port->rsc >= 0)
        return port->rsc == 1;
    return port->type == PORT_TYPE_VHOST_USER || (port->type == PORT_TYPE_TAP && port->offload);
}

static bool valid_ifname(const char *name)
{
    /* the kernel's dev_valid_name(), restricted to the characters hashi allows in names */
    return config_valid_name(name) && strlen(name) < CONFIG_IFNAME_SIZE && strcmp(name, ".") &&
           strcmp(name, "..");
}

void config_init(struct hashi_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->ctl_path, CONFIG_CTL_DEFAULT);
    strcpy(cfg->eal_args, CONFIG_EAL_DEFAULT);
    cfg->poll_adaptive = true;
    cfg->poll_pause_us = CONFIG_POLL_PAUSE_US_DEFAULT;
    cfg->poll_sleep_us = CONFIG_POLL_SLEEP_US_DEFAULT;
    cfg->n_bridges = 1;
    strcpy(cfg->bridges[0].name, "br0");
    cfg->bridges[0].aging_s = CONFIG_AGING_DEFAULT;
}

/* A key whose value is one of two words: `no` sets *out false, `yes` true. Anything else gets
 * "KEY 'VALUE' is not valid; use: " and `choices`, which says what each word means. */
static int choose(const char *key, const char *value, const char *no, const char *yes,
                  const char *choices, bool *out, char *err, size_t errlen)
{
    if (strcmp(value, no) != 0 && strcmp(value, yes) != 0) {
        snprintf(err, errlen, "%s '%s' is not valid; use: %s", key, value, choices);
        return -1;
    }
    *out = !strcmp(value, yes);
    return 0;
}

int config_port_set(struct port_config *port, const char *key, const char *value, char *err,
                    size_t errlen)
{
    unsigned long n;

    if (!strcmp(key, "type")) {
        enum port_type t;
        for (t = PORT_TYPE_VHOST_USER; t <= PORT_TYPE_AFXDP; t++)
            if (!strcmp(value, config_port_type_name(t)))
                break;
        if (t > PORT_TYPE_AFXDP) {
            snprintf(err, errlen, "unknown port type '%s'; use: vhost-user, tap, afpacket, afxdp",
                     value);
            return -1;
        }
        port->type = t;
    } else if (!strcmp(key, "ifname") || !strcmp(key, "iface")) {
        if (!valid_ifname(value)) {
            snprintf(err, errlen,
                     "interface name '%s' is not valid; use 1 to %d letters, digits, '-', '_', '.'",
                     value, CONFIG_IFNAME_SIZE - 1);
            return -1;
        }
        strcpy(port->ifname, value);
    } else if (!strcmp(key, "queues")) {
        if (parse_uint(value, CONFIG_QUEUES_MAX, &n) < 0 || n < 1) {
            snprintf(err, errlen, "queues '%s' is not valid; use a number from 1 to %d", value,
                     CONFIG_QUEUES_MAX);
            return -1;
        }
        port->queues = (uint32_t)n;
    } else if (!strcmp(key, "steering")) {
        return choose(key, value, "rss", "mac",
                      "rss (by flow, both directions alike) or mac (by destination MAC, each VM "
                      "on its worker's queue)",
                      &port->steer_mac, err, errlen);
    } else if (!strcmp(key, "dispatch")) {
        return choose(key, value, "kernel", "software",
                      "kernel (PACKET_FANOUT splits frames over the queues' sockets) or software "
                      "(one socket, hashi splits)",
                      &port->soft_dispatch, err, errlen);
    } else if (!strcmp(key, "offload")) {
        return choose(key, value, "off", "on",
                      "on (TSO frames and partial checksums pass to and from the kernel) or off "
                      "(plain frames only)",
                      &port->offload, err, errlen);
    } else if (!strcmp(key, "rsc")) {
        bool on;
        if (choose(key, value, "off", "on",
                   "on or off (coalesce TCP segments for the receiver, or not)", &on, err,
                   errlen) < 0)
            return -1;
        port->rsc = on;
    } else if (!strcmp(key, "path")) {
        if (value[0] != '/' || util_strlcpy(port->path, value, sizeof port->path) < 0) {
            snprintf(err, errlen, "path must be an absolute socket path of at most %d bytes",
                     CONFIG_PATH_SIZE - 1);
            return -1;
        }
    } else if (!strcmp(key, "mode")) {
        return choose(key, value, "server", "client",
                      "server (hashi creates the socket) or client (hashi connects to QEMU's "
                      "socket)",
                      &port->client, err, errlen);
    } else if (!strcmp(key, "mtu")) {
        if (parse_uint(value, CONFIG_MTU_MAX, &n) < 0 || n < CONFIG_MTU_MIN) {
            snprintf(err, errlen, "mtu '%s' is not valid; use a number from %d to %d", value,
                     CONFIG_MTU_MIN, CONFIG_MTU_MAX);
            return -1;
        }
        port->mtu = (uint32_t)n;
    } else if (!strcmp(key, "bridge")) {
        if (!config_valid_name(value)) {
            snprintf(err, errlen,
                     "bridge name '%s' is not valid; use letters, digits, '-', '_', "
                     "'.' (at most %d)",
                     value, CONFIG_NAME_SIZE - 1);
            return -1;
        }
        strcpy(port->bridge, value);
    } else {
        snprintf(err, errlen,
                 "unknown port key '%s'; use: type, path, mode, ifname (or iface), queues, "
                 "steering, dispatch, offload, rsc, mtu, bridge",
                 key);
        return -1;
    }
    return 0;
}

int config_port_check(const struct port_config *port, char *err, size_t errlen)
{
    const char *type = config_port_type_name(port->type);
    const char *misplaced = NULL;

    if (port->type == PORT_TYPE_VHOST_USER) {
        if (port->path[0] == '\0') {
            snprintf(err, errlen, "port '%s' has no path; add: path = /run/hashi/%s.sock",
                     port->name, port->name);
            return -1;
        }
        if (port->ifname[0])
            misplaced = "ifname";
        else if (port->steer_mac)
            misplaced = "steering"; /* the guest picks its transmit queue */
        else if (port->soft_dispatch)
            misplaced = "dispatch";
        else if (!port->offload)
            misplaced = "offload";
    } else {
        if (port->ifname[0] == '\0') {
            snprintf(err, errlen, "%s port '%s' has no interface; add: %s = NAME", type, port->name,
                     port->type == PORT_TYPE_TAP ? "ifname" : "iface");
            return -1;
        }
        if (port->path[0])
            misplaced = "path";
        else if (port->client)
            misplaced = "mode";
        else if (port->queues != 1 && port->type == PORT_TYPE_AFXDP)
            misplaced = "queues";
        else if (port->steer_mac && port->type != PORT_TYPE_AFPACKET)
            misplaced = "steering"; /* the kernel picks a TAP's queue */
        else if (port->soft_dispatch && port->type != PORT_TYPE_AFPACKET)
            misplaced = "dispatch";
        else if (!port->offload && port->type == PORT_TYPE_AFXDP)
            misplaced = "offload"; /* AF_XDP never carries offloads: nothing to turn off */
        else if (port->rsc >= 0 && port->type == PORT_TYPE_AFXDP)
            misplaced = "rsc"; /* nor frames larger than the MTU */
    }
    if (!misplaced && port->rsc == 1 && !port->offload) {
        snprintf(err, errlen,
                 "port '%s': rsc on needs offload on (coalesced frames are TSO frames); remove "
                 "one of them",
                 port->name);
        return -1;
    }
    if (misplaced) {
        snprintf(err, errlen, "port '%s': '%s' does not apply to %s %s port; remove it", port->name,
                 misplaced,
                 port->type == PORT_TYPE_AFPACKET || port->type == PORT_TYPE_AFXDP ? "an" : "a",
                 type);
        return -1;
    }
    return 0;
}

int config_set_cores(struct hashi_config *cfg, const char *list, char *err, size_t errlen)
{
    int cores[CONFIG_MAX_WORKERS];
    unsigned n = 0;
    const char *c = list;

    for (;;) {
        char *end;
        long first = strtol(c, &end, 10), last;

        if (end == c || first < 0 || first > 1023)
            goto bad;
        last = first;
        if (*end == '-') {
            c = end + 1;
            last = strtol(c, &end, 10);
            if (end == c || last < first || last > 1023)
                goto bad;
        }
        for (long cpu = first; cpu <= last; cpu++) {
            for (unsigned i = 0; i < n; i++)
                if (cores[i] == cpu) {
                    snprintf(err, errlen, "cores '%s' names CPU %ld twice; list each once", list,
                             cpu);
                    return -1;
                }
            if (n == CONFIG_MAX_WORKERS) {
                snprintf(err, errlen, "cores '%s' has more than %d CPUs", list, CONFIG_MAX_WORKERS);
                return -1;
            }
            cores[n++] = (int)cpu;
        }
        if (*end == '\0')
            break;
        if (*end != ',')
            goto bad;
        c = end + 1;
    }
    memcpy(cfg->cores, cores, n * sizeof *cores);
    cfg->n_cores = n;
    return 0;
bad:
    snprintf(err, errlen, "cores '%s' is not a CPU list; use numbers and ranges such as 0,1 or 2-5",
             list);
    return -1;
}

int config_set_poll(struct hashi_config *cfg, const char *mode, char *err, size_t errlen)
{
    if (strcmp(mode, "always") != 0 && strcmp(mode, "adaptive") != 0) {
        snprintf(err, errlen,
                 "poll '%s' is not valid; use: adaptive (idle workers sleep until traffic) or "
                 "always (they poll without pause)",
                 mode);
        return -1;
    }
    cfg->poll_adaptive = !strcmp(mode, "adaptive");
    return 0;
}

const struct bridge_config *config_find_bridge(const struct hashi_config *cfg, const char *name)
{
    for (unsigned i = 0; i < cfg->n_bridges; i++)
        if (!strcmp(cfg->bridges[i].name, name))
            return &cfg->bridges[i];
    return NULL;
}

static int set_global(struct parser *p, struct hashi_config *cfg, const char *key,
                      const char *value)
{
    unsigned long n;

    if (!strcmp(key, "ctl")) {
        if (value[0] != '/' || util_strlcpy(cfg->ctl_path, value, sizeof cfg->ctl_path) < 0)
            return fail(p, "ctl must be an absolute socket path of at most %d bytes",
                        CONFIG_PATH_SIZE - 1);
    } else if (!strcmp(key, "core")) {
        if (parse_uint(value, 1023, &n) < 0)
            return fail(p, "core '%s' is not valid; use a CPU number such as 1", value);
        cfg->n_cores = 1;
        cfg->cores[0] = (int)n;
    } else if (!strcmp(key, "cores")) {
        char msg[CONFIG_ERR_SIZE];
        if (config_set_cores(cfg, value, msg, sizeof msg) < 0)
            return fail(p, "%s", msg);
    } else if (!strcmp(key, "poll")) {
        char msg[CONFIG_ERR_SIZE];
        if (config_set_poll(cfg, value, msg, sizeof msg) < 0)
            return fail(p, "%s", msg);
    } else if (!strcmp(key, "poll-pause-us") || !strcmp(key, "poll-sleep-us")) {
        if (parse_uint(value, CONFIG_POLL_US_MAX, &n) < 0)
            return fail(p, "%s '%s' is not valid; use microseconds from 0 to %d", key, value,
                        CONFIG_POLL_US_MAX);
        *(key[5] == 'p' ? &cfg->poll_pause_us : &cfg->poll_sleep_us) = (uint32_t)n;
    } else if (!strcmp(key, "rxq-assign")) {
        if (strcmp(value, "roundrobin") != 0 && strcmp(value, "cycles") != 0)
            return fail(p,
                        "rxq-assign '%s' is not valid; use: roundrobin (even queue counts) or "
                        "cycles (by measured load)",
                        value);
        cfg->rxq_assign_cycles = !strcmp(value, "cycles");
    } else if (!strcmp(key, "eal")) {
        unsigned words = 0;

        for (const char *c = value; *c; c++)
            words += !isspace((unsigned char)*c) && (c == value || isspace((unsigned char)c[-1]));
        if (words > CONFIG_EAL_MAX_WORDS)
            return fail(p, "eal has %u words; at most %d fit", words, CONFIG_EAL_MAX_WORDS);
        if (util_strlcpy(cfg->eal_args, value, sizeof cfg->eal_args) < 0)
            return fail(p, "eal is longer than %d bytes", CONFIG_EAL_SIZE - 1);
    } else {
        return fail(p,
                    "unknown key '%s' in [hashi]; use: ctl, cores (or core), poll, "
                    "poll-pause-us, poll-sleep-us, rxq-assign, eal",
                    key);
    }
    return 0;
}

static int set_bridge(struct parser *p, struct bridge_config *br, const char *key,
                      const char *value)
{
    unsigned long n;

    if (strcmp(key, "aging") != 0)
        return fail(p, "unknown key '%s' in [bridge %s]; use: aging", key, br->name);
    if (parse_uint(value, CONFIG_AGING_MAX, &n) < 0 || n == 0)
        return fail(p, "aging '%s' is not valid; use seconds from 1 to %d", value,
                    CONFIG_AGING_MAX);
    br->aging_s = (uint32_t)n;
    return 0;
}

static int open_section(struct parser *p, struct hashi_config *cfg, char *header)
{
    char *kind = header, *name = strpbrk(header, " \t");

    if (name) {
        *name++ = '\0';
        while (*name == ' ' || *name == '\t')
            name++;
    }
    if (!strcmp(kind, "hashi")) {
        if (name)
            return fail(p, "[hashi] takes no name; write just [hashi]");
        p->section = SECTION_HASHI;
        return 0;
    }
    if (strcmp(kind, "bridge") != 0 && strcmp(kind, "port") != 0)
        return fail(p, "unknown section [%s]; use [hashi], [bridge NAME] or [port NAME]", kind);
    if (!name || !config_valid_name(name))
        return fail(p,
                    "[%s] needs a name of letters, digits, '-', '_', '.' (at most %d), "
                    "e.g. [%s %s]",
                    kind, CONFIG_NAME_SIZE - 1, kind, kind[0] == 'b' ? "br0" : "vm1");
    if (kind[0] == 'b') {
        if (!p->bridges_declared) {
            p->bridges_declared = true;
            cfg->n_bridges = 0;
        }
        if (config_find_bridge(cfg, name))
            return fail(p, "bridge '%s' is declared twice; rename or merge them", name);
        if (cfg->n_bridges == CONFIG_MAX_BRIDGES)
            return fail(p, "more than %d bridges", CONFIG_MAX_BRIDGES);
        struct bridge_config *br = &cfg->bridges[cfg->n_bridges++];
        strcpy(br->name, name);
        br->aging_s = CONFIG_AGING_DEFAULT;
        p->section = SECTION_BRIDGE;
        return 0;
    }
    for (unsigned i = 0; i < cfg->n_ports; i++)
        if (!strcmp(cfg->ports[i].name, name))
            return fail(p, "port '%s' is declared twice (first at line %u); rename one", name,
                        cfg->ports[i].line);
    if (cfg->n_ports == CONFIG_MAX_PORTS)
        return fail(p, "more than %d ports", CONFIG_MAX_PORTS);
    struct port_config *port = &cfg->ports[cfg->n_ports++];
    config_port_init(port);
    strcpy(port->name, name);
    port->line = p->line;
    p->section = SECTION_PORT;
    return 0;
}

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int parse_line(struct parser *p, struct hashi_config *cfg, char *line)
{
    char *eq, *key, *value;
    char msg[CONFIG_ERR_SIZE];

    /* '#' starts a comment at the line start or after white space, so paths may hold '#' */
    for (char *hash = strchr(line, '#'); hash; hash = strchr(hash + 1, '#'))
        if (hash == line || isspace((unsigned char)hash[-1])) {
            *hash = '\0';
            break;
        }
    line = trim(line);
    if (*line == '\0')
        return 0;
    if (*line == '[') {
        size_t len = strlen(line);
        if (line[len - 1] != ']')
            return fail(p, "section header lacks its closing ']'");
        line[len - 1] = '\0';
        return open_section(p, cfg, trim(line + 1));
    }
    eq = strchr(line, '=');
    if (!eq)
        return fail(p, "expected 'key = value' or a [section], got '%s'", line);
    *eq = '\0';
    key = trim(line);
    value = trim(eq + 1);
    if (*value == '\0')
        return fail(p, "key '%s' has no value", key);
    switch (p->section) {
    case SECTION_NONE:
        return fail(p,
                    "'%s' stands before any section; put it under [hashi], [bridge NAME] or "
                    "[port NAME]",
                    key);
    case SECTION_HASHI:
        return set_global(p, cfg, key, value);
    case SECTION_BRIDGE:
        return set_bridge(p, &cfg->bridges[cfg->n_bridges - 1], key, value);
    case SECTION_PORT:
        if (config_port_set(&cfg->ports[cfg->n_ports - 1], key, value, msg, sizeof msg) < 0)
            return fail(p, "%s", msg);
        return 0;
    }
    return 0;
}

/* Cross-section rules, reported at the port's [port NAME] line. */
static int check_ports(struct parser *p, const struct hashi_config *cfg)
{
    char msg[CONFIG_ERR_SIZE];

    for (unsigned i = 0; i < cfg->n_ports; i++) {
        const struct port_config *port = &cfg->ports[i];

        p->line = port->line;
        if (config_port_check(port, msg, sizeof msg) < 0)
            return fail(p, "%s", msg);
        if (!config_find_bridge(cfg, port->bridge))
            return fail(p,
                        "port '%s' is on bridge '%s', which is not declared; add "
                        "[bridge %s] or set bridge = NAME",
                        port->name, port->bridge, port->bridge);
        for (unsigned j = 0; j < i; j++) {
            const struct port_config *other = &cfg->ports[j];
            if (port->path[0] && !strcmp(other->path, port->path))
                return fail(p,
                            "port '%s' uses the socket path of port '%s' (line %u); give "
                            "each port its own path",
                            port->name, other->name, other->line);
            if (port->ifname[0] && !strcmp(other->ifname, port->ifname))
                return fail(p,
                            "port '%s' uses the interface of port '%s' (line %u); give "
                            "each port its own interface",
                            port->name, other->name, other->line);
        }
    }
    return 0;
}

int config_parse(const char *name, const char *text, struct hashi_config *cfg, char *err,
                 size_t errlen)
{
    struct parser p = {.file = name, .err = err, .errlen = errlen};
    char line[MAX_LINE];

    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) : strlen(text);

        p.line++;
        if (len >= sizeof line)
            return fail(&p, "line is longer than %d bytes", MAX_LINE - 1);
        memcpy(line, text, len);
        line[len] = '\0';
        if (parse_line(&p, cfg, line) < 0)
            return -1;
        text += len + (nl ? 1 : 0);
    }
    return check_ports(&p, cfg);
}

int config_load(const char *path, struct hashi_config *cfg, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *text;
    long size;
    int rc;

    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        fclose(f);
        return -1;
    }
    text = malloc((size_t)size + 1);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno ? errno : EIO));
        free(text);
        fclose(f);
        return -1;
    }
    text[size] = '\0';
    fclose(f);
    if (memchr(text, '\0', (size_t)size)) {
        snprintf(err, errlen, "%s: holds a NUL byte; it is not a text file", path);
        free(text);
        return -1;
    }
    rc = config_parse(path, text, cfg, err, errlen);
    free(text);
    return rc;
}
