/*
 * log.c - one line per event on stderr, text or JSON (see log.h).
 *
 * Each line is built in a buffer of its own and written with a single
 * write(2), so lines from concurrent threads never interleave: a pipe (a
 * container runtime's) keeps writes of up to PIPE_BUF bytes whole, and
 * lines are capped at that size.  Values are escaped so that a value can never
 * forge a field or a line: control characters, quotes and backslashes are
 * written as escapes, and bytes that are not valid UTF-8 are written as \xNN
 * (text) or U+FFFD (JSON).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/log.h"

/* Longest line written (POSIX PIPE_BUF); a longer one is cut and marked. */
#define LOG_LINE_MAX 4096

atomic_int log_verbosity = 0;
static atomic_int log_fmt = LOG_TEXT;

/* A line being built: a fixed buffer that notes when it overflowed. */
struct line {
	char buf[LOG_LINE_MAX];
	size_t len;
	size_t mark;	   /* end of the last complete field */
	bool in_value;	   /* inside a quoted value now */
	bool cut;	   /* it overflowed: nothing more is added */
	bool cut_in_value; /* ... while inside a quoted value */
};

static const char *const level_text[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const level_json[] = {"error", "warn", "info", "debug"};
_Static_assert(sizeof(level_text) / sizeof(level_text[0]) == LOG_DEBUG + 1 &&
		   sizeof(level_json) / sizeof(level_json[0]) == LOG_DEBUG + 1,
	       "every log level needs a text");

/* Reserve room for the cut marker and the newline at the end. */
#define LINE_ROOM (LOG_LINE_MAX - 16)

static void overflow(struct line *l)
{
	l->cut = true;
	l->cut_in_value = l->in_value;
}

/* Add @n bytes or, when they do not all fit, none (escapes stay whole). */
static void put(struct line *l, const char *s, size_t n)
{
	if (l->cut)
		return;
	if (n > LINE_ROOM - l->len) {
		overflow(l);
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/* Add a run of plain ASCII, as much of it as fits. */
static void put_run(struct line *l, const char *s, size_t n)
{
	if (l->cut)
		return;
	if (n > LINE_ROOM - l->len) {
		n = LINE_ROOM - l->len;
		overflow(l);
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void putf(struct line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void putf(struct line *l, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(l, tmp,
		    (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/*
 * Length of the valid UTF-8 sequence at @s (at most @n bytes), or 0 when
 * the bytes there are not one (RFC 3629 section 4: no overlongs, no
 * surrogates, nothing above U+10FFFF).
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* A text value needs quotes when it is empty or holds a space, '=', '"'. */
static bool text_needs_quotes(const char *v)
{
	if (*v == '\0')
		return true;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		    *p >= 0x7f)
			return true;
	return false;
}

/* The two-character escape of @c, the same in text and JSON, or NULL. */
static const char *escape_short(unsigned char c)
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	default:
		return NULL;
	}
}

/* Write @v escaped for a quoted text value or a JSON string body. */
static void put_escaped(struct line *l, const char *v, bool json)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n = strlen(v);

	while (n > 0) {
		size_t run = 0;

		/* Copy the longest run that needs no escape in one go. */
		while (run < n && p[run] >= 0x20 && p[run] < 0x7f &&
		       p[run] != '"' && p[run] != '\\')
			run++;
		put_run(l, (const char *)p, run);
		p += run;
		n -= run;
		if (n == 0)
			break;

		size_t u = p[0] >= 0x80 ? utf8_len(p, n) : 0;
		if (u > 0) {
			put(l, (const char *)p, u);
			p += u;
			n -= u;
			continue;
		}
		const char *esc = escape_short(p[0]);
		if (esc != NULL)
			puts_(l, esc);
		else if (p[0] >= 0x80 && json)
			puts_(l, "\\ufffd");
		else if (json)
			putf(l, "\\u%04x", p[0]);
		else
			putf(l, "\\x%02x", p[0]);
		p++;
		n--;
	}
}

/* Keys come from code, but keep them safe anyway: [A-Za-z0-9_.-] only. */
static void put_key(struct line *l, const char *k)
{
	if (*k == '\0')
		k = "_";
	for (; *k; k++) {
		char c = *k;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '.' ||
			  c == '-';
		put(l, ok ? k : "_", 1);
	}
}

static void put_text_value(struct line *l, const char *v)
{
	if (!text_needs_quotes(v)) {
		put_run(l, v, strlen(v));
		return;
	}
	puts_(l, "\"");
	l->in_value = true;
	put_escaped(l, v, false);
	l->in_value = false;
	puts_(l, "\"");
}

static void put_json_string(struct line *l, const char *v)
{
	puts_(l, "\"");
	l->in_value = true;
	put_escaped(l, v, true);
	l->in_value = false;
	puts_(l, "\"");
}

void log_init(enum log_format format)
{
	atomic_store(&log_fmt, format == LOG_JSON ? LOG_JSON : LOG_TEXT);
}

/* Write the whole line, retrying on a short write or EINTR. */
static void line_write(const struct line *l)
{
	size_t off = 0;

	while (off < l->len) {
		ssize_t n = write(STDERR_FILENO, l->buf + off, l->len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		off += (size_t)n;
	}
}

/* The line's start: time, level and message. */
static void line_head(struct line *l, bool json, enum log_level level, int v,
		      const char *msg)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (json) {
		/* Kubernetes' JSON logs: ts is seconds since the epoch. */
		putf(l, "{\"ts\":%lld.%03ld,\"level\":\"%s\",\"v\":%d,\"msg\":",
		     (long long)ts.tv_sec, ts.tv_nsec / 1000000,
		     level_json[level], v);
		put_json_string(l, msg);
		l->mark = l->len;
	} else {
		gmtime_r(&ts.tv_sec, &tm);
		putf(l, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
		     level_text[level]);
		/* The message stays readable: escaped, never quoted. */
		put_escaped(l, msg, false);
	}
}

/* One key=value field (text) or "key":"value" member (JSON). */
static void line_field(struct line *l, bool json, const char *key,
		       const char *val)
{
	if (json) {
		puts_(l, ",\"");
		put_key(l, key);
		puts_(l, "\":");
		put_json_string(l, val);
	} else {
		puts_(l, " ");
		put_key(l, key);
		puts_(l, "=");
		put_text_value(l, val);
	}
	if (!l->cut)
		l->mark = l->len;
}

/* The line's end, in the room LINE_ROOM kept for it. */
static void line_end(struct line *l, bool json)
{
	if (l->cut) {
		/*
		 * Close what was open so the line still parses: end a cut
		 * value with "...", or drop a field cut in its key.
		 */
		const char *end = json ? "...\"}" : "...\"";

		if (!l->cut_in_value && json) {
			l->len = l->mark;
			end = "}";
		} else if (!l->cut_in_value) {
			end = " ...";
		}
		memcpy(l->buf + l->len, end, strlen(end));
		l->len += strlen(end);
	} else if (json) {
		l->buf[l->len++] = '}';
	}
	l->buf[l->len++] = '\n';
}

void log_emit(enum log_level level, int v, const char *msg, ...)
{
	struct line l = {.len = 0};
	bool json =
	    atomic_load_explicit(&log_fmt, memory_order_relaxed) == LOG_JSON;
	va_list ap;

	if ((unsigned)level > LOG_DEBUG)
		level = LOG_DEBUG;
	if (level != LOG_DEBUG)
		v = 0;
	else if (v > atomic_load_explicit(&log_verbosity, memory_order_relaxed))
		return;
	if (msg == NULL)
		msg = "";

	line_head(&l, json, level, v, msg);
	va_start(ap, msg);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (key == NULL)
			break;
		const char *val = va_arg(ap, const char *);
		line_field(&l, json, key, val != NULL ? val : "");
	}
	va_end(ap);
	line_end(&l, json);
	line_write(&l);
}
