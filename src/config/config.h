/*
 * The declarative configuration of hashi: bridges, ports, the worker core, the control socket
 * and the DPDK EAL arguments. Pure C with no DPDK dependency, so it is unit-tested directly.
 *
 * File format (docs/config.md): INI-like sections `[hashi]`, `[bridge NAME]`, `[port NAME]`,
 * `key = value` lines, `#` comments. Every error names the file, the line and what to change.
 *
 * The same key/value setters serve the file and `hashictl port add`, so both accept exactly
 * the same words and give the same messages.
 */
#ifndef HASHI_CONFIG_H
#define HASHI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_NAME_SIZE     32
#define CONFIG_PATH_SIZE     108 /* sun_path of a unix socket */
#define CONFIG_EAL_SIZE      512
#define CONFIG_MAX_BRIDGES   16
#define CONFIG_MAX_PORTS     64
#define CONFIG_ERR_SIZE      512
#define CONFIG_MTU_MIN       68
#define CONFIG_MTU_MAX       9216
#define CONFIG_MTU_DEFAULT   1500
#define CONFIG_AGING_DEFAULT 300 /* seconds */
#define CONFIG_AGING_MAX     1000000
#define CONFIG_CTL_DEFAULT   "/run/hashi/hashi.sock"
#define CONFIG_EAL_DEFAULT   "--no-huge -m 512 --no-pci"
#define CONFIG_EAL_MAX_WORDS 56 /* words of `eal`, after hashi's own EAL arguments */

#define CONFIG_IFNAME_SIZE           16 /* IFNAMSIZ */
#define CONFIG_QUEUES_MAX            8
#define CONFIG_MAX_WORKERS           16
#define CONFIG_POLL_PAUSE_US_DEFAULT 50   /* idle time before a worker pauses between polls */
#define CONFIG_POLL_SLEEP_US_DEFAULT 1000 /* idle time before it sleeps on its queues' signals */
#define CONFIG_POLL_US_MAX           10000000

enum port_type {
    PORT_TYPE_NONE = 0,
    PORT_TYPE_VHOST_USER,
    PORT_TYPE_TAP,
    PORT_TYPE_AFPACKET,
    PORT_TYPE_AFXDP,
};

struct bridge_config {
    char name[CONFIG_NAME_SIZE];
    uint32_t aging_s; /* seconds an unused MAC stays learned */
};

struct port_config {
    char name[CONFIG_NAME_SIZE];
    char bridge[CONFIG_NAME_SIZE];
    enum port_type type;
    char path[CONFIG_PATH_SIZE];     /* vhost-user socket */
    bool client;                     /* vhost-user: hashi connects (true) or listens (false) */
    char ifname[CONFIG_IFNAME_SIZE]; /* tap, afpacket, afxdp: the kernel interface */
    uint32_t queues;                 /* receive queues: tap (IFF_MULTI_QUEUE when above 1),
                                        vhost-user (queue pairs), afpacket (fanout sockets) */
    bool steer_mac;                  /* afpacket with queues > 1: split by destination MAC
                                        (steering = mac) rather than by flow (rss) */
    bool soft_dispatch;              /* afpacket: hashi splits received frames over the queues
                                        (dispatch = software), not the kernel's fanout */
    bool offload;  /* tap, afpacket: exchange TSO frames and partial checksums with the kernel */
    int rsc;       /* coalesce TCP segments toward this port: 1 on, 0 off, -1 the type's default */
    uint32_t mtu;  /* bytes of L3 payload, like `ip link set mtu` */
    unsigned line; /* where it was declared (0: not from a file) */
};

struct hashi_config {
    char ctl_path[CONFIG_PATH_SIZE];
    unsigned n_cores;              /* workers; 0: one, on the last allowed CPU */
    int cores[CONFIG_MAX_WORKERS]; /* the CPU of each worker */
    bool poll_adaptive;            /* idle workers sleep (poll = adaptive) or spin (always) */
    uint32_t poll_pause_us, poll_sleep_us;
    bool rxq_assign_cycles; /* rxq-assign = cycles: by measured load; roundrobin: by count */
    char eal_args[CONFIG_EAL_SIZE];
    unsigned n_bridges;
    struct bridge_config bridges[CONFIG_MAX_BRIDGES];
    unsigned n_ports;
    struct port_config ports[CONFIG_MAX_PORTS];
};

/* Defaults: control socket CONFIG_CTL_DEFAULT, one worker on the last CPU, adaptive polling,
 * round-robin queue assignment, EAL CONFIG_EAL_DEFAULT, one bridge "br0" with 300 s aging, no
 * ports. */
void config_init(struct hashi_config *cfg);

/* Reads and validates FILE into cfg (which starts from config_init's defaults). Returns 0, or
 * -1 with "FILE:LINE: problem; fix" in err. Does not open sockets or check that paths exist. */
int config_load(const char *path, struct hashi_config *cfg, char *err, size_t errlen);

/* The same over a string; `name` stands for the file name in messages. */
int config_parse(const char *name, const char *text, struct hashi_config *cfg, char *err,
                 size_t errlen);

/* A port with defaults (bridge br0, vhost-user server mode, MTU 1500, one queue, offload on)
 * and no name, path or interface. */
void config_port_init(struct port_config *port);

/* Whether a port coalesces received TCP segments for its peer: as configured, or by default on
 * for ports toward a guest or host stack (vhost-user, tap with offload) and off for uplinks,
 * where the wire wants segments anyway. */
bool config_port_rsc(const struct port_config *port);

/* Sets one key of a port ("type", "path", "mode", "ifname" or its synonym "iface", "queues",
 * "offload", "rsc", "mtu", "bridge"). Returns 0, or -1 with a message that says what values are
 * accepted (without file or line). Whether the key suits the type is config_port_check's job,
 * because keys may come before `type`. */
int config_port_set(struct port_config *port, const char *key, const char *value, char *err,
                    size_t errlen);

/* Checks that a port has what its type needs (a vhost-user port a path, the others an
 * interface) and no key of another type. */
int config_port_check(const struct port_config *port, char *err, size_t errlen);

const char *config_port_type_name(enum port_type type);

/* Reads a CPU list such as "0,1" or "2-5,8" (each CPU once, at most CONFIG_MAX_WORKERS) into
 * cfg's worker cores. Returns 0, or -1 with a message. For `cores` and `hashi --cores`. */
int config_set_cores(struct hashi_config *cfg, const char *list, char *err, size_t errlen);

/* Reads "always" or "adaptive" into cfg. Returns 0, or -1 with a message. */
int config_set_poll(struct hashi_config *cfg, const char *mode, char *err, size_t errlen);

/* True when name is 1 to CONFIG_NAME_SIZE-1 letters, digits, '-', '_' or '.': the rule for
 * bridge and port names everywhere. */
bool config_valid_name(const char *name);

/* Finds a bridge by name; NULL when absent. */
const struct bridge_config *config_find_bridge(const struct hashi_config *cfg, const char *name);

#endif
