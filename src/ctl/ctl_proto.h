/*
 * The control protocol between hashictl and hashi: one JSON object per line over a unix
 * stream socket, one response line per request.
 *
 *   request:  {"command": "port-add", "args": {"name": "vm1", "type": "vhost-user", ...}}
 *   response: {"ok": true, "result": ...}   or   {"ok": false, "error": "what went wrong"}
 *
 * Commands: port-add, port-del, port-set, port-list, fdb-show, stats, stats-clear,
 * worker-list, pmd-stats (the same result as worker-list), pmd-stats-clear, rxq-pin,
 * rxq-rebalance (docs/hashictl.md describes their arguments and results).
 */
#ifndef HASHI_CTL_PROTO_H
#define HASHI_CTL_PROTO_H

#include <stddef.h>

#include <jansson.h>

#define CTL_MAX_LINE (16 << 20) /* bytes of one request or response line */

/* Turns hashictl's words (after the global options) into a request, e.g.
 * {"port", "del", "vm1"} -> {"command": "port-del", "args": {"name": "vm1"}}.
 * Returns a new reference, or NULL with a usage message in err. */
json_t *ctl_request_from_words(int n, char *const *words, char *err, size_t errlen);

/* Builds responses. Both steal `result`. */
json_t *ctl_response_ok(json_t *result);
json_t *ctl_response_error(const char *message);

/* Encodes one message as a compact line ending in '\n'; free() the result. */
char *ctl_encode(const json_t *message);

#endif
