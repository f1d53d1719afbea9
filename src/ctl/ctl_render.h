/* Human-readable tables of control results, as hashictl prints them without --json. */
#ifndef HASHI_CTL_RENDER_H
#define HASHI_CTL_RENDER_H

#include <stdio.h>

#include <jansson.h>

/* Prints `result` of `command` (a protocol command name, e.g. "stats") as a table. Commands
 * without a result print "ok". */
void ctl_render(FILE *out, const char *command, const json_t *result);

#endif
