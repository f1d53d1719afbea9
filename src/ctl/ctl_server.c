#include "ctl_server.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl_proto.h"
#include "util/util.h"

/* epoll user data for the two fixed descriptors; client slots use their index */
#define TAG_LISTEN UINT64_MAX
#define TAG_SIGNAL (UINT64_MAX - 1)
#define TAG_TIMER  (UINT64_MAX - 2)

static int make_parent_dir(const char *path)
{
    char dir[sizeof((struct sockaddr_un *)0)->sun_path];
    char *slash;

    util_strlcpy(dir, path, sizeof dir);
    slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return errno;
    return 0;
}

bool ctl_socket_in_use(const char *path, char *err, size_t errlen)
{
    switch (util_socket_state(path)) {
    case UTIL_SOCKET_ABSENT:
    case UTIL_SOCKET_STALE:
        return false;
    case UTIL_SOCKET_LIVE:
        snprintf(err, errlen, "another hashi serves %s; stop it or use --ctl PATH", path);
        return true;
    case UTIL_SOCKET_NOT_SOCKET:
        break;
    }
    snprintf(err, errlen, "%s exists and is not a socket; remove it or use --ctl PATH", path);
    return true;
}

static int listen_on(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd, rc;

    if (util_strlcpy(addr.sun_path, path, sizeof addr.sun_path) < 0) {
        snprintf(err, errlen, "control socket path %s is too long", path);
        return -1;
    }
    if ((rc = make_parent_dir(path)) != 0) {
        snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(rc));
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (ctl_socket_in_use(path, err, errlen)) {
        close(fd);
        return -1;
    }
    unlink(path); /* a socket left behind by a process that died */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 16) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int ctl_server_open(struct ctl_server *s, const char *path, ctl_handler handler, void *ctx,
                    char *err, size_t errlen)
{
    struct epoll_event ev = {.events = EPOLLIN};
    const struct itimerspec second = {.it_interval = {1, 0}, .it_value = {1, 0}};
    sigset_t mask;

    memset(s, 0, sizeof *s);
    s->listen_fd = s->epoll_fd = s->signal_fd = s->timer_fd = -1;
    util_strlcpy(s->path, path, sizeof s->path);
    s->handler = handler;
    s->ctx = ctx;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        s->clients[i].fd = -1;
    s->listen_fd = listen_on(path, err, errlen);
    if (s->listen_fd < 0)
        return EADDRINUSE;

    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    s->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (s->signal_fd < 0 || s->epoll_fd < 0 || s->timer_fd < 0 ||
        timerfd_settime(s->timer_fd, 0, &second, NULL) < 0) {
        snprintf(err, errlen, "cannot set up the control loop: %s", strerror(errno));
        ctl_server_close(s);
        return EIO;
    }
    ev.data.u64 = TAG_LISTEN;
    epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &ev);
    ev.data.u64 = TAG_SIGNAL;
    epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->signal_fd, &ev);
    ev.data.u64 = TAG_TIMER;
    epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->timer_fd, &ev);
    return 0;
}

static void drop_client(struct ctl_server *s, struct ctl_client *c)
{
    epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->buf);
    c->fd = -1;
    c->buf = NULL;
    c->len = 0;
}

static void accept_client(struct ctl_server *s)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN};

    if (fd < 0)
        return;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
        struct ctl_client *c = &s->clients[i];
        if (c->fd < 0) {
            c->fd = fd;
            ev.data.u64 = (uint64_t)i;
            epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
            return;
        }
    }
    close(fd); /* too many clients at once: the client sees the connection close */
}

static json_t *answer(struct ctl_server *s, const char *line)
{
    json_error_t jerr;
    json_t *req = json_loads(line, 0, &jerr), *resp, *result;
    const char *command = NULL, *error = NULL;
    json_t *args = NULL;
    char msg[256];

    if (!req) {
        snprintf(msg, sizeof msg, "request is not JSON: %s", jerr.text);
        return ctl_response_error(msg);
    }
    if (json_unpack(req, "{s:s, s?o}", "command", &command, "args", &args) < 0 ||
        (args && !json_is_object(args))) {
        json_decref(req);
        return ctl_response_error("request needs \"command\" (a string) and optional \"args\" "
                                  "(an object)");
    }
    result = s->handler(s->ctx, command, args, &error);
    resp = error ? ctl_response_error(error) : ctl_response_ok(result);
    json_decref(req);
    return resp;
}

/* Replies go out whole while the client waits for them. A client that does not read its
 * replies for CTL_SEND_TIMEOUT_MS is cut off, so it cannot stall the control loop (and with
 * it, signal handling). */
static void reply(struct ctl_server *s, struct ctl_client *c, json_t *resp)
{
    char *line = ctl_encode(resp);
    size_t len = line ? strlen(line) : 0, off = 0;
    int waited_ms = 0;

    json_decref(resp);
    if (!line) {
        drop_client(s, c);
        return;
    }
    while (off < len) {
        ssize_t n = send(c->fd, line + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN && waited_ms < CTL_SEND_TIMEOUT_MS) {
            struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
            poll(&pfd, 1, 10);
            waited_ms += 10;
            continue;
        }
        if (n <= 0) {
            drop_client(s, c);
            break;
        }
        off += (size_t)n;
    }
    free(line);
}

static void serve_client(struct ctl_server *s, struct ctl_client *c)
{
    char chunk[4096];
    ssize_t n = recv(c->fd, chunk, sizeof chunk, 0);
    char *nl;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0 || c->len + (size_t)n > CTL_MAX_LINE) {
        drop_client(s, c);
        return;
    }
    char *grown = realloc(c->buf, c->len + (size_t)n + 1);
    if (!grown) {
        drop_client(s, c);
        return;
    }
    c->buf = grown;
    memcpy(c->buf + c->len, chunk, (size_t)n);
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    /* only the new bytes can hold a newline not seen before */
    char *line = c->buf, *from = c->buf + c->len - (size_t)n;
    while ((nl = memchr(from, '\n', (size_t)(c->buf + c->len - from))) != NULL) {
        *nl = '\0';
        reply(s, c, answer(s, line));
        if (c->fd < 0)
            return;
        line = from = nl + 1;
    }
    c->len -= (size_t)(line - c->buf);
    memmove(c->buf, line, c->len + 1);
}

int ctl_server_run(struct ctl_server *s)
{
    for (;;) {
        struct epoll_event events[8];
        int n = epoll_wait(s->epoll_fd, events, 8, -1);

        for (int i = 0; i < n; i++) {
            uint64_t tag = events[i].data.u64;
            if (tag == TAG_SIGNAL) {
                struct signalfd_siginfo info;
                if (read(s->signal_fd, &info, sizeof info) == sizeof info)
                    return (int)info.ssi_signo;
            } else if (tag == TAG_TIMER) {
                uint64_t expirations;
                if (read(s->timer_fd, &expirations, sizeof expirations) > 0 && s->tick)
                    s->tick(s->ctx);
            } else if (tag == TAG_LISTEN) {
                accept_client(s);
            } else if (s->clients[tag].fd >= 0) {
                serve_client(s, &s->clients[tag]);
            }
        }
        if (n < 0 && errno != EINTR) {
            LOG_ERR("control loop: %s", strerror(errno));
            return 0;
        }
    }
}

void ctl_server_close(struct ctl_server *s)
{
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        if (s->clients[i].fd >= 0)
            drop_client(s, &s->clients[i]);
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        unlink(s->path);
    }
    if (s->epoll_fd >= 0)
        close(s->epoll_fd);
    if (s->signal_fd >= 0)
        close(s->signal_fd);
    if (s->timer_fd >= 0)
        close(s->timer_fd);
    s->listen_fd = s->epoll_fd = s->signal_fd = s->timer_fd = -1;
}
