/*
 * What several cmocka tests share: a DPDK environment that leaves nothing behind, and CHECK,
 * an assertion that prints the case under test (random or table-driven cases cannot be told
 * apart by line). Include after cmocka.h.
 */
#ifndef HASHI_TEST_UNIT_H
#define HASHI_TEST_UNIT_H

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_eal.h>

/* The case under test, set with snprintf before CHECKs. */
static char ctx[256] __attribute__((unused));

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg("%s:%d: %s [%s]", __FILE__, __LINE__, #cond, ctx);                            \
    } while (0)

/* Starts DPDK in memory_mb of plain memory on one core. No shared config files and no
 * telemetry socket, so the runtime directory stays empty and unit_eal_stop removes it
 * (--in-memory would do both, but does not go with --no-huge). Returns rte_eal_init's result. */
static inline int unit_eal_start(const char *name, const char *memory_mb)
{
    static char prefix[64];
    char *args[] = {(char *)name,
                    "--no-huge",
                    "--no-shconf",
                    "--no-telemetry",
                    "--no-pci",
                    "-m",
                    (char *)memory_mb,
                    "--log-level",
                    "*:error",
                    "--file-prefix",
                    prefix,
                    "-l",
                    "0",
                    NULL};

    snprintf(prefix, sizeof prefix, "hashi-unit-%d", (int)getpid());
    return rte_eal_init((int)(sizeof args / sizeof args[0]) - 1, args);
}

/* Stops DPDK and removes the runtime directory it makes even with --no-shconf. */
static inline void unit_eal_stop(void)
{
    char runtime_dir[PATH_MAX];

    snprintf(runtime_dir, sizeof runtime_dir, "%s", rte_eal_get_runtime_dir());
    rte_eal_cleanup();
    rmdir(runtime_dir);
}

#endif
