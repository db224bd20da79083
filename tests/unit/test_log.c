/*
 * test_log.c - the log line formats from tables: text quoting and escapes,
 * JSON that always parses (control bytes, invalid UTF-8, lines cut at the
 * size cap), the verbosity gate, and whole lines under concurrent writers.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "server/log.h"

/*
 * stderr goes into a pipe while a test writes log lines, as in a container
 * whose runtime collects the output; a thread drains it.
 */
static int saved_stderr = -1;
static int pipe_fds[2] = {-1, -1};
static pthread_t reader;
static char *captured;
static size_t captured_len;

static void *reader_main(void *arg)
{
	char buf[4096];
	ssize_t n;

	(void)arg;
	while ((n = read(pipe_fds[0], buf, sizeof(buf))) > 0) {
		char *grown = realloc(captured, captured_len + (size_t)n + 1);
		if (grown == NULL)
			break;
		memcpy(grown + captured_len, buf, (size_t)n);
		captured_len += (size_t)n;
		grown[captured_len] = '\0';
		captured = grown;
	}
	return NULL;
}

static void capture_start(void)
{
	captured = calloc(1, 1);
	captured_len = 0;
	assert_non_null(captured);
	assert_int_equal(pipe(pipe_fds), 0);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_int_equal(dup2(pipe_fds[1], STDERR_FILENO), STDERR_FILENO);
	close(pipe_fds[1]);
	assert_int_equal(pthread_create(&reader, NULL, reader_main, NULL), 0);
}

/* Stop capturing; returns what was written (caller frees). */
static char *capture_end(void)
{
	char *text;

	/* The pipe's last writer goes: the reader sees the end. */
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	pthread_join(reader, NULL);
	close(pipe_fds[0]);
	text = captured;
	captured = NULL;
	return text;
}

/* "2026-11-28T21:00:00.123Z " and the rest of the line after it. */
static const char *after_timestamp(const char *line)
{
	regex_t re;
	regmatch_t m;

	assert_int_equal(
	    regcomp(&re,
		    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
		    "[0-9]{2}\\.[0-9]{3}Z ",
		    REG_EXTENDED),
	    0);
	assert_int_equal(regexec(&re, line, 1, &m, 0), 0);
	regfree(&re);
	return line + m.rm_eo;
}

static const char bad_utf8[] = {'a', (char)0xff, 'b', (char)0xc3, 0};
static const char good_utf8[] = "caf\xc3\xa9";

static const struct {
	const char *msg, *key, *value;
	const char *text; /* the line after the timestamp, without newline */
	const char *json_value; /* the field as JSON decodes it */
} text_cases[] = {
    {"present done", "fqdn", "_acme-challenge.example.org.",
     "INFO present done fqdn=_acme-challenge.example.org.",
     "_acme-challenge.example.org."},
    {"m", "k", "two words", "INFO m k=\"two words\"", "two words"},
    {"m", "k", "", "INFO m k=\"\"", ""},
    {"m", "k", NULL, "INFO m k=\"\"", ""},
    {"m", "k", "a=b", "INFO m k=\"a=b\"", "a=b"},
    {"m", "k", "say \"hi\"", "INFO m k=\"say \\\"hi\\\"\"", "say \"hi\""},
    {"m", "k", "back\\slash", "INFO m k=\"back\\\\slash\"", "back\\slash"},
    {"m", "k", "line\nforged=1", "INFO m k=\"line\\nforged=1\"",
     "line\nforged=1"},
    {"m", "k", "tab\tcr\r", "INFO m k=\"tab\\tcr\\r\"", "tab\tcr\r"},
    {"m", "k", "bell\x07", "INFO m k=\"bell\\x07\"", "bell\x07"},
    {"m", "k", bad_utf8, "INFO m k=\"a\\xffb\\xc3\"",
     "a\xef\xbf\xbd"
     "b\xef\xbf\xbd"},
    {"m", "k", good_utf8, "INFO m k=\"caf\xc3\xa9\"", good_utf8},
    {"m", "bad key=", "v", "INFO m bad_key_=v", NULL},
    {"two\nlines", "k", "v", "INFO two\\nlines k=v", "v"},
};

static void test_text_lines(void **state)
{
	(void)state;
	log_init(LOG_TEXT);
	for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]);
	     i++) {
		capture_start();
		log_info(text_cases[i].msg, text_cases[i].key,
			 text_cases[i].value);
		char *out = capture_end();
		size_t len = strlen(out);
		assert_true(len > 0);
		assert_ptr_equal(strchr(out, '\n'), out + len - 1);
		out[len - 1] = '\0';
		assert_string_equal(after_timestamp(out), text_cases[i].text);
		free(out);
	}
}

static void test_json_lines(void **state)
{
	(void)state;
	log_init(LOG_JSON);
	for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]);
	     i++) {
		if (text_cases[i].json_value == NULL)
			continue;
		capture_start();
		log_warn(text_cases[i].msg, text_cases[i].key,
			 text_cases[i].value);
		char *out = capture_end();
		json_error_t jerr;
		json_t *doc = json_loads(out, JSON_REJECT_DUPLICATES, &jerr);
		assert_non_null(doc);
		assert_string_equal(
		    json_string_value(json_object_get(doc, "level")), "warn");
		assert_true(json_is_real(json_object_get(doc, "ts")));
		assert_int_equal(json_integer_value(json_object_get(doc, "v")),
				 0);
		assert_string_equal(
		    json_string_value(json_object_get(doc, "msg")),
		    text_cases[i].msg);
		assert_string_equal(
		    json_string_value(json_object_get(doc, text_cases[i].key)),
		    text_cases[i].json_value);
		json_decref(doc);
		free(out);
	}
	log_init(LOG_TEXT);
}

static const struct {
	int verbosity, v;
	bool written;
} gate_cases[] = {
    {0, 1, false}, {0, 0, true},  {2, 2, true},
    {2, 3, false}, {10, 9, true}, {4, 5, false},
};

static void test_verbosity_gate(void **state)
{
	(void)state;
	log_init(LOG_JSON);
	for (size_t i = 0; i < sizeof(gate_cases) / sizeof(gate_cases[0]);
	     i++) {
		atomic_store(&log_verbosity, gate_cases[i].verbosity);
		capture_start();
		log_debug(gate_cases[i].v, "detail", "k", "v");
		log_error("always");
		char *out = capture_end();
		json_error_t jerr;
		json_t *doc = json_loads(out, JSON_DISABLE_EOF_CHECK, &jerr);
		assert_non_null(doc);
		if (gate_cases[i].written) {
			assert_string_equal(
			    json_string_value(json_object_get(doc, "level")),
			    "debug");
			assert_int_equal(
			    json_integer_value(json_object_get(doc, "v")),
			    gate_cases[i].v);
		} else {
			assert_string_equal(
			    json_string_value(json_object_get(doc, "msg")),
			    "always");
		}
		json_decref(doc);
		free(out);
	}
	atomic_store(&log_verbosity, 0);
	log_init(LOG_TEXT);
}

/* A line over the cap is cut, still one line, and JSON still parses. */
static void test_long_lines(void **state)
{
	static const struct {
		enum log_format format;
		size_t value_len;
		int nfields;
	} cases[] = {
	    {LOG_TEXT, 20000, 1}, {LOG_JSON, 20000, 1}, {LOG_JSON, 900, 20},
	    {LOG_TEXT, 900, 20},  {LOG_JSON, 3000, 4},
	};
	char *big = malloc(20001);

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(big, 'x', cases[i].value_len);
		big[cases[i].value_len] = '\0';
		/* A quote now and then: escapes must not be cut in half. */
		for (size_t j = 7; j < cases[i].value_len; j += 13)
			big[j] = '"';
		log_init(cases[i].format);
		capture_start();
		if (cases[i].nfields == 1)
			log_info("long", "k", big);
		else if (cases[i].nfields == 4)
			log_info("long", "a", big, "b", big, "c", big, "d",
				 big);
		else
			log_info("long", "f01", big, "f02", big, "f03", big,
				 "f04", big, "f05", big, "f06", big, "f07", big,
				 "f08", big, "f09", big, "f10", big, "f11", big,
				 "f12", big, "f13", big, "f14", big, "f15", big,
				 "f16", big, "f17", big, "f18", big, "f19", big,
				 "f20", big);
		char *out = capture_end();
		size_t len = strlen(out);
		assert_true(len <= PIPE_BUF);
		assert_ptr_equal(strchr(out, '\n'), out + len - 1);
		if (cases[i].format == LOG_JSON) {
			json_error_t jerr;
			json_t *doc = json_loads(out, 0, &jerr);
			assert_non_null(doc);
			assert_string_equal(
			    json_string_value(json_object_get(doc, "msg")),
			    "long");
			json_decref(doc);
		} else {
			assert_non_null(strstr(out, "..."));
		}
		free(out);
	}
	free(big);
	log_init(LOG_TEXT);
}

#define WRITERS 4
#define LINES	300

static void *writer(void *arg)
{
	char id[8], n[16], pad[200];

	snprintf(id, sizeof(id), "%d", (int)(intptr_t)arg);
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < LINES; i++) {
		snprintf(n, sizeof(n), "%d", i);
		log_info("line", "writer", id, "n", n, "pad", pad);
	}
	return NULL;
}

/* Concurrent writers: every line is whole (one write(2) each). */
static void test_concurrent_lines(void **state)
{
	pthread_t t[WRITERS];
	int seen[WRITERS] = {0};

	(void)state;
	log_init(LOG_JSON);
	capture_start();
	for (intptr_t i = 0; i < WRITERS; i++)
		pthread_create(&t[i], NULL, writer, (void *)i);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(t[i], NULL);
	char *out = capture_end();
	int lines = 0;
	for (char *line = out, *nl; (nl = strchr(line, '\n')) != NULL;
	     line = nl + 1) {
		json_error_t jerr;
		json_t *doc = json_loadb(line, (size_t)(nl - line), 0, &jerr);
		assert_non_null(doc);
		long w =
		    strtol(json_string_value(json_object_get(doc, "writer")),
			   NULL, 10);
		assert_true(w >= 0 && w < WRITERS);
		seen[w]++;
		lines++;
		json_decref(doc);
	}
	assert_int_equal(lines, WRITERS * LINES);
	for (int i = 0; i < WRITERS; i++)
		assert_int_equal(seen[i], LINES);
	free(out);
	log_init(LOG_TEXT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_lines),
	    cmocka_unit_test(test_json_lines),
	    cmocka_unit_test(test_verbosity_gate),
	    cmocka_unit_test(test_long_lines),
	    cmocka_unit_test(test_concurrent_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
