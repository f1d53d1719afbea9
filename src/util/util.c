#include "util.h"

#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

void util_log(const char *level, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "hashi: %s: ", level);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

enum util_socket_state util_socket_state(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, rc;

    if (lstat(path, &st) < 0)
        return UTIL_SOCKET_ABSENT;
    if (!S_ISSOCK(st.st_mode))
        return UTIL_SOCKET_NOT_SOCKET;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || util_strlcpy(addr.sun_path, path, sizeof addr.sun_path) < 0) {
        if (fd >= 0)
            close(fd);
        return UTIL_SOCKET_LIVE; /* cannot tell: assume someone uses it */
    }
    rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    close(fd);
    return rc == 0 ? UTIL_SOCKET_LIVE : UTIL_SOCKET_STALE;
}

int util_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);

    if (size == 0)
        return -1;
    if (len >= size) {
        memcpy(dst, src, size - 1);
        dst[size - 1] = '\0';
        return -1;
    }
    memcpy(dst, src, len + 1);
    return 0;
}
