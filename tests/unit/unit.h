/*
 * What several cmocka tests share: a DPDK environment that leaves nothing behind; CHECK, an
 * assertion that prints the case under test (random or table-driven cases cannot be told apart
 * by line); a reproducible random generator; copying bytes into mbuf chains. Include after
 * cmocka.h.
 */
#ifndef HASHI_TEST_UNIT_H
#define HASHI_TEST_UNIT_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

/* The case under test, set with snprintf before CHECKs. */
static char ctx[256] __attribute__((unused));

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg("%s:%d: %s [%s]", __FILE__, __LINE__, #cond, ctx);                            \
    } while (0)

/* xorshift64*: reproducible from the printed seed, the same on every libc. One step of the
 * generator whose state is *s (never 0). */
static inline uint32_t unit_xorshift(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (uint32_t)((*s * 0x2545F4914F6CDD1DULL) >> 32);
}

/* The program's generator: unit_seed is what the test prints (and takes from its environment
 * with unit_seed_from_env); a test (re)starts the stream with unit_rng = unit_seed. */
static uint64_t unit_seed __attribute__((unused));
static uint64_t unit_rng __attribute__((unused));

static inline uint32_t unit_rnd(void)
{
    return unit_xorshift(&unit_rng);
}

/* lo..hi, both included */
static inline uint32_t unit_between(uint32_t lo, uint32_t hi)
{
    return lo + unit_rnd() % (hi - lo + 1);
}

static inline void unit_fill_random(uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)unit_rnd();
}

/* unit_seed from the environment variable var (any base strtoull reads), else fallback. */
static inline void unit_seed_from_env(const char *var, uint64_t fallback)
{
    const char *env = getenv(var);

    unit_seed = env ? strtoull(env, NULL, 0) : fallback;
    if (unit_seed == 0)
        unit_seed = 1; /* xorshift stays at 0 forever */
}

/* Copies take bytes into m, a new mbuf, and hangs m at the end of the chain *head .. *tail (m
 * starts it when *head is NULL). */
static inline void unit_chain_add(struct rte_mbuf **head, struct rte_mbuf **tail,
                                  struct rte_mbuf *m, const uint8_t *bytes, uint32_t take)
{
    memcpy(rte_pktmbuf_append(m, (uint16_t)take), bytes, take);
    if (!*head) {
        *head = m;
    } else {
        (*tail)->next = m;
        (*head)->nb_segs++;
        (*head)->pkt_len += take;
    }
    *tail = m;
}

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
