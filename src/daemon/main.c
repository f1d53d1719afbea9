/*
 * hashi: the daemon. Reads the configuration, starts DPDK with one worker lcore pinned to each
 * chosen core, opens the configured ports and serves the control socket until SIGINT/SIGTERM,
 * then closes every port (removing server sockets) and exits.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "config/config.h"
#include "ctl/ctl_commands.h"
#include "ctl/ctl_server.h"
#include "daemon/hashi.h"
#include "util/util.h"

#define HASHI_VERSION "0.1.0"
#define OWN_EAL_ARGS  7 /* hashi's own EAL words, below */

static void usage(FILE *out)
{
    fprintf(out, "usage: hashi [--config FILE] [--ctl SOCK] [--cores LIST] [--poll MODE]\n"
                 "       hashi --check-config FILE\n"
                 "       hashi demo [--seconds N] [--uplink afpacket|afxdp]\n"
                 "       hashi --version | --help\n"
                 "\n"
                 "  --config FILE        start from FILE (see docs/config.md); without it hashi\n"
                 "                       starts one empty bridge br0, ports come by hashictl\n"
                 "  --ctl SOCK           control socket (default " CONFIG_CTL_DEFAULT ")\n"
                 "  --cores LIST         CPUs of the forwarding workers, one each, e.g. 0,1\n"
                 "                       or 2-5 (default: one worker on the last CPU);\n"
                 "                       --core N is the same with one CPU\n"
                 "  --poll MODE          adaptive (default: idle workers sleep until traffic)\n"
                 "                       or always (they poll without pause)\n"
                 "  --check-config FILE  validate FILE and exit: 0 if good, 1 with the error\n"
                 "  demo                 namespaces vm1, vm2 (TAP) and ext (uplink) on one\n"
                 "                       bridge, measured with iperf3 (needs root)\n");
}

/* `hashi demo` is a script (it drives ip, iperf3 and hashictl), found beside the binary in a
 * build tree or in hashi's libexec directory once installed. Returns only on failure. */
static int run_demo(char **argv)
{
    char self[PATH_MAX], dir[PATH_MAX], script[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

    if (n < 0) {
        perror("hashi demo: /proc/self/exe");
        return 1;
    }
    self[n] = '\0';
    util_strlcpy(dir, self, sizeof dir);
    *strrchr(dir, '/') = '\0';
    snprintf(script, sizeof script, "%s/hashi-demo", dir);
    if (access(script, R_OK) != 0)
        snprintf(script, sizeof script, "%s/hashi-demo", HASHI_LIBEXECDIR);
    setenv("HASHI_BIN_DIR", dir, 1);
    /* "hashi demo ARGS..." becomes "bash SCRIPT ARGS..." */
    argv[0] = "bash";
    argv[1] = script;
    execv("/bin/bash", argv);
    fprintf(stderr, "hashi demo: cannot run /bin/bash %s: %s\n", script, strerror(errno));
    return 1;
}

struct options {
    const char *config;
    const char *ctl;
    const char *cores;
    const char *poll;
};

/* Parses the command line; returns -1 to exit with *status. */
static int parse_options(int argc, char **argv, struct options *opt, int *status)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"ctl", required_argument, NULL, 's'},
        {"core", required_argument, NULL, 'n'},
        {"cores", required_argument, NULL, 'n'},
        {"poll", required_argument, NULL, 'p'},
        {"check-config", required_argument, NULL, 'k'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char err[CONFIG_ERR_SIZE];
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            opt->config = optarg;
            break;
        case 's':
            opt->ctl = optarg;
            break;
        case 'n':
            opt->cores = optarg;
            break;
        case 'p':
            opt->poll = optarg;
            break;
        case 'k': {
            struct hashi_config cfg;
            config_init(&cfg);
            if (config_load(optarg, &cfg, err, sizeof err) < 0) {
                fprintf(stderr, "hashi: %s\n", err);
                *status = 1;
            } else {
                printf("%s: ok (bridges: %u, ports: %u)\n", optarg, cfg.n_bridges, cfg.n_ports);
                *status = 0;
            }
            return -1;
        }
        case 'V':
            printf("hashi %s\n", HASHI_VERSION);
            *status = 0;
            return -1;
        case 'h':
            usage(stdout);
            *status = 0;
            return -1;
        default:
            usage(stderr);
            *status = 2;
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hashi: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        *status = 2;
        return -1;
    }
    return 0;
}

/* Each worker gets its core; the main thread (control, rte_vhost's threads) gets the other
 * CPUs this process may use, or all of them if the workers take every one. With no cores
 * configured, one worker takes the last allowed CPU. Writes the main thread's CPUs as ranges
 * ("0-2,4-63", so that many CPUs still fit the EAL's argument). */
static int choose_cpus(struct hashi_config *cfg, char *main_set, size_t size)
{
    cpu_set_t allowed, rest;
    int last = -1;
    size_t len = 0;

    if (sched_getaffinity(0, sizeof allowed, &allowed) < 0)
        return -1;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &allowed))
            last = cpu;
    if (cfg->n_cores == 0) {
        cfg->n_cores = 1;
        cfg->cores[0] = last;
    }
    rest = allowed;
    for (unsigned i = 0; i < cfg->n_cores; i++) {
        int core = cfg->cores[i];
        if (core < 0 || core >= CPU_SETSIZE || !CPU_ISSET(core, &allowed)) {
            fprintf(stderr,
                    "hashi: core %d is not available to this process; use CPUs in its affinity "
                    "list (taskset -p %d)\n",
                    core, (int)getpid());
            return -1;
        }
        CPU_CLR(core, &rest);
    }
    if (CPU_COUNT(&rest) == 0)
        rest = allowed;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        int last_in_run = cpu;

        if (!CPU_ISSET(cpu, &rest))
            continue;
        while (last_in_run + 1 < CPU_SETSIZE && CPU_ISSET(last_in_run + 1, &rest))
            last_in_run++;
        int n =
            last_in_run > cpu
                ? snprintf(main_set + len, size - len, "%s%d-%d", len ? "," : "", cpu, last_in_run)
                : snprintf(main_set + len, size - len, "%s%d", len ? "," : "", cpu);
        if (n < 0 || (size_t)n >= size - len) {
            fprintf(stderr, "hashi: too many CPU ranges in the affinity list; narrow it with "
                            "taskset\n");
            return -1;
        }
        len += (size_t)n;
        cpu = last_in_run;
    }
    return 0;
}

/* A stable DPDK file prefix per control socket: two hashi instances never share one, and a
 * restarted instance reuses its own. */
static unsigned prefix_hash(const char *s)
{
    unsigned h = 2166136261u;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static int init_eal(struct hashi_config *cfg, unsigned *lcores)
{
    static char lcore_map[512], prefix[32], eal_copy[CONFIG_EAL_SIZE];
    char main_set[192];
    char *args[OWN_EAL_ARGS + CONFIG_EAL_MAX_WORDS + 1];
    int n = 0;
    size_t len;

    if (choose_cpus(cfg, main_set, sizeof main_set) < 0)
        return -1;
    /* lcore 0 is the main thread; worker i is lcore i + 1, pinned to its core */
    len = (size_t)snprintf(lcore_map, sizeof lcore_map, "0@(%s)", main_set);
    for (unsigned i = 0; i < cfg->n_cores && len < sizeof lcore_map; i++) {
        lcores[i] = i + 1;
        len += (size_t)snprintf(lcore_map + len, sizeof lcore_map - len, ",%u@%d", i + 1,
                                cfg->cores[i]);
    }
    snprintf(prefix, sizeof prefix, "hashi-%08x", prefix_hash(cfg->ctl_path));
    args[n++] = "hashi";
    args[n++] = "--lcores";
    args[n++] = lcore_map;
    args[n++] = "--file-prefix";
    args[n++] = prefix;
    /* hashi logs port events itself; DPDK's per-message vhost chatter stays out of the log */
    args[n++] = "--log-level=lib.eal:warning";
    args[n++] = "--log-level=lib.vhost.config:warning";
    /* config `eal` words come last, so they may override the defaults above */
    util_strlcpy(eal_copy, cfg->eal_args, sizeof eal_copy);
    /* the config parser let at most CONFIG_EAL_MAX_WORDS through */
    for (char *save, *w = strtok_r(eal_copy, " \t\r\n\v\f", &save); w;
         w = strtok_r(NULL, " \t\r\n\v\f", &save))
        args[n++] = w;
    args[n] = NULL;
    if (rte_eal_init(n, args) < 0) {
        fprintf(stderr, "hashi: DPDK did not start (%s); see DPDK's messages above (eal = %s)\n",
                rte_errno ? rte_strerror(rte_errno) : "no reason given", cfg->eal_args);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct hashi h;
    struct options opt = {0};
    struct hashi_config cfg;
    struct ctl_server ctl;
    char err[CONFIG_ERR_SIZE];
    unsigned lcores[CONFIG_MAX_WORKERS];
    int status = 0;
    sigset_t mask;

    if (argc > 1 && !strcmp(argv[1], "demo"))
        return run_demo(argv);
    if (parse_options(argc, argv, &opt, &status) < 0)
        return status;
    config_init(&cfg);
    if (opt.config && config_load(opt.config, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "hashi: %s\n", err);
        return 1;
    }
    if (opt.ctl && util_strlcpy(cfg.ctl_path, opt.ctl, sizeof cfg.ctl_path) < 0) {
        fprintf(stderr, "hashi: --ctl path is longer than %zu bytes\n", sizeof cfg.ctl_path - 1);
        return 2;
    }
    if ((opt.cores && config_set_cores(&cfg, opt.cores, err, sizeof err) < 0) ||
        (opt.poll && config_set_poll(&cfg, opt.poll, err, sizeof err) < 0)) {
        fprintf(stderr, "hashi: --%s\n", err);
        return 2;
    }
    /* before DPDK: a second hashi on the same socket would share its DPDK file prefix */
    if (ctl_socket_in_use(cfg.ctl_path, err, sizeof err)) {
        fprintf(stderr, "hashi: %s\n", err);
        return 1;
    }

    /* Blocked before DPDK starts its threads, so they inherit the mask and only the control
     * loop's signalfd sees these signals. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);

    if (init_eal(&cfg, lcores) < 0)
        return 1;
    if (ctl_server_open(&ctl, cfg.ctl_path, ctl_commands_handle, &h, err, sizeof err) != 0) {
        fprintf(stderr, "hashi: %s\n", err);
        rte_eal_cleanup();
        return 1;
    }
    ctl.tick = ctl_commands_tick;
    if (hashi_init(&h, &cfg, lcores, cfg.cores, cfg.n_cores, err, sizeof err) != 0) {
        fprintf(stderr, "hashi: %s\n", err);
        ctl_server_close(&ctl);
        rte_eal_cleanup();
        return 1;
    }
    for (unsigned i = 0; i < cfg.n_ports; i++) {
        if (hashi_port_add(&h, &cfg.ports[i], err, sizeof err) != 0) {
            fprintf(stderr, "hashi: %s:%u: port %s: %s\n", opt.config, cfg.ports[i].line,
                    cfg.ports[i].name, err);
            status = 1;
            goto out;
        }
    }
    if (hashi_start(&h, err, sizeof err) != 0) {
        fprintf(stderr, "hashi: %s\n", err);
        status = 1;
        goto out;
    }
    char cores[CONFIG_MAX_WORKERS * 6] = "";
    for (unsigned i = 0, len = 0; i < cfg.n_cores; i++)
        len +=
            (unsigned)snprintf(cores + len, sizeof cores - len, "%s%d", i ? "," : "", cfg.cores[i]);
    LOG_INFO("hashi %s: %u worker%s on core%s %s (%s polling), control socket %s, %u ports",
             HASHI_VERSION, cfg.n_cores, cfg.n_cores == 1 ? "" : "s", cfg.n_cores == 1 ? "" : "s",
             cores, cfg.poll_adaptive ? "adaptive" : "always", cfg.ctl_path, cfg.n_ports);
    int sig = ctl_server_run(&ctl);
    LOG_INFO("%s: shutting down", sig ? strsignal(sig) : "control loop ended");
out:
    ctl_server_close(&ctl);
    /* the control loop no longer reads signals: let a second one end a stuck shutdown */
    pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
    hashi_fini(&h);
    rte_eal_cleanup();
    return status;
}
