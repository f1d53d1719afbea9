/*
 * The control socket: a unix stream socket served by a small epoll loop on the main thread,
 * off the data plane. Each line a client sends is one request; the handler's answer goes back
 * as one line. A malformed request gets an error reply; the loop keeps running.
 *
 * The loop also watches SIGINT and SIGTERM (through a signalfd) and returns when one arrives,
 * and calls `tick` (if set) once a second for the control plane's periodic chores.
 */
#ifndef HASHI_CTL_SERVER_H
#define HASHI_CTL_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/un.h>

#include <jansson.h>

#define CTL_MAX_CLIENTS     16
#define CTL_SEND_TIMEOUT_MS 1000 /* a client not reading its reply for this long is dropped */

/* Answers one request. Returns a new result (NULL is "null"), or sets *error to a message
 * (a static or caller-owned buffer that stays valid until the next call). */
typedef json_t *(*ctl_handler)(void *ctx, const char *command, json_t *args, const char **error);

struct ctl_client {
    int fd;
    size_t len;
    char *buf;
};

struct ctl_server {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int listen_fd, epoll_fd, signal_fd, timer_fd;
    ctl_handler handler;
    void (*tick)(void *ctx); /* may be NULL */
    void *ctx;
    struct ctl_client clients[CTL_MAX_CLIENTS];
};

/* Creates the socket at path (and its directory, if missing), refusing if another process
 * serves it, and a signalfd for SIGINT/SIGTERM. The caller blocks those two signals in every
 * thread beforehand (before starting any), or they would not reach the signalfd. Returns 0,
 * or a positive errno with a message. */
int ctl_server_open(struct ctl_server *s, const char *path, ctl_handler handler, void *ctx,
                    char *err, size_t errlen);

/* True (with a message) when path is taken: a live control socket, or a file that is not a
 * socket. A socket nobody answers on is a leftover and does not count. */
bool ctl_socket_in_use(const char *path, char *err, size_t errlen);

/* Serves requests until SIGINT or SIGTERM; returns the signal number. */
int ctl_server_run(struct ctl_server *s);

/* Closes every connection and removes the socket file. */
void ctl_server_close(struct ctl_server *s);

#endif
