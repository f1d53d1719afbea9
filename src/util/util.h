/* Small helpers shared by every module: container_of, array sizes, logging. */
#ifndef HASHI_UTIL_H
#define HASHI_UTIL_H

#include <stddef.h>
#include <stdio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* From a pointer to a member back to the structure that embeds it. */
#ifndef container_of /* DPDK headers define the same macro */
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#endif

/* Logging goes to stderr with a level prefix; the daemon runs under systemd or a test harness,
 * both of which capture stderr. Never called on the per-packet path. */
#define LOG_ERR(...)  util_log("error", __VA_ARGS__)
#define LOG_WARN(...) util_log("warning", __VA_ARGS__)
#define LOG_INFO(...) util_log("info", __VA_ARGS__)

void util_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What a unix socket path holds. */
enum util_socket_state {
    UTIL_SOCKET_ABSENT,     /* nothing */
    UTIL_SOCKET_STALE,      /* a socket nobody answers on: left by a process that died */
    UTIL_SOCKET_LIVE,       /* a socket some process serves */
    UTIL_SOCKET_NOT_SOCKET, /* some other kind of file */
};

/* Looks at path (connecting to it if it is a socket) without changing anything. */
enum util_socket_state util_socket_state(const char *path);

/* Copies src into dst (size bytes) and always terminates; returns -1 when src did not fit. */
int util_strlcpy(char *dst, const char *src, size_t size);

#endif
