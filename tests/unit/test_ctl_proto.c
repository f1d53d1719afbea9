/*
 * Unit tests of the control protocol helpers (src/ctl/ctl_proto.c): hashictl's words to a
 * request, the response builders and the line encoding.
 *
 * Requests are compared as whole JSON values with json_equal, so an extra or missing member
 * fails the test, not only a wrong one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl/ctl_proto.h"

/* hashictl passes argv, whose strings are not const; compound literals stand in for it.
 * WORDS("a", "b") expands to the two arguments `2, (char *[]){"a", "b"}`. */
/* clang-format off */
#define N_WORDS(...) ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define WORDS(...) N_WORDS(__VA_ARGS__), (char *[]){__VA_ARGS__}
/* clang-format on */

/* Failing jumps out of the test, so the JSON is rendered and freed before the message. */
static void fail_with_json(json_t *json, const char *what)
{
    char text[1024];
    char *dump = json ? json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

    snprintf(text, sizeof text, "%s", dump ? dump : "(null)");
    free(dump);
    json_decref(json);
    fail_msg("%s: got %s", what, text);
}

static json_t *parse_json(const char *text)
{
    json_error_t error;
    json_t *json = json_loads(text, 0, &error);

    if (!json)
        fail_msg("bad JSON in the test itself: %s: %s", text, error.text);
    return json;
}

/* The words must give exactly the request `want` (JSON text). */
static void expect_request(int n, char *const *words, const char *want)
{
    char err[1024] = "";
    json_t *got = ctl_request_from_words(n, words, err, sizeof err);
    json_t *expected = parse_json(want);

    if (!got) {
        json_decref(expected);
        fail_msg("request %s was refused: %s", want, err);
    }
    if (!json_equal(got, expected)) {
        json_decref(expected);
        print_error("want %s\n", want);
        fail_with_json(got, "wrong request");
    }
    json_decref(got);
    json_decref(expected);
}

/* The words must be refused with a message holding `fragment`. */
static void expect_usage_error(int n, char *const *words, const char *fragment)
{
    char err[1024];
    json_t *got;

    memset(err, 0, sizeof err);
    got = ctl_request_from_words(n, words, err, sizeof err);
    if (got) {
        print_error("want an error with '%s'\n", fragment);
        fail_with_json(got, "words were accepted");
    }
    if (!strstr(err, fragment))
        fail_msg("error '%s' lacks '%s'", err, fragment);
}

static void test_port_add(void **state)
{
    (void)state;
    expect_request(WORDS("port", "add", "vm1", "type", "vhost-user", "path", "/run/vm1.sock",
                         "mode", "client", "mtu", "9000", "bridge", "br1"),
                   "{\"command\": \"port-add\", \"args\": {\"name\": \"vm1\", "
                   "\"type\": \"vhost-user\", \"path\": \"/run/vm1.sock\", \"mode\": \"client\", "
                   "\"mtu\": \"9000\", \"bridge\": \"br1\"}}");
    /* Only the name is checked here; the daemon judges the keys, with config.c's messages. */
    expect_request(WORDS("port", "add", "vm2"),
                   "{\"command\": \"port-add\", \"args\": {\"name\": \"vm2\"}}");
    expect_request(
        WORDS("port", "add", "vm3", "colour", "blue"),
        "{\"command\": \"port-add\", \"args\": {\"name\": \"vm3\", \"colour\": \"blue\"}}");
}

/* Values stay strings even when they look like numbers: the daemon parses them like the file. */
static void test_port_add_values_are_strings(void **state)
{
    char err[256];
    char *words[] = {"port", "add", "vm1", "mtu", "1500"};
    json_t *req = ctl_request_from_words(5, words, err, sizeof err);
    json_t *args;

    (void)state;
    assert_non_null(req);
    args = json_object_get(req, "args");
    assert_true(json_is_object(args));
    assert_true(json_is_string(json_object_get(args, "mtu")));
    assert_string_equal(json_string_value(json_object_get(args, "mtu")), "1500");
    assert_string_equal(json_string_value(json_object_get(req, "command")), "port-add");
    assert_int_equal(json_object_size(req), 2);
    json_decref(req);
}

static void test_simple_commands(void **state)
{
    (void)state;
    expect_request(WORDS("port", "del", "vm1"),
                   "{\"command\": \"port-del\", \"args\": {\"name\": \"vm1\"}}");
    expect_request(WORDS("port", "list"), "{\"command\": \"port-list\", \"args\": {}}");
    expect_request(WORDS("port", "set", "vm1", "rsc", "off"),
                   "{\"command\": \"port-set\", \"args\": {\"name\": \"vm1\", \"key\": \"rsc\", "
                   "\"value\": \"off\"}}");
    expect_request(WORDS("fdb", "show"), "{\"command\": \"fdb-show\", \"args\": {}}");
    expect_request(WORDS("stats"), "{\"command\": \"stats\", \"args\": {}}");
    expect_request(WORDS("stats", "clear"), "{\"command\": \"stats-clear\", \"args\": {}}");
    expect_request(WORDS("pmd-stats"), "{\"command\": \"pmd-stats\", \"args\": {}}");
    expect_request(WORDS("pmd-stats", "clear"), "{\"command\": \"pmd-stats-clear\", \"args\": {}}");
    expect_request(WORDS("worker", "list"), "{\"command\": \"worker-list\", \"args\": {}}");
    expect_request(WORDS("rxq", "rebalance"), "{\"command\": \"rxq-rebalance\", \"args\": {}}");
}

/* port set passes any key on: the daemon knows which ones a running port takes (rsc, queues,
 * steering) and answers for the others. */
static void test_port_set(void **state)
{
    (void)state;
    expect_request(WORDS("port", "set", "tap1", "queues", "4"),
                   "{\"command\": \"port-set\", \"args\": {\"name\": \"tap1\", "
                   "\"key\": \"queues\", \"value\": \"4\"}}");
    expect_request(WORDS("port", "set", "uplink", "steering", "mac"),
                   "{\"command\": \"port-set\", \"args\": {\"name\": \"uplink\", "
                   "\"key\": \"steering\", \"value\": \"mac\"}}");
    expect_request(WORDS("port", "set", "uplink", "steering", "rss"),
                   "{\"command\": \"port-set\", \"args\": {\"name\": \"uplink\", "
                   "\"key\": \"steering\", \"value\": \"rss\"}}");
    expect_request(WORDS("port", "set", "vm1", "mtu", "9000"),
                   "{\"command\": \"port-set\", \"args\": {\"name\": \"vm1\", "
                   "\"key\": \"mtu\", \"value\": \"9000\"}}");
}

/* Unlike port keys, the queue and the core go as JSON integers (json_equal tells 0 from "0"),
 * and `none` as core -1, which the daemon takes as unpin. */
static void test_rxq_pin(void **state)
{
    (void)state;
    expect_request(WORDS("rxq", "pin", "vm1", "0", "3"),
                   "{\"command\": \"rxq-pin\", \"args\": {\"port\": \"vm1\", \"queue\": 0, "
                   "\"core\": 3}}");
    expect_request(WORDS("rxq", "pin", "uplink", "7", "1023"),
                   "{\"command\": \"rxq-pin\", \"args\": {\"port\": \"uplink\", \"queue\": 7, "
                   "\"core\": 1023}}");
    expect_request(WORDS("rxq", "pin", "tap1", "1", "none"),
                   "{\"command\": \"rxq-pin\", \"args\": {\"port\": \"tap1\", \"queue\": 1, "
                   "\"core\": -1}}");
    /* a port named like the word for unpinning is still a port */
    expect_request(WORDS("rxq", "pin", "none", "0", "0"),
                   "{\"command\": \"rxq-pin\", \"args\": {\"port\": \"none\", \"queue\": 0, "
                   "\"core\": 0}}");
}

static void test_rxq_pin_usage_errors(void **state)
{
    (void)state;
    /* Too few or too many words: the command's own usage. */
    expect_usage_error(WORDS("rxq", "pin"), "usage: rxq pin PORT QUEUE CORE|none");
    expect_usage_error(WORDS("rxq", "pin", "vm1", "0"), "usage: rxq pin PORT QUEUE CORE|none");
    expect_usage_error(WORDS("rxq", "pin", "vm1", "0", "1", "2"),
                       "usage: rxq pin PORT QUEUE CORE|none");

    /* QUEUE: decimal digits, 0 to 7; what strtol would let through is refused too. */
    expect_usage_error(WORDS("rxq", "pin", "vm1", "x", "1"), "QUEUE 'x' is not a queue number");
    expect_usage_error(WORDS("rxq", "pin", "vm1", "", "1"), "QUEUE '' is not a queue number");
    expect_usage_error(WORDS("rxq", "pin", "vm1", "-1", "1"), "QUEUE '-1' is not a queue number");
    expect_usage_error(WORDS("rxq", "pin", "vm1", "+1", "1"), "QUEUE '+1' is not a queue number");
    expect_usage_error(WORDS("rxq", "pin", "vm1", " 1", "1"), "QUEUE ' 1' is not a queue number");
    expect_usage_error(WORDS("rxq", "pin", "vm1", "1x", "1"), "QUEUE '1x' is not a queue number");
    expect_usage_error(WORDS("rxq", "pin", "vm1", "8", "1"),
                       "QUEUE '8' is not a queue number (0 to 7)");
    expect_usage_error(WORDS("rxq", "pin", "vm1", "99999999999999999999", "1"),
                       "is not a queue number");
    expect_usage_error(WORDS("rxq", "pin", "vm1", "none", "1"),
                       "QUEUE 'none' is not a queue number");
    /* the message ends with the usage, so the user sees the order of the words */
    expect_usage_error(WORDS("rxq", "pin", "vm1", "x", "1"),
                       "; usage: rxq pin PORT QUEUE CORE|none");

    /* CORE: a CPU number 0 to 1023, or the word none (not -1: that is the protocol's). */
    expect_usage_error(WORDS("rxq", "pin", "vm1", "0", "x"), "CORE 'x' is not a CPU number");
    expect_usage_error(WORDS("rxq", "pin", "vm1", "0", "-1"), "CORE '-1' is not a CPU number");
    expect_usage_error(WORDS("rxq", "pin", "vm1", "0", "1024"),
                       "CORE '1024' is not a CPU number (0 to 1023) or none (unpin)");
    expect_usage_error(WORDS("rxq", "pin", "vm1", "0", "NONE"), "CORE 'NONE' is not a CPU number");
    expect_usage_error(WORDS("rxq", "pin", "vm1", "0", "2.5"), "CORE '2.5' is not a CPU number");
    expect_usage_error(WORDS("rxq", "pin", "vm1", "0", ""), "CORE '' is not a CPU number");
}

static void test_usage_errors(void **state)
{
    char err[1024];

    (void)state;
    expect_usage_error(WORDS("frobnicate"), "unknown command 'frobnicate'");
    expect_usage_error(WORDS("frobnicate", "now"), "unknown command 'frobnicate now'");
    /* The message lists what is available, so the user need not look it up. */
    expect_usage_error(WORDS("frobnicate"), "port del NAME");
    expect_usage_error(WORDS("frobnicate"), "pmd-stats [clear]");
    expect_usage_error(WORDS("frobnicate"), "port add NAME type vhost-user path PATH");
    expect_usage_error(WORDS("frobnicate"), "port set NAME rsc on|off");
    expect_usage_error(WORDS("frobnicate"), "port set NAME queues N");
    expect_usage_error(WORDS("frobnicate"), "port set NAME steering rss|mac");
    expect_usage_error(WORDS("frobnicate"), "worker list");
    expect_usage_error(WORDS("frobnicate"), "rxq pin PORT QUEUE CORE|none");
    expect_usage_error(WORDS("frobnicate"), "rxq rebalance");
    expect_usage_error(WORDS("frobnicate"), "[steering rss|mac]");

    /* port add: a name, then key/value pairs. */
    expect_usage_error(WORDS("port", "add"), "usage: port add NAME");
    expect_usage_error(WORDS("port", "add", "vm1", "type"), "usage: port add NAME");
    expect_usage_error(WORDS("port", "add", "vm1", "type", "vhost-user", "path"),
                       "usage: port add NAME");
    expect_usage_error(WORDS("port", "add", "vm1", "mtu", "1500", "mtu", "9000"),
                       "'mtu' is given twice");
    expect_usage_error(WORDS("port", "add", "vm1", "name", "vm2"), "'name' is given twice");

    /* Missing or extra words. */
    expect_usage_error(WORDS("port", "del"), "unknown command 'port del'");
    expect_usage_error(WORDS("port", "del", "vm1", "vm2"), "unknown command 'port del'");
    expect_usage_error(WORDS("port", "list", "all"), "unknown command 'port list'");
    expect_usage_error(WORDS("port"), "unknown command 'port'");
    expect_usage_error(WORDS("port", "set", "vm1", "rsc"), "unknown command 'port set'");
    expect_usage_error(WORDS("fdb"), "unknown command 'fdb'");
    expect_usage_error(WORDS("fdb", "show", "br0"), "unknown command 'fdb show'");
    expect_usage_error(WORDS("stats", "clear", "now"), "unknown command 'stats clear'");
    expect_usage_error(WORDS("stats", "reset"), "unknown command 'stats reset'");
    expect_usage_error(WORDS("pmd-stats", "clear", "x"), "unknown command 'pmd-stats clear'");
    expect_usage_error(WORDS("worker"), "unknown command 'worker'");
    expect_usage_error(WORDS("worker", "show"), "unknown command 'worker show'");
    expect_usage_error(WORDS("worker", "list", "2"), "unknown command 'worker list'");
    expect_usage_error(WORDS("rxq"), "unknown command 'rxq'");
    expect_usage_error(WORDS("rxq", "unpin", "vm1", "0"), "unknown command 'rxq unpin'");
    expect_usage_error(WORDS("rxq", "rebalance", "now"), "unknown command 'rxq rebalance'");

    /* No words at all: hashictl uses this to print the command list. */
    assert_null(ctl_request_from_words(0, NULL, err, sizeof err));
    assert_non_null(strstr(err, "unknown command ''"));
    assert_non_null(strstr(err, "fdb show"));
}

/* hashictl prints the command list from a 1024-byte buffer (its usage() and the message for
 * an unknown command): the whole list must fit, or --help loses its last commands. */
static void test_command_list_fits(void **state)
{
    char err[4096];

    (void)state;
    assert_null(ctl_request_from_words(0, NULL, err, sizeof err));
    if (strlen(err) >= 1024)
        fail_msg("the command list has %zu bytes; hashictl has room for 1023", strlen(err));
    /* the last command is there, so nothing was cut */
    assert_non_null(strstr(err, "pmd-stats [clear]"));
}

static void test_usage_error_truncated(void **state)
{
    char err[16];
    char *words[] = {"frobnicate"};

    (void)state;
    memset(err, 'x', sizeof err);
    assert_null(ctl_request_from_words(1, words, err, 10));
    /* Cut at the buffer size given, terminated, and nothing written past it. */
    assert_string_equal(err, "unknown c");
    assert_memory_equal(err + 10, "xxxxxx", 6);
}

/* JSON strings must be UTF-8. A word that is not (argv can hold any bytes) must not turn into a
 * request that silently lacks the value. */
static void test_words_not_utf8(void **state)
{
    char err[1024];
    json_t *req;

    (void)state;
    err[0] = '\0';
    req = ctl_request_from_words(WORDS("port", "del", "vm\xff"), err, sizeof err);
    if (req)
        fail_with_json(req, "'port del vm\\xff' must give NULL with a message");
    assert_true(err[0] != '\0');

    err[0] = '\0';
    req = ctl_request_from_words(WORDS("port", "add", "vm1", "path", "/run/\xfe.sock"), err,
                                 sizeof err);
    if (req)
        fail_with_json(req, "a non-UTF-8 path must give NULL with a message");
    assert_true(err[0] != '\0');
}

static void test_response_ok(void **state)
{
    json_t *resp, *want;

    (void)state;
    resp = ctl_response_ok(json_pack("{s:i}", "ports", 3));
    want = parse_json("{\"ok\": true, \"result\": {\"ports\": 3}}");
    assert_true(json_equal(resp, want));
    json_decref(resp);
    json_decref(want);

    /* No result is a null result, so clients can always read "result". */
    resp = ctl_response_ok(NULL);
    want = parse_json("{\"ok\": true, \"result\": null}");
    assert_true(json_equal(resp, want));
    assert_true(json_is_true(json_object_get(resp, "ok")));
    json_decref(resp);
    json_decref(want);
}

static void test_response_steals_result(void **state)
{
    json_t *result = json_array();
    json_t *resp;

    (void)state;
    json_incref(result); /* our own reference, to watch the count */
    assert_int_equal(result->refcount, 2);
    resp = ctl_response_ok(result);
    /* The response holds the reference it was given; no extra one was taken. */
    assert_int_equal(result->refcount, 2);
    assert_ptr_equal(json_object_get(resp, "result"), result);
    json_decref(resp);
    assert_int_equal(result->refcount, 1);
    json_decref(result);
}

static void test_response_error(void **state)
{
    json_t *resp, *want;

    (void)state;
    resp = ctl_response_error("port 'vm1' does not exist");
    want = parse_json("{\"ok\": false, \"error\": \"port 'vm1' does not exist\"}");
    assert_true(json_equal(resp, want));
    assert_true(json_is_false(json_object_get(resp, "ok")));
    assert_null(json_object_get(resp, "result"));
    json_decref(resp);
    json_decref(want);
}

/* One line, '\n'-terminated, no other newline, and the same message after decoding. */
static void expect_line_round_trip(const json_t *message)
{
    char *line = ctl_encode(message);
    size_t len;
    json_error_t error;
    json_t *back;

    assert_non_null(line);
    len = strlen(line);
    assert_true(len >= 2);
    assert_int_equal(line[len - 1], '\n');
    assert_ptr_equal(strchr(line, '\n'), line + len - 1);
    assert_null(strchr(line, '\r'));
    back = json_loads(line, 0, &error);
    if (!back)
        fail_msg("'%s' does not decode: %s", line, error.text);
    assert_true(json_equal(back, message));
    json_decref(back);
    free(line);
}

static void test_encode(void **state)
{
    char err[1024];
    json_t *msg;
    char *line;

    (void)state;
    msg = ctl_request_from_words(
        WORDS("port", "add", "vm1", "type", "vhost-user", "path", "/run/vm1.sock"), err,
        sizeof err);
    assert_non_null(msg);
    expect_line_round_trip(msg);
    /* Compact, and in the documented order: command first. */
    line = ctl_encode(msg);
    assert_string_equal(line, "{\"command\":\"port-add\",\"args\":{\"name\":\"vm1\","
                              "\"type\":\"vhost-user\",\"path\":\"/run/vm1.sock\"}}\n");
    free(line);
    json_decref(msg);

    /* Newlines inside strings are escaped, or the line protocol would break. */
    msg = ctl_response_error("first line\nsecond line\r\n");
    expect_line_round_trip(msg);
    line = ctl_encode(msg);
    assert_non_null(strstr(line, "first line\\nsecond line\\r\\n"));
    free(line);
    json_decref(msg);

    msg = ctl_response_ok(
        json_pack("{s:[i,i], s:s, s:n}", "ports", 1, 2, "name", "h\xc3\xa9", "none"));
    assert_non_null(msg);
    expect_line_round_trip(msg);
    json_decref(msg);

    msg = ctl_response_ok(NULL);
    line = ctl_encode(msg);
    assert_string_equal(line, "{\"ok\":true,\"result\":null}\n");
    free(line);
    json_decref(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_add),
        cmocka_unit_test(test_port_add_values_are_strings),
        cmocka_unit_test(test_simple_commands),
        cmocka_unit_test(test_port_set),
        cmocka_unit_test(test_rxq_pin),
        cmocka_unit_test(test_rxq_pin_usage_errors),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_command_list_fits),
        cmocka_unit_test(test_usage_error_truncated),
        cmocka_unit_test(test_words_not_utf8),
        cmocka_unit_test(test_response_ok),
        cmocka_unit_test(test_response_steals_result),
        cmocka_unit_test(test_response_error),
        cmocka_unit_test(test_encode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
