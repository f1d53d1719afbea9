/*
 * What each control command does to the running hashi, and the JSON it answers with. The
 * names and fields are an interface: scripts read them (docs/hashictl.md lists them).
 */
#ifndef HASHI_CTL_COMMANDS_H
#define HASHI_CTL_COMMANDS_H

#include <jansson.h>

struct hashi;

/* A ctl_handler (ctl_server.h) whose ctx is a struct hashi. */
json_t *ctl_commands_handle(void *hashi, const char *command, json_t *args, const char **error);

/* The control loop's once-a-second chores (ctl_server.tick); ctx is a struct hashi. */
void ctl_commands_tick(void *hashi);

#endif
