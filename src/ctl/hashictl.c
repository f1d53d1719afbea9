/*
 * hashictl: the command line of a running hashi. Turns its words into one control request,
 * prints the answer as a table (or as JSON with --json) and exits 0, or prints the daemon's
 * error and exits 1. Exit 2: bad usage; 3: no daemon on the socket.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/config.h"
#include "ctl/ctl_proto.h"
#include "ctl/ctl_render.h"
#include "util/util.h"

static void usage(FILE *out)
{
    char err[1024];

    ctl_request_from_words(0, NULL, err, sizeof err);
    fprintf(out, "usage: hashictl [--ctl SOCK] [--json] COMMAND\n%s\n", strchr(err, '\n') + 1);
}

static int connect_to(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || util_strlcpy(addr.sun_path, path, sizeof addr.sun_path) < 0 ||
        connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fprintf(stderr,
                "hashictl: cannot reach hashi at %s: %s (is hashi running? --ctl "
                "names another socket)\n",
                path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Sends one request line and reads one response line. */
static json_t *exchange(int fd, const json_t *req)
{
    char *line = ctl_encode(req);
    size_t cap = 4096, have = 0;
    char *buf = malloc(cap);
    json_t *resp = NULL;
    json_error_t jerr;

    if (!line || !buf || send(fd, line, strlen(line), MSG_NOSIGNAL) != (ssize_t)strlen(line))
        goto out;
    for (;;) {
        ssize_t n;
        if (have + 1 == cap) {
            if (cap >= CTL_MAX_LINE)
                goto out;
            char *grown = realloc(buf, cap * 2);
            if (!grown)
                goto out;
            buf = grown;
            cap *= 2;
        }
        n = recv(fd, buf + have, cap - have - 1, 0);
        if (n <= 0)
            goto out;
        have += (size_t)n;
        if (memchr(buf + have - (size_t)n, '\n', (size_t)n))
            break;
    }
    buf[have] = '\0';
    resp = json_loads(buf, 0, &jerr);
out:
    free(line);
    free(buf);
    return resp;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"ctl", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *ctl = CONFIG_CTL_DEFAULT;
    bool as_json = false;
    char err[1024];
    json_t *req, *resp;
    int c, fd, status;

    /* options may come before or after the command words (GNU getopt permutes) */
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            ctl = optarg;
            break;
        case 'j':
            as_json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    req = ctl_request_from_words(argc - optind, argv + optind, err, sizeof err);
    if (!req) {
        fprintf(stderr, "hashictl: %s\n", err);
        return 2;
    }
    if ((fd = connect_to(ctl)) < 0) {
        json_decref(req);
        return 3;
    }
    resp = exchange(fd, req);
    close(fd);
    if (!resp) {
        fprintf(stderr, "hashictl: no valid answer from hashi at %s\n", ctl);
        json_decref(req);
        return 3;
    }
    if (json_is_true(json_object_get(resp, "ok"))) {
        const json_t *result = json_object_get(resp, "result");
        if (as_json) {
            json_dumpf(result, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
            fputc('\n', stdout);
        } else {
            ctl_render(stdout, json_string_value(json_object_get(req, "command")), result);
        }
        status = 0;
    } else {
        fprintf(stderr, "hashictl: %s\n", json_string_value(json_object_get(resp, "error")));
        status = 1;
    }
    json_decref(resp);
    json_decref(req);
    return status;
}
