/*
 * Unit tests of the configuration parser (src/config/config.c).
 *
 * Error cases check the whole "FILE:LINE: " prefix and a piece of the hint, because the promise
 * of the module is that every message tells the user where the problem is and what to write.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

#define FILE_NAME "test.conf"

/* Parses text over fresh defaults, as the daemon does (config_init, then config_load). */
static int parse(const char *text, struct hashi_config *cfg, char *err, size_t errlen)
{
    config_init(cfg);
    err[0] = '\0';
    return config_parse(FILE_NAME, text, cfg, err, errlen);
}

static void expect_ok(const char *text, struct hashi_config *cfg)
{
    char err[CONFIG_ERR_SIZE];

    if (parse(text, cfg, err, sizeof err) != 0)
        fail_msg("config:\n%s\nwas rejected: %s", text, err);
}

/* The config must be rejected with "test.conf:LINE: " followed by a message holding each of
 * the given fragments (a NULL ends the list). */
static void expect_error(const char *text, unsigned line, ...) __attribute__((sentinel));

static void expect_error(const char *text, unsigned line, ...)
{
    static struct hashi_config cfg;
    char err[CONFIG_ERR_SIZE], prefix[64];
    const char *fragment;
    va_list ap;

    if (parse(text, &cfg, err, sizeof err) == 0)
        fail_msg("config:\n%s\nwas accepted", text);
    snprintf(prefix, sizeof prefix, "%s:%u: ", FILE_NAME, line);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("config:\n%s\nerror '%s' does not start with '%s'", text, err, prefix);
    va_start(ap, line);
    while ((fragment = va_arg(ap, const char *)) != NULL) {
        if (!strstr(err, fragment)) {
            va_end(ap);
            fail_msg("config:\n%s\nerror '%s' lacks '%s'", text, err, fragment);
        }
    }
    va_end(ap);
}

static const struct port_config *find_port(const struct hashi_config *cfg, const char *name)
{
    for (unsigned i = 0; i < cfg->n_ports; i++)
        if (!strcmp(cfg->ports[i].name, name))
            return &cfg->ports[i];
    fail_msg("port '%s' not found", name);
    return NULL;
}

/* ---- valid configurations ----------------------------------------------------------------- */

static void test_defaults(void **state)
{
    static struct hashi_config cfg;

    (void)state;
    memset(&cfg, 0x5a, sizeof cfg); /* config_init must not rely on a zeroed struct */
    config_init(&cfg);
    assert_string_equal(cfg.ctl_path, "/run/hashi/hashi.sock");
    assert_string_equal(cfg.ctl_path, CONFIG_CTL_DEFAULT);
    assert_int_equal(cfg.n_cores, 0);
    assert_string_equal(cfg.eal_args, CONFIG_EAL_DEFAULT);
    assert_int_equal(cfg.n_bridges, 1);
    assert_string_equal(cfg.bridges[0].name, "br0");
    assert_int_equal(cfg.bridges[0].aging_s, 300);
    assert_int_equal(cfg.n_ports, 0);
    assert_non_null(config_find_bridge(&cfg, "br0"));
    assert_null(config_find_bridge(&cfg, "br1"));

    /* An empty file (or only comments) changes nothing. */
    expect_ok("", &cfg);
    assert_int_equal(cfg.n_bridges, 1);
    assert_string_equal(cfg.bridges[0].name, "br0");
    expect_ok("# nothing here\n\n   \n", &cfg);
    assert_int_equal(cfg.n_cores, 0);
    assert_int_equal(cfg.n_ports, 0);
}

static void test_full_config(void **state)
{
    static struct hashi_config cfg;
    const char *text = "[hashi]\n"
                       "ctl = /tmp/hashi-test/ctl.sock\n"
                       "core = 3\n"
                       "eal = --no-huge -m 256 --file-prefix=t1\n"
                       "\n"
                       "[bridge lan]\n"
                       "aging = 60\n"
                       "[bridge wan.2]\n"
                       "\n"
                       "[port vm1]\n"
                       "type = vhost-user\n"
                       "path = /run/hashi/vm1.sock\n"
                       "mode = client\n"
                       "mtu = 9000\n"
                       "bridge = wan.2\n"
                       "[port vm_2-b]\n"
                       "bridge = lan\n"
                       "path = /run/hashi/vm2.sock\n"
                       "mode = server\n";

    (void)state;
    expect_ok(text, &cfg);
    assert_string_equal(cfg.ctl_path, "/tmp/hashi-test/ctl.sock");
    assert_int_equal(cfg.n_cores, 1);
    assert_int_equal(cfg.cores[0], 3);
    /* Only the first '=' separates key from value. */
    assert_string_equal(cfg.eal_args, "--no-huge -m 256 --file-prefix=t1");

    /* Declaring bridges replaces the implicit br0. */
    assert_int_equal(cfg.n_bridges, 2);
    assert_null(config_find_bridge(&cfg, "br0"));
    assert_string_equal(cfg.bridges[0].name, "lan");
    assert_int_equal(cfg.bridges[0].aging_s, 60);
    assert_string_equal(cfg.bridges[1].name, "wan.2");
    assert_int_equal(cfg.bridges[1].aging_s, CONFIG_AGING_DEFAULT);
    assert_ptr_equal(config_find_bridge(&cfg, "wan.2"), &cfg.bridges[1]);

    assert_int_equal(cfg.n_ports, 2);
    const struct port_config *p = &cfg.ports[0];
    assert_string_equal(p->name, "vm1");
    assert_int_equal(p->type, PORT_TYPE_VHOST_USER);
    assert_string_equal(p->path, "/run/hashi/vm1.sock");
    assert_true(p->client);
    assert_int_equal(p->mtu, 9000);
    assert_string_equal(p->bridge, "wan.2");
    assert_int_equal(p->line, 10);

    p = &cfg.ports[1];
    assert_string_equal(p->name, "vm_2-b");
    assert_string_equal(p->path, "/run/hashi/vm2.sock");
    assert_false(p->client);
    assert_int_equal(p->mtu, CONFIG_MTU_DEFAULT);
    assert_string_equal(p->bridge, "lan");
    assert_int_equal(p->line, 16);
}

static void test_port_defaults_in_file(void **state)
{
    static struct hashi_config cfg;

    (void)state;
    /* Without [bridge] sections the implicit br0 stays and ports land on it. */
    expect_ok("[port vm1]\npath = /run/vm1.sock\n", &cfg);
    assert_int_equal(cfg.n_bridges, 1);
    assert_int_equal(cfg.n_ports, 1);
    assert_string_equal(cfg.ports[0].bridge, "br0");
    assert_int_equal(cfg.ports[0].type, PORT_TYPE_VHOST_USER);
    assert_false(cfg.ports[0].client);
    assert_int_equal(cfg.ports[0].mtu, 1500);
    assert_int_equal(cfg.ports[0].line, 1);
    /* Untouched [hashi] values keep their defaults. */
    assert_string_equal(cfg.ctl_path, CONFIG_CTL_DEFAULT);
    assert_string_equal(cfg.eal_args, CONFIG_EAL_DEFAULT);
    assert_int_equal(cfg.n_cores, 0);
}

static void test_comments_and_whitespace(void **state)
{
    static struct hashi_config cfg;
    const char *text = "# hashi test config\n"
                       "   # indented comment\n"
                       "\n"
                       "\t\n"
                       "  [ hashi ]   # trailing comment on a header\n"
                       "core=2\n"
                       "   ctl   =   /run/h.sock   # where hashictl connects\n"
                       "eal\t=\t-m 64\t# tabs too\n"
                       "[port   vm1]\n"
                       "path = /run/vm1.sock\t#tab before the hash\n"
                       "mtu =1400\n"
                       "mode= client\n"
                       "#mtu = 9000\n";

    (void)state;
    expect_ok(text, &cfg);
    assert_int_equal(cfg.n_cores, 1);
    assert_int_equal(cfg.cores[0], 2);
    assert_string_equal(cfg.ctl_path, "/run/h.sock");
    assert_string_equal(cfg.eal_args, "-m 64");
    assert_int_equal(cfg.n_ports, 1);
    assert_string_equal(cfg.ports[0].name, "vm1");
    assert_string_equal(cfg.ports[0].path, "/run/vm1.sock");
    assert_int_equal(cfg.ports[0].mtu, 1400);
    assert_true(cfg.ports[0].client);
    assert_int_equal(cfg.ports[0].line, 9);
}

static void test_crlf_and_no_final_newline(void **state)
{
    static struct hashi_config cfg;

    (void)state;
    /* Files edited on Windows end lines with "\r\n"; the '\r' is white space. */
    expect_ok("[hashi]\r\ncore = 5\r\n[port vm1]\r\npath = /run/vm1.sock\r\nmtu = 68", &cfg);
    assert_int_equal(cfg.n_cores, 1);
    assert_int_equal(cfg.cores[0], 5);
    assert_string_equal(cfg.ports[0].path, "/run/vm1.sock");
    assert_int_equal(cfg.ports[0].mtu, 68);
}

static void test_hash_inside_value_is_kept(void **state)
{
    static struct hashi_config cfg;

    (void)state;
    expect_ok("[port vm1]\npath = /run/hashi/vm#1.sock\n", &cfg);
    assert_string_equal(cfg.ports[0].path, "/run/hashi/vm#1.sock");
    expect_ok("[hashi]\nctl = /run/#/ctl.sock\n", &cfg);
    assert_string_equal(cfg.ctl_path, "/run/#/ctl.sock");
}

/* A value with a '#' and a comment after it on the same line: the comment still goes. */
static void test_hash_in_value_then_comment(void **state)
{
    static struct hashi_config cfg;

    (void)state;
    expect_ok("[port vm1]\npath = /run/hashi/vm#1.sock   # the first VM\n", &cfg);
    assert_string_equal(cfg.ports[0].path, "/run/hashi/vm#1.sock");
    expect_ok("[hashi]\neal = --file-prefix=a#b -m 64 # small\n", &cfg);
    assert_string_equal(cfg.eal_args, "--file-prefix=a#b -m 64");
}

static void test_value_limits(void **state)
{
    static struct hashi_config cfg;
    char text[512], path[CONFIG_PATH_SIZE + 1], name[CONFIG_NAME_SIZE + 1];

    (void)state;
    expect_ok("[port a]\npath = /a\nmtu = 68\n[port b]\npath = /b\nmtu = 9216\n", &cfg);
    assert_int_equal(find_port(&cfg, "a")->mtu, 68);
    assert_int_equal(find_port(&cfg, "b")->mtu, 9216);

    expect_ok("[hashi]\ncore = 0\n", &cfg);
    assert_int_equal(cfg.n_cores, 1);
    assert_int_equal(cfg.cores[0], 0);
    expect_ok("[hashi]\ncore = 1023\n", &cfg);
    assert_int_equal(cfg.n_cores, 1);
    assert_int_equal(cfg.cores[0], 1023);

    expect_ok("[bridge br0]\naging = 1\n[bridge br1]\naging = 1000000\n", &cfg);
    assert_int_equal(cfg.bridges[0].aging_s, 1);
    assert_int_equal(cfg.bridges[1].aging_s, 1000000);

    /* The longest path that fits sun_path with its terminator: 107 bytes. */
    memset(path, 'p', CONFIG_PATH_SIZE - 1);
    path[0] = '/';
    path[CONFIG_PATH_SIZE - 1] = '\0';
    snprintf(text, sizeof text, "[port vm1]\npath = %s\n", path);
    expect_ok(text, &cfg);
    assert_string_equal(cfg.ports[0].path, path);
    /* One more byte does not fit. */
    path[CONFIG_PATH_SIZE - 1] = 'p';
    path[CONFIG_PATH_SIZE] = '\0';
    snprintf(text, sizeof text, "[port vm1]\npath = %s\n", path);
    expect_error(text, 2, "path must be an absolute socket path of at most 107 bytes", NULL);
    snprintf(text, sizeof text, "[hashi]\nctl = %s\n", path);
    expect_error(text, 2, "ctl must be an absolute socket path of at most 107 bytes", NULL);

    /* Names: up to 31 bytes. */
    memset(name, 'n', CONFIG_NAME_SIZE - 1);
    name[CONFIG_NAME_SIZE - 1] = '\0';
    snprintf(text, sizeof text, "[bridge %s]\n[port %s]\npath = /x\nbridge = %s\n", name, name,
             name);
    expect_ok(text, &cfg);
    assert_string_equal(cfg.bridges[0].name, name);
    assert_string_equal(cfg.ports[0].name, name);
    assert_string_equal(cfg.ports[0].bridge, name);
    name[CONFIG_NAME_SIZE - 1] = 'n';
    name[CONFIG_NAME_SIZE] = '\0';
    snprintf(text, sizeof text, "\n[port %s]\n", name);
    expect_error(text, 2, "[port] needs a name", "(at most 31)", NULL);
}

static void test_many_bridges_and_ports(void **state)
{
    static struct hashi_config cfg;
    static char text[16384];
    size_t off = 0;

    (void)state;
    for (unsigned i = 0; i < CONFIG_MAX_BRIDGES; i++)
        off += (size_t)snprintf(text + off, sizeof text - off, "[bridge b%u]\n", i);
    for (unsigned i = 0; i < CONFIG_MAX_PORTS; i++)
        off += (size_t)snprintf(text + off, sizeof text - off,
                                "[port p%u]\npath = /run/p%u.sock\nbridge = b%u\n", i, i,
                                i % CONFIG_MAX_BRIDGES);
    expect_ok(text, &cfg);
    assert_int_equal(cfg.n_bridges, CONFIG_MAX_BRIDGES);
    assert_int_equal(cfg.n_ports, CONFIG_MAX_PORTS);
    assert_string_equal(cfg.ports[63].bridge, "b15");

    /* One port too many; it is declared on the line after the 16 + 64 * 3 lines above. */
    snprintf(text + off, sizeof text - off, "[port extra]\n");
    expect_error(text, CONFIG_MAX_BRIDGES + 3 * CONFIG_MAX_PORTS + 1, "more than 64 ports", NULL);

    off = 0;
    for (unsigned i = 0; i <= CONFIG_MAX_BRIDGES; i++)
        off += (size_t)snprintf(text + off, sizeof text - off, "[bridge b%u]\n", i);
    expect_error(text, CONFIG_MAX_BRIDGES + 1, "more than 16 bridges", NULL);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void test_error_unknown_section(void **state)
{
    (void)state;
    expect_error("[hashi]\n\n[bogus]\n", 3, "unknown section [bogus]",
                 "use [hashi], [bridge NAME] or [port NAME]", NULL);
    expect_error("[]\n", 1, "unknown section []", NULL);
    expect_error("[ports vm1]\n", 1, "unknown section [ports]", NULL);
}

static void test_error_unknown_key(void **state)
{
    (void)state;
    expect_error("[hashi]\ncore = 1\nworkers = 2\n", 3, "unknown key 'workers' in [hashi]",
                 "use: ctl, cores (or core), poll, poll-pause-us, poll-sleep-us, rxq-assign, eal",
                 NULL);
    expect_error("[bridge lan]\n# aging in seconds\nageing = 5\n", 3,
                 "unknown key 'ageing' in [bridge lan]", "use: aging", NULL);
    expect_error("[port vm1]\npath = /run/vm1.sock\nspeed = 2\n", 3, "unknown port key 'speed'",
                 "use: type, path, mode, ifname (or iface), queues, steering, dispatch, offload, "
                 "rsc, mtu, bridge",
                 NULL);
    /* Keys are case sensitive. */
    expect_error("[hashi]\nCore = 1\n", 2, "unknown key 'Core'", NULL);
}

static void test_error_key_before_section(void **state)
{
    (void)state;
    expect_error("# top\ncore = 1\n[hashi]\n", 2, "'core' stands before any section",
                 "put it under [hashi], [bridge NAME] or [port NAME]", NULL);
}

static void test_error_syntax(void **state)
{
    (void)state;
    expect_error("[hashi]\ncore 1\n", 2, "expected 'key = value' or a [section], got 'core 1'",
                 NULL);
    expect_error("[hashi]\ncore =\n", 2, "key 'core' has no value", NULL);
    expect_error("[hashi]\ncore =    # comment only\n", 2, "key 'core' has no value", NULL);
    expect_error("[hashi]\n\n[port vm1\npath = /x\n", 3, "section header lacks its closing ']'",
                 NULL);
    expect_error("[\n", 1, "lacks its closing ']'", NULL);
}

static void test_error_bad_mtu(void **state)
{
    static const char *const bad[] = {"0",     "67",    "9217",  "abc",
                                      "-1500", "1500x", "15 00", "99999999999999999999999"};
    char text[128], hint[128];

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "[port vm1]\npath = /run/vm1.sock\nmtu = %s\n", bad[i]);
        snprintf(hint, sizeof hint, "mtu '%s' is not valid; use a number from 68 to 9216", bad[i]);
        expect_error(text, 3, hint, NULL);
    }
}

static void test_error_bad_port_values(void **state)
{
    (void)state;
    expect_error("[port vm1]\npath = /run/vm1.sock\nmode = both\n", 3, "mode 'both' is not valid",
                 "use: server", "or client", NULL);
    expect_error("[port vm1]\ntype = tun\n", 2, "unknown port type 'tun'",
                 "use: vhost-user, tap, afpacket, afxdp", NULL);
    expect_error("[port vm1]\ntype = tap\nifname = a/b\n", 3, "interface name 'a/b' is not valid",
                 NULL);
    expect_error("[port vm1]\ntype = tap\nifname = sixteen-chars-xx\n", 3,
                 "interface name 'sixteen-chars-xx' is not valid", "1 to 15", NULL);
    expect_error("[port vm1]\ntype = tap\nifname = t\nqueues = 9\n", 4, "queues '9' is not valid",
                 "from 1 to 8", NULL);
    expect_error("[port vm1]\ntype = tap\nifname = t\noffload = yes\n", 4,
                 "offload 'yes' is not valid", "use: on", NULL);
    /* Keys that belong to another type are reported at the port's header line. */
    expect_error("[port vm1]\ntype = tap\n", 1, "tap port 'vm1' has no interface",
                 "add: ifname = NAME", NULL);
    expect_error("[port up]\ntype = afpacket\n", 1, "afpacket port 'up' has no interface",
                 "add: iface = NAME", NULL);
    expect_error("[port vm1]\npath = /run/vm1.sock\nsteering = mac\n", 1,
                 "'steering' does not apply to a vhost-user port; remove it", NULL);
    expect_error("[port vm1]\ntype = tap\nifname = t\npath = /run/x.sock\n", 1,
                 "'path' does not apply to a tap port", NULL);
    expect_error("[port up]\ntype = afxdp\niface = eth0\nqueues = 2\n", 1,
                 "'queues' does not apply to an afxdp port", NULL);
    expect_error("[port up]\ntype = afxdp\niface = eth0\noffload = off\n", 1,
                 "'offload' does not apply to an afxdp port", NULL);
    expect_error("[port vm1]\ntype = tap\nifname = t\nrsc = yes\n", 4, "rsc 'yes' is not valid",
                 "use: on", NULL);
    expect_error("[port up]\ntype = afxdp\niface = eth0\nrsc = on\n", 1,
                 "'rsc' does not apply to an afxdp port", NULL);
    expect_error("[port vm1]\ntype = tap\nifname = t\noffload = off\nrsc = on\n", 1,
                 "port 'vm1': rsc on needs offload on", NULL);
    expect_error("[port a]\ntype = tap\nifname = t0\n[port b]\ntype = afpacket\niface = t0\n", 4,
                 "port 'b' uses the interface of port 'a' (line 1)", NULL);
    expect_error("[port vm1]\npath = run/vm1.sock\n", 2, "path must be an absolute socket path",
                 NULL);
    expect_error("[port vm1]\npath = /x\nbridge = br 1\n", 3, "bridge name 'br 1' is not valid",
                 "use letters, digits, '-', '_', '.'", NULL);
}

static void test_error_bad_global_values(void **state)
{
    (void)state;
    expect_error("[hashi]\ncore = abc\n", 2, "core 'abc' is not valid",
                 "use a CPU number such as 1", NULL);
    expect_error("[hashi]\ncore = -1\n", 2, "core '-1' is not valid", NULL);
    expect_error("[hashi]\ncore = 1024\n", 2, "core '1024' is not valid", NULL);
    expect_error("[hashi]\nctl = hashi.sock\n", 2, "ctl must be an absolute socket path", NULL);
    expect_error("[bridge br0]\naging = 0\n", 2, "aging '0' is not valid",
                 "use seconds from 1 to 1000000", NULL);
    expect_error("[bridge br0]\naging = 1000001\n", 2, "aging '1000001' is not valid", NULL);
    expect_error("[bridge br0]\naging = 5m\n", 2, "aging '5m' is not valid", NULL);
}

/* hashi's own EAL words plus the config's must fit DPDK's argument array: the limit is
 * checked with the file, not first at start-up. */
static void test_eal_word_limit(void **state)
{
    static struct hashi_config cfg;
    char text[CONFIG_EAL_SIZE + 32] = "[hashi]\neal =";

    (void)state;
    for (int i = 0; i < CONFIG_EAL_MAX_WORDS; i++)
        strcat(text, " -v");
    config_init(&cfg);
    expect_ok(text, &cfg);
    strcat(text, "\t-v\n");
    expect_error(text, 2, "eal has 57 words; at most 56 fit", NULL);
}

static void test_error_duplicates(void **state)
{
    (void)state;
    expect_error("[port vm1]\npath = /run/vm1.sock\n\n[port vm2]\npath = /run/vm2.sock\n"
                 "[port vm1]\n",
                 6, "port 'vm1' is declared twice (first at line 1)", "rename one", NULL);
    expect_error("[bridge br1]\n[bridge br2]\naging = 5\n[bridge br1]\n", 4,
                 "bridge 'br1' is declared twice", "rename or merge them", NULL);
    /* br0 declared explicitly is no duplicate of the implicit one, but twice it is. */
    expect_error("[bridge br0]\n[bridge br0]\n", 2, "bridge 'br0' is declared twice", NULL);
}

static void test_error_port_on_undeclared_bridge(void **state)
{
    static struct hashi_config cfg;

    (void)state;
    /* Declaring any bridge drops the implicit br0, so a port left on br0 is now stranded. The
     * error is reported at the [port] line, after the whole file has been read. */
    expect_error("[bridge br1]\n\n[port vm1]\npath = /run/vm1.sock\n[port vm2]\n"
                 "path = /run/vm2.sock\nbridge = br1\n",
                 3, "port 'vm1' is on bridge 'br0', which is not declared",
                 "add [bridge br0] or set bridge = NAME", NULL);
    expect_error("[port vm1]\npath = /run/vm1.sock\nbridge = lan\n", 1,
                 "port 'vm1' is on bridge 'lan', which is not declared", NULL);
    /* A bridge declared after the port that uses it is fine. */
    expect_ok("[port vm1]\npath = /run/vm1.sock\nbridge = lan\n[bridge lan]\n", &cfg);
    assert_string_equal(cfg.ports[0].bridge, "lan");
}

static void test_error_port_without_path(void **state)
{
    (void)state;
    expect_error("[hashi]\ncore = 1\n\n[port vm1]\ntype = vhost-user\nmode = client\n", 4,
                 "port 'vm1' has no path", "add: path = /run/hashi/vm1.sock", NULL);
    /* The first port is fine; the second one is reported at its own line. */
    expect_error("[port vm1]\npath = /run/vm1.sock\n[port vm2]\nmtu = 9000\n", 3,
                 "port 'vm2' has no path", NULL);
}

static void test_error_shared_path(void **state)
{
    (void)state;
    expect_error("[port vm1]\npath = /run/shared.sock\n\n[port vm2]\npath = /run/shared.sock\n", 4,
                 "port 'vm2' uses the socket path of port 'vm1' (line 1)",
                 "give each port its own path", NULL);
}

static void test_error_invalid_names(void **state)
{
    (void)state;
    expect_error("[port vm/1]\n", 1, "[port] needs a name of letters, digits, '-', '_', '.'",
                 "e.g. [port vm1]", NULL);
    expect_error("[port vm 1]\n", 1, "[port] needs a name", NULL);
    expect_error("[bridge]\n", 1, "[bridge] needs a name", "e.g. [bridge br0]", NULL);
    expect_error("[hashi]\n[bridge br:0]\n", 2, "[bridge] needs a name", NULL);
}

static void test_error_long_line(void **state)
{
    static struct hashi_config cfg;
    static char text[2048];

    (void)state;
    /* 1023 bytes of content is the limit, 1024 is too long. */
    memset(text, ' ', sizeof text);
    memcpy(text, "[hashi]\n# ", 10);
    text[8 + 1023] = '\n';
    text[8 + 1024] = '\0';
    expect_ok(text, &cfg);
    memset(text, ' ', sizeof text);
    memcpy(text, "[hashi]\n# ", 10);
    text[8 + 1024] = '\n';
    text[8 + 1025] = '\0';
    expect_error(text, 2, "line is longer than 1023 bytes", NULL);
}

/* The first error wins; later lines are not read. */
static void test_error_stops_at_first(void **state)
{
    (void)state;
    expect_error("[hashi]\ncore = x\nctl = y\n[nope]\n", 2, "core 'x'", NULL);
}

/* ---- the key/value setters shared with hashictl ------------------------------------------ */

static void test_port_config_set(void **state)
{
    struct port_config port;
    char err[CONFIG_ERR_SIZE];

    (void)state;
    memset(&port, 0x5a, sizeof port);
    config_port_init(&port);
    assert_string_equal(port.name, "");
    assert_string_equal(port.bridge, "br0");
    assert_int_equal(port.type, PORT_TYPE_VHOST_USER);
    assert_string_equal(port.path, "");
    assert_false(port.client);
    assert_int_equal(port.mtu, CONFIG_MTU_DEFAULT);
    assert_int_equal(port.line, 0);

    assert_int_equal(config_port_set(&port, "type", "vhost-user", err, sizeof err), 0);
    assert_int_equal(config_port_set(&port, "path", "/run/x.sock", err, sizeof err), 0);
    assert_string_equal(port.path, "/run/x.sock");
    assert_int_equal(config_port_set(&port, "mode", "client", err, sizeof err), 0);
    assert_true(port.client);
    assert_int_equal(config_port_set(&port, "mode", "server", err, sizeof err), 0);
    assert_false(port.client);
    assert_int_equal(config_port_set(&port, "mtu", "4000", err, sizeof err), 0);
    assert_int_equal(port.mtu, 4000);
    assert_int_equal(config_port_set(&port, "bridge", "lan", err, sizeof err), 0);
    assert_string_equal(port.bridge, "lan");

    /* Rejected values leave the port as it was, and the message has no file or line. */
    err[0] = '\0';
    assert_int_equal(config_port_set(&port, "mtu", "67", err, sizeof err), -1);
    assert_string_equal(err, "mtu '67' is not valid; use a number from 68 to 9216");
    assert_int_equal(port.mtu, 4000);
    assert_int_equal(config_port_set(&port, "mtu", "", err, sizeof err), -1);
    assert_int_equal(config_port_set(&port, "path", "x.sock", err, sizeof err), -1);
    assert_string_equal(err, "path must be an absolute socket path of at most 107 bytes");
    assert_string_equal(port.path, "/run/x.sock");
    assert_int_equal(config_port_set(&port, "mode", "Client", err, sizeof err), -1);
    assert_non_null(strstr(err, "mode 'Client' is not valid"));
    assert_false(port.client);
    assert_int_equal(config_port_set(&port, "type", "vhost", err, sizeof err), -1);
    assert_string_equal(err, "unknown port type 'vhost'; use: vhost-user, tap, afpacket, afxdp");
    assert_int_equal(port.type, PORT_TYPE_VHOST_USER);
    assert_int_equal(config_port_set(&port, "bridge", "", err, sizeof err), -1);
    assert_non_null(strstr(err, "bridge name '' is not valid"));
    assert_string_equal(port.bridge, "lan");
    /* "name" is not a key here: hashictl and the [port NAME] header set it. */
    assert_int_equal(config_port_set(&port, "name", "vm1", err, sizeof err), -1);
    assert_string_equal(err, "unknown port key 'name'; use: type, path, mode, ifname (or iface), "
                             "queues, steering, dispatch, offload, rsc, mtu, bridge");

    /* A short error buffer is truncated, not overrun. */
    char small[8];
    memset(small, 'x', sizeof small);
    assert_int_equal(config_port_set(&port, "mtu", "1", small, sizeof small), -1);
    assert_string_equal(small, "mtu '1'");
}

static void test_port_config_check(void **state)
{
    struct port_config port;
    char err[CONFIG_ERR_SIZE];

    (void)state;
    config_port_init(&port);
    strcpy(port.name, "vm7");
    assert_int_equal(config_port_check(&port, err, sizeof err), -1);
    assert_string_equal(err, "port 'vm7' has no path; add: path = /run/hashi/vm7.sock");
    assert_int_equal(config_port_set(&port, "path", "/run/vm7.sock", err, sizeof err), 0);
    assert_int_equal(config_port_check(&port, err, sizeof err), 0);

    /* a kernel port: iface and ifname are the same key */
    config_port_init(&port);
    strcpy(port.name, "up0");
    assert_int_equal(config_port_set(&port, "type", "afpacket", err, sizeof err), 0);
    assert_int_equal(config_port_set(&port, "iface", "veth0", err, sizeof err), 0);
    assert_string_equal(port.ifname, "veth0");
    assert_int_equal(config_port_set(&port, "offload", "off", err, sizeof err), 0);
    assert_false(port.offload);
    assert_int_equal(config_port_check(&port, err, sizeof err), 0);
    assert_int_equal(config_port_set(&port, "type", "tap", err, sizeof err), 0);
    assert_int_equal(config_port_set(&port, "queues", "4", err, sizeof err), 0);
    assert_int_equal(port.queues, 4);
    assert_int_equal(config_port_check(&port, err, sizeof err), 0);

    /* coalescing: on by default toward guests and TAP hosts with offloads, off for uplinks */
    config_port_init(&port);
    assert_true(config_port_rsc(&port)); /* vhost-user */
    assert_int_equal(config_port_set(&port, "type", "tap", err, sizeof err), 0);
    assert_true(config_port_rsc(&port));
    assert_int_equal(config_port_set(&port, "offload", "off", err, sizeof err), 0);
    assert_false(config_port_rsc(&port));
    assert_int_equal(config_port_set(&port, "type", "afpacket", err, sizeof err), 0);
    assert_int_equal(config_port_set(&port, "offload", "on", err, sizeof err), 0);
    assert_false(config_port_rsc(&port));
    assert_int_equal(config_port_set(&port, "rsc", "on", err, sizeof err), 0);
    assert_true(config_port_rsc(&port));
    assert_int_equal(config_port_set(&port, "rsc", "off", err, sizeof err), 0);
    assert_false(config_port_rsc(&port));

    assert_string_equal(config_port_type_name(PORT_TYPE_VHOST_USER), "vhost-user");
    assert_string_equal(config_port_type_name(PORT_TYPE_AFXDP), "afxdp");
    assert_string_equal(config_port_type_name(PORT_TYPE_NONE), "none");
}

/* ---- files ------------------------------------------------------------------------------- */

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_load_file(void **state)
{
    static struct hashi_config cfg;
    char path[] = "/tmp/hashi-test-config-XXXXXX";
    char err[CONFIG_ERR_SIZE], want[128];
    const char ok[] = "[hashi]\ncore = 4\n[port vm1]\npath = /run/vm1.sock\n";
    const char bad[] = "[hashi]\ncore = 4\n\n[port vm1]\nmtu = 10\n";
    const char nul[] = "[hashi]\0core = 4\n";
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    close(fd);

    write_file(path, ok, sizeof ok - 1);
    config_init(&cfg);
    assert_int_equal(config_load(path, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.n_cores, 1);
    assert_int_equal(cfg.cores[0], 4);
    assert_string_equal(cfg.ports[0].path, "/run/vm1.sock");

    /* Errors from a file are prefixed with its path. */
    write_file(path, bad, sizeof bad - 1);
    config_init(&cfg);
    assert_int_equal(config_load(path, &cfg, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:5: mtu '10' is not valid", path);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("error '%s' does not start with '%s'", err, want);

    write_file(path, nul, sizeof nul - 1);
    config_init(&cfg);
    assert_int_equal(config_load(path, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "NUL byte"));

    assert_int_equal(unlink(path), 0);
    config_init(&cfg);
    assert_int_equal(config_load(path, &cfg, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: cannot open: ", path);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("error '%s' does not start with '%s'", err, want);
    assert_non_null(strstr(err, "No such file"));
}

/* Workers and polling: the CPU list, the poll mode and its thresholds, queue assignment, and
 * the keys of multi-queue ports. */
static void test_workers_and_queues(void **state)
{
    struct hashi_config cfg;
    char err[CONFIG_ERR_SIZE];

    (void)state;
    expect_ok("[hashi]\ncores = 0,1\n", &cfg);
    assert_int_equal(cfg.n_cores, 2);
    assert_int_equal(cfg.cores[0], 0);
    assert_int_equal(cfg.cores[1], 1);
    expect_ok("[hashi]\ncores = 2-4,8\n", &cfg);
    assert_int_equal(cfg.n_cores, 4);
    assert_int_equal(cfg.cores[2], 4);
    assert_int_equal(cfg.cores[3], 8);
    assert_true(cfg.poll_adaptive);
    assert_int_equal(cfg.poll_pause_us, CONFIG_POLL_PAUSE_US_DEFAULT);
    assert_int_equal(cfg.poll_sleep_us, CONFIG_POLL_SLEEP_US_DEFAULT);
    assert_false(cfg.rxq_assign_cycles);
    expect_ok("[hashi]\npoll = always\npoll-pause-us = 0\npoll-sleep-us = 250\n"
              "rxq-assign = cycles\n",
              &cfg);
    assert_false(cfg.poll_adaptive);
    assert_int_equal(cfg.poll_pause_us, 0);
    assert_int_equal(cfg.poll_sleep_us, 250);
    assert_true(cfg.rxq_assign_cycles);

    expect_error("[hashi]\ncores = 0,0\n", 2, "names CPU 0 twice", NULL);
    expect_error("[hashi]\ncores = 1-\n", 2, "is not a CPU list", NULL);
    expect_error("[hashi]\ncores = 3-1\n", 2, "is not a CPU list", NULL);
    expect_error("[hashi]\ncores = 0-16\n", 2, "more than 16 CPUs", NULL);
    expect_error("[hashi]\npoll = sometimes\n", 2, "use: adaptive", NULL);
    expect_error("[hashi]\nrxq-assign = random\n", 2, "use: roundrobin", NULL);
    expect_error("[hashi]\npoll-sleep-us = -1\n", 2, "use microseconds", NULL);

    config_init(&cfg);
    assert_int_equal(config_set_cores(&cfg, "5", err, sizeof err), 0);
    assert_int_equal(cfg.n_cores, 1);
    assert_int_equal(config_set_poll(&cfg, "adaptive", err, sizeof err), 0);
    assert_int_equal(config_set_poll(&cfg, "never", err, sizeof err), -1);

    expect_ok("[port v]\npath = /v\nqueues = 2\n"
              "[port t]\ntype = tap\nifname = t0\nqueues = 8\n"
              "[port u]\ntype = afpacket\niface = e0\nqueues = 2\nsteering = mac\n",
              &cfg);
    assert_int_equal(find_port(&cfg, "v")->queues, 2);
    assert_true(find_port(&cfg, "u")->steer_mac);
    assert_false(find_port(&cfg, "u")->soft_dispatch);
    expect_ok("[port u]\ntype = afpacket\niface = e0\nqueues = 2\ndispatch = software\n", &cfg);
    assert_true(find_port(&cfg, "u")->soft_dispatch);
    expect_error("[port x]\ntype = tap\nifname = t0\ndispatch = software\n", 1,
                 "'dispatch' does not apply to a tap port", NULL);
    expect_error("[port x]\ntype = afpacket\niface = e0\ndispatch = hashi\n", 4, "use: kernel",
                 NULL);
    expect_error("[port x]\ntype = afxdp\niface = e0\nqueues = 2\n", 1,
                 "'queues' does not apply to an afxdp port", NULL);
    expect_error("[port x]\ntype = tap\nifname = t0\nsteering = mac\n", 1,
                 "'steering' does not apply to a tap port", NULL);
    expect_error("[port x]\npath = /x\nsteering = rss\nsteering = hash\n", 4, "use: rss", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_port_defaults_in_file),
        cmocka_unit_test(test_comments_and_whitespace),
        cmocka_unit_test(test_crlf_and_no_final_newline),
        cmocka_unit_test(test_hash_inside_value_is_kept),
        cmocka_unit_test(test_hash_in_value_then_comment),
        cmocka_unit_test(test_value_limits),
        cmocka_unit_test(test_many_bridges_and_ports),
        cmocka_unit_test(test_error_unknown_section),
        cmocka_unit_test(test_error_unknown_key),
        cmocka_unit_test(test_error_key_before_section),
        cmocka_unit_test(test_error_syntax),
        cmocka_unit_test(test_error_bad_mtu),
        cmocka_unit_test(test_error_bad_port_values),
        cmocka_unit_test(test_error_bad_global_values),
        cmocka_unit_test(test_eal_word_limit),
        cmocka_unit_test(test_error_duplicates),
        cmocka_unit_test(test_error_port_on_undeclared_bridge),
        cmocka_unit_test(test_error_port_without_path),
        cmocka_unit_test(test_error_shared_path),
        cmocka_unit_test(test_error_invalid_names),
        cmocka_unit_test(test_error_long_line),
        cmocka_unit_test(test_error_stops_at_first),
        cmocka_unit_test(test_port_config_set),
        cmocka_unit_test(test_port_config_check),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_workers_and_queues),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
