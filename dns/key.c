/*
 * key.c - TSIG keys (RFC 8945) from every format people have: BIND key
 * blocks (tsig-keygen, ddns-confgen, named.conf), K*.private files of the
 * old dnssec-keygen, Knot's "[alg:]name:secret" and YAML key list (keymgr),
 * and a bare base64 secret.  A bare secret is read as nsupdate -y and BIND
 * read it: valid base64 is the key, whatever it decodes to.  Common
 * Kubernetes mistakes come second: raw key bytes stored where base64 text
 * was expected (a Secret's data: field is decoded by the API server) and a
 * whole key file base64-encoded are used, with a warning, where the first
 * reading is impossible; a secret base64-encoded twice, or the base64 of a
 * key file, where both readings are possible becomes the alternate secret
 * that the update path tries after the server rejected the first.
 *
 * Secrets never reach an error text: messages name the source, the line and
 * the problem, and quote only names and algorithm words (and not even those
 * when they look like key material).  Every buffer that held key material
 * is wiped before it is freed.
 *
 * One file, longer than the rest of the tree, because it is one parser:
 * the formats are told apart by trying them in turn on the same text, and
 * every reader shares the same parts (the line and token readers, the
 * base64 decoder, the list of candidate keys, the rules for what a
 * message may quote and which line it names).  Split by format, each
 * piece would need the internals of all the others.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libknot/libknot.h>

#include "dns/dns.h"
#include "util/file.h"

#define KEY_INPUT_MAX (64 * 1024) /* larger is not a key file */
#define INNER_MIN     16	  /* shortest key accepted as "base64 twice" */
#define QUOTE_MAX     40	  /* longest word quoted in a message */

/* The formats, for messages that tell how to fix a missing field. */
enum key_fmt {
	FMT_BIND = 0,
	FMT_KFILE,
	FMT_KNOT,
	FMT_YAML,
	FMT_BARE,
	FMT_RAW,
};

/* A piece of the caller's text and the line it starts on. */
struct span {
	const char *s; /* NULL: absent */
	size_t len;
	unsigned line;
};

/* One key found in the text; pointers into the caller's text. */
struct cand {
	struct span name; /* s NULL: the format does not name the key */
	struct span alg;  /* s NULL: not given by the text */
	struct span sec;  /* s NULL: no secret */
	int alg_default;  /* algorithm the format implies when absent */
	unsigned line;	  /* where the key starts */
};

struct cands {
	struct cand *v;
	size_t n, cap;
};

/* Everything one parse needs. */
struct kctx {
	const char *text;
	size_t len;
	const char *source;
	const char *name; /* given by the caller, normalised, or NULL */
	char namebuf[DNS_NAME_LEN];
	int alg; /* given by the caller, DNS_ALG_NONE when not */
	char fname[DNS_NAME_LEN]; /* key name from a K*.private file name */
	char *err;
	size_t errlen;
	bool err_names_setting; /* the error names the setting to change */
};

/* ------------------------------------------------------------ helpers */

static inline char ascii_lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

static inline bool is_space(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' ||
	       ch == '\f' || ch == '\v';
}

static bool eq_nocase(const char *s, size_t len, const char *word)
{
	size_t wlen = strlen(word);

	return len == wlen && strncasecmp(s, word, len) == 0;
}

static bool prefix_nocase(const char *s, size_t len, const char *word)
{
	size_t wlen = strlen(word);

	return len >= wlen && strncasecmp(s, word, wlen) == 0;
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && is_space((unsigned char)(*s)[0])) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_space((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* 1-based line of @p in the text. */
static unsigned line_at(const struct kctx *c, const char *p)
{
	unsigned line = 1;

	for (const char *q = c->text; q < p; q++)
		if (*q == '\n')
			line++;
	return line;
}

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/*
 * Whether @s could be key material: a long run of base64 characters with
 * upper case, lower case and digits mixed, or with '+', '/' or a final '='.
 * Such words are never quoted in messages, even where a name was expected
 * (fields swapped by mistake).
 */
static bool looks_secret(const char *s, size_t len)
{
	bool upper = false, lower = false, digit = false, special = false;

	if (len < 16)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '=' && i + 2 >= len)
			special = true;
		else if (b64_value(ch) < 0)
			return false;
		upper |= ch >= 'A' && ch <= 'Z';
		lower |= ch >= 'a' && ch <= 'z';
		digit |= ch >= '0' && ch <= '9';
		special |= ch == '+' || ch == '/';
	}
	return special || (upper && lower && digit);
}

/* @s as it can appear in a message: 'word', or a description of it. */
static const char *quote(char *buf, size_t size, const char *s, size_t len)
{
	size_t o = 0;

	if (len == 0) {
		snprintf(buf, size, "(empty)");
		return buf;
	}
	if (len > QUOTE_MAX || looks_secret(s, len)) {
		snprintf(buf, size, "(a %zu-character word, not shown)", len);
		return buf;
	}
	if (size < 3)
		return "";
	buf[o++] = '\'';
	for (size_t i = 0; i < len && o + 2 < size; i++) {
		unsigned char ch = (unsigned char)s[i];

		buf[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

/* Fill the caller's error text "<source>, line N: <msg>"; return @code. */
__attribute__((format(printf, 4, 5))) static int
fail(struct kctx *c, int code, unsigned line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->err != NULL && c->errlen > 0) {
		if (line > 0)
			snprintf(c->err, c->errlen, "%s, line %u: %s",
				 c->source, line, msg);
		else
			snprintf(c->err, c->errlen, "%s: %s", c->source, msg);
	}
	return code;
}

/* ----------------------------------------------------------- base64 */

/*
 * Decode base64 (RFC 4648 section 4) from @in into @out (room for
 * @len * 3 / 4 + 3 bytes), skipping white space.  Missing padding is
 * tolerated unless @strict.  On error, *@bad is the offset of the offending
 * character (@len for a truncated input) and *@why the problem.
 */
static int b64_decode(const char *in, size_t len, bool strict, uint8_t *out,
		      size_t *outlen, size_t *bad, const char **why)
{
	uint32_t acc = 0;
	size_t n = 0, o = 0, pad = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		int v;

		if (is_space(ch))
			continue;
		if (ch == '=') {
			/* Padding completes the last group: "xx==", "xxx=". */
			if (n % 4 < 2) {
				*bad = i;
				*why = "a padding '=' is misplaced";
				return -1;
			}
			v = 0;
			pad++;
		} else {
			v = b64_value(ch);
			if (v < 0 || pad > 0) {
				*bad = i;
				*why = v < 0 ? "a character is not in the "
					       "base64 alphabet (A-Z a-z 0-9 "
					       "+ / =)"
					     : "characters follow the padding "
					       "'='";
				return -1;
			}
		}
		acc = (acc << 6) | (uint32_t)v;
		n++;
		if (n % 4 == 0) {
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	if (pad > 0) {
		if (n % 4 != 0) {
			*bad = len;
			*why = "the padding is incomplete";
			return -1;
		}
		/* The last group held 4 - pad digits: 3 - pad bytes. */
		o -= pad;
	} else if (n % 4 == 1 || (strict && n % 4 != 0)) {
		*bad = len;
		*why = "the base64 text is truncated";
		return -1;
	} else if (n % 4 == 2) {
		out[o++] = (uint8_t)(acc >> 4);
	} else if (n % 4 == 3) {
		out[o++] = (uint8_t)(acc >> 10);
		out[o++] = (uint8_t)(acc >> 2);
	}
	explicit_bzero(&acc, sizeof(acc));
	*outlen = o;
	return 0;
}

/* ------------------------------------------------------ algorithm names */

static const char *const alg_names[] = {
    [DNS_ALG_NONE] = "",
    [DNS_ALG_MD5] = "hmac-md5",
    [DNS_ALG_SHA1] = "hmac-sha1",
    [DNS_ALG_SHA224] = "hmac-sha224",
    [DNS_ALG_SHA256] = "hmac-sha256",
    [DNS_ALG_SHA384] = "hmac-sha384",
    [DNS_ALG_SHA512] = "hmac-sha512",
};

_Static_assert(sizeof(alg_names) / sizeof(alg_names[0]) == DNS_ALG_SHA512 + 1,
	       "every DNS_ALG_* needs a name");

static const struct {
	const char *num; /* DNSSEC algorithm numbers of dnssec-keygen */
	int alg;
} alg_numbers[] = {
    {"157", DNS_ALG_MD5},    {"161", DNS_ALG_SHA1},   {"162", DNS_ALG_SHA224},
    {"163", DNS_ALG_SHA256}, {"164", DNS_ALG_SHA384}, {"165", DNS_ALG_SHA512},
};

#define ALG_LIST                                                               \
	"hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384 or "       \
	"hmac-sha512"

static int alg_parse(const char *s, size_t len)
{
	char buf[32];
	const char *p;
	size_t n;

	if (s == NULL)
		return DNS_EKEY_ALG;
	trim(&s, &len);
	if (len == 0 || len >= sizeof(buf))
		return DNS_EKEY_ALG;
	for (n = 0; n < len; n++)
		buf[n] = ascii_lower(s[n]);
	/* "hmac-sha256." is the algorithm's domain name (RFC 8945 6). */
	if (buf[n - 1] == '.')
		n--;
	buf[n] = '\0';
	for (size_t i = 0; i < sizeof(alg_numbers) / sizeof(alg_numbers[0]);
	     i++)
		if (strcmp(buf, alg_numbers[i].num) == 0)
			return alg_numbers[i].alg;
	/* RFC 8945 6: HMAC-MD5's name is hmac-md5.sig-alg.reg.int. */
	if (strcmp(buf, "hmac-md5.sig-alg.reg.int") == 0)
		return DNS_ALG_MD5;
	p = buf;
	if (strncmp(p, "hmac", 4) == 0) {
		p += 4;
		if (*p == '-' || *p == '_')
			p++;
	}
	for (int a = DNS_ALG_MD5; a <= DNS_ALG_SHA512; a++)
		if (strcmp(p, alg_names[a] + 5) == 0)
			return a;
	return DNS_EKEY_ALG;
}

int dns_alg_from_text(const char *text)
{
	if (text == NULL)
		return DNS_EKEY_ALG;
	return alg_parse(text, strlen(text));
}

const char *dns_alg_to_text(enum dns_alg alg)
{
	if ((int)alg < DNS_ALG_NONE || alg > DNS_ALG_SHA512)
		return "";
	return alg_names[alg];
}

/* ----------------------------------------------------------- key names */

/*
 * Validate @s as a domain name and write it absolute and lower case into
 * @out.  Returns NULL or the problem.
 */
static const char *name_normalize(const char *s, size_t len,
				  char out[DNS_NAME_LEN])
{
	uint8_t wire[KNOT_DNAME_MAXLEN];
	char tmp[DNS_NAME_LEN];
	size_t label = 0;

	if (len == 0)
		return "it is empty";
	if (len >= sizeof(tmp))
		return "it is longer than 255 characters";
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch >= 0x7f)
			return "it contains a space, a control character or a "
			       "non-ASCII byte";
		if (ch == '"' || ch == '\\' || ch == ';' || ch == '{' ||
		    ch == '}')
			return "it contains a quote, a backslash, ';' or a "
			       "brace";
		if (ch == '.') {
			if (label == 0 && !(len == 1))
				return "it has an empty label ('..' or a "
				       "leading '.')";
			label = 0;
		} else if (++label > 63) {
			return "a label is longer than 63 characters";
		}
	}
	if (len == 1 && s[0] == '.')
		return "the root name '.' cannot name a key";
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (knot_dname_from_str(wire, tmp, sizeof(wire)) == NULL)
		return "it is longer than 255 bytes in wire form";
	knot_dname_to_lower(wire);
	if (knot_dname_to_str(out, wire, DNS_NAME_LEN) == NULL)
		return "it cannot be written back as text";
	return NULL;
}

/* The key name from "K<name>.+<alg>+<id>.private" (dnssec-keygen). */
static bool name_from_kfile(const char *source, char out[DNS_NAME_LEN])
{
	const char *base, *end, *p;

	if (source == NULL)
		return false;
	base = strrchr(source, '/');
	base = base ? base + 1 : source;
	if (base[0] != 'K')
		return false;
	end = base + strlen(base);
	if (end - base > 8 && strcmp(end - 8, ".private") == 0)
		end -= 8;
	else if (end - base > 4 && strcmp(end - 4, ".key") == 0)
		end -= 4;
	/* Walk back over "+<id>" and "+<alg>" to the ".+" after the name. */
	p = end;
	for (int field = 0; field < 2; field++) {
		const char *digits = p;

		while (p > base && p[-1] >= '0' && p[-1] <= '9')
			p--;
		if (p == digits || p == base || p[-1] != '+')
			return false;
		p--;
	}
	if (p - base < 2 || p[-1] != '.')
		return false;
	return name_normalize(base + 1, (size_t)(p - base - 1), out) == NULL;
}

/*
 * A key name from the text as a message shows it: normalised when valid,
 * and never when it looks like key material (fields swapped).
 */
static const char *name_for_msg(char *buf, size_t size, const char *s,
				size_t len)
{
	char norm[DNS_NAME_LEN];

	size_t n;

	if (looks_secret(s, len) || name_normalize(s, len, norm) != NULL)
		return quote(buf, size, s, len);
	n = strlen(norm);
	if (n >= size)
		n = size - 1;
	memcpy(buf, norm, n);
	buf[n] = '\0';
	return buf;
}

/* ------------------------------------------------------- candidates */

static int cands_add(struct kctx *c, struct cands *cs, struct cand **out)
{
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 4;
		struct cand *v = realloc(cs->v, cap * sizeof(*v));

		if (v == NULL)
			return fail(c, -ENOMEM, 0, "out of memory");
		cs->v = v;
		cs->cap = cap;
	}
	*out = &cs->v[cs->n++];
	memset(*out, 0, sizeof(**out));
	return 0;
}

/* How the user supplies a missing name or algorithm, per format. */
static const char *name_hint(enum key_fmt fmt)
{
	switch (fmt) {
	case FMT_KFILE:
		return "it is a K*.private file whose file name does not have "
		       "the form K<name>.+<alg>+<id>.private; set "
		       "--tsig-key-name (tsigKeyName in the solver config)";
	case FMT_RAW:
		return "it holds a bare secret (raw bytes); set "
		       "--tsig-key-name (tsigKeyName in the solver config)";
	default:
		return "it holds a bare secret; set --tsig-key-name "
		       "(tsigKeyName in the solver config)";
	}
}

/* Raw key bytes (FMT_RAW) are the secret as they are, with a warning. */
static int secret_raw(struct kctx *c, const struct cand *k, struct dns_key *key)
{
	uint8_t *out = malloc(k->sec.len);

	if (out == NULL)
		return fail(c, -ENOMEM, 0, "out of memory");
	snprintf(key->warning, sizeof(key->warning),
		 "the secret in %.47s is raw key bytes, not base64 text "
		 "(a Secret's data: field is base64-decoded); used as "
		 "is. Store tsig-keygen's base64 text: stringData: or "
		 "--from-literal=secret=<base64>",
		 c->source);
	memcpy(out, k->sec.s, k->sec.len);
	key->secret = out;
	key->secret_len = k->sec.len;
	return 0;
}

/* The secret of @k as BIND and nsupdate -y read it: base64 decoded once. */
static int secret_b64(struct kctx *c, const struct cand *k, enum key_fmt fmt,
		      struct dns_key *key)
{
	size_t cap = k->sec.len * 3 / 4 + 3, len = 0, bad = 0;
	uint8_t *out = malloc(cap);
	const char *why = NULL;
	int ret = 0;

	if (out == NULL)
		return fail(c, -ENOMEM, 0, "out of memory");
	if (b64_decode(k->sec.s, k->sec.len, false, out, &len, &bad, &why) <
	    0) {
		unsigned line = k->sec.line;

		for (size_t i = 0; i < bad && i < k->sec.len; i++)
			if (k->sec.s[i] == '\n')
				line++;
		/* nsupdate -y and BIND refuse such a secret just the same. */
		ret = fail(c, DNS_EKEY_SYNTAX, line,
			   "the secret is not valid base64: %s%s", why,
			   fmt == FMT_BARE
			       ? "; nsupdate -y refuses it too. Store the "
				 "base64 text the server's key has "
				 "(tsig-keygen prints it; for a passphrase "
				 "key: printf %s PASSPHRASE | base64)"
			       : "");
		goto out;
	}
	if (len == 0) {
		ret = fail(c, DNS_EKEY_SYNTAX, k->sec.line,
			   "the secret is empty");
		goto out;
	}
	/* Padding may leave key bits past the end: wipe them now. */
	explicit_bzero(out + len, cap - len);
	key->secret = out;
	key->secret_len = len;
	out = NULL;
out:
	util_wipe_free(out, cap);
	return ret;
}

/*
 * Base64 twice (stringData: holding base64 of the printed key): the
 * decoded secret of @key is itself base64 text of a plausible key.  A
 * random key of 16+ bytes is all base64 characters with a probability
 * below 1e-9, but a passphrase key is not random: BIND and nsupdate -y
 * take the bytes decoded once, so that reading stays the key and the
 * twice-decoded one is only the alternate, tried after the server
 * rejected the first.
 */
static int secret_alt(struct kctx *c, struct dns_key *key)
{
	size_t cap = key->secret_len * 3 / 4 + 3, len = 0, bad = 0;
	uint8_t *inner = malloc(cap);
	const char *why = NULL;

	if (inner == NULL)
		return fail(c, -ENOMEM, 0, "out of memory");
	if (b64_decode((const char *)key->secret, key->secret_len, true, inner,
		       &len, &bad, &why) < 0 ||
	    len < INNER_MIN) {
		util_wipe_free(inner, cap);
		return 0;
	}
	explicit_bzero(inner + len, cap - len);
	key->alt_secret = inner;
	key->alt_secret_len = len;
	snprintf(key->alt_desc, sizeof(key->alt_desc),
		 "the secret decoded a second time (as if "
		 "base64-encoded twice)");
	snprintf(key->alt_warning, sizeof(key->alt_warning),
		 "the secret in %.47s is ambiguous: read as nsupdate -y "
		 "reads it (base64 decoded once) the server rejected "
		 "it, decoded twice it was accepted, so it was stored "
		 "base64-encoded twice. Store the base64 text printed "
		 "by tsig-keygen once (kubectl create secret generic "
		 "NAME --from-literal=secret=<base64>, or stringData:)",
		 c->source);
	return 0;
}

/*
 * Decode the secret of @k into @key: base64 text decoded once, as BIND
 * does, with text that looks base64-encoded twice as the alternate; raw
 * bytes for FMT_RAW.
 */
static int secret_decode(struct kctx *c, const struct cand *k, enum key_fmt fmt,
			 struct dns_key *key)
{
	int ret;

	if (k->sec.s == NULL)
		return fail(c, DNS_EKEY_SYNTAX, k->line,
			    "the key has no secret");
	if (fmt == FMT_RAW)
		return secret_raw(c, k, key);
	ret = secret_b64(c, k, fmt, key);
	if (ret < 0)
		return ret;
	return secret_alt(c, key);
}

/* The names of the keys found, for a message: "a.example., b., ...". */
static void cands_list(const struct cands *cs, char *list, size_t size)
{
	char norm[DNS_NAME_LEN];
	size_t o = 0;

	list[0] = '\0';
	for (size_t i = 0; i < cs->n && o + 48 < size; i++) {
		const struct cand *x = &cs->v[i];
		int n;

		if (name_normalize(x->name.s, x->name.len, norm) != NULL)
			quote(norm, sizeof(norm), x->name.s, x->name.len);
		n = snprintf(list + o, size - o, "%s%s", i ? ", " : "", norm);
		if (n < 0 || (size_t)n >= size - o)
			break;
		o += (size_t)n;
		if (i + 1 < cs->n && o + 48 >= size)
			snprintf(list + o, size - o, ", ...");
	}
}

/* The key named by the caller, or the only one found; else the choice. */
static int cands_pick(struct kctx *c, const struct cands *cs,
		      const struct cand **out)
{
	char norm[DNS_NAME_LEN], list[512];
	const struct cand *k = NULL;

	if (cs->n == 0)
		return fail(c, DNS_EKEY_SYNTAX, 0, "no key found");
	for (size_t i = 0; c->name != NULL && i < cs->n && k == NULL; i++) {
		const struct cand *x = &cs->v[i];

		if (x->name.s != NULL &&
		    name_normalize(x->name.s, x->name.len, norm) == NULL &&
		    strcmp(norm, c->name) == 0)
			k = x;
	}
	if (k == NULL && cs->n == 1)
		k = &cs->v[0];
	if (k != NULL) {
		*out = k;
		return 0;
	}
	cands_list(cs, list, sizeof(list));
	if (c->name != NULL)
		return fail(c, DNS_EKEY_NOTFOUND, 0,
			    "no key named %s; the keys found are: %s", c->name,
			    list);
	c->err_names_setting = true;
	return fail(c, DNS_EKEY_NOTFOUND, 0,
		    "%zu keys found (%s); choose one with "
		    "--tsig-key-name (tsigKeyName in the solver config)",
		    cs->n, list);
}

/*
 * The key's name: the text's, which must agree with the caller's; the
 * caller's; or the one in a K*.private file's name.
 */
static int key_name_set(struct kctx *c, const struct cand *k, enum key_fmt fmt,
			struct dns_key *key)
{
	char q[64];
	const char *why;

	if (k->name.s != NULL) {
		why = name_normalize(k->name.s, k->name.len, key->name);
		if (why != NULL)
			return fail(c, DNS_EKEY_NAME, k->name.line,
				    "the key name %s is not a valid domain "
				    "name: %s",
				    quote(q, sizeof(q), k->name.s, k->name.len),
				    why);
		if (c->name != NULL && strcmp(c->name, key->name) != 0)
			return fail(
			    c, DNS_EKEY_CONFLICT, k->name.line,
			    "the key name given, %s, differs from the "
			    "name in the file, %s",
			    c->name,
			    name_for_msg(q, sizeof(q), k->name.s, k->name.len));
	} else if (c->name != NULL) {
		memcpy(key->name, c->name, strlen(c->name) + 1);
	} else if (fmt == FMT_KFILE && c->fname[0] != '\0') {
		memcpy(key->name, c->fname, strlen(c->fname) + 1);
	} else {
		c->err_names_setting = true;
		return fail(c, DNS_EKEY_NAME, 0, "the key name is missing: %s",
			    name_hint(fmt));
	}
	return 0;
}

/* The algorithm: the text's, the caller's, or the format's. */
static int key_alg_set(struct kctx *c, const struct cand *k,
		       struct dns_key *key)
{
	char q[64];
	int alg;

	if (k->alg.s != NULL) {
		alg = alg_parse(k->alg.s, k->alg.len);
		if (alg < 0)
			return fail(c, DNS_EKEY_ALG, k->alg.line,
				    "unknown TSIG algorithm %s; use " ALG_LIST,
				    quote(q, sizeof(q), k->alg.s, k->alg.len));
		if (c->alg != DNS_ALG_NONE && c->alg != alg)
			return fail(c, DNS_EKEY_CONFLICT, k->alg.line,
				    "the algorithm given, %s, differs from "
				    "the algorithm of key %s in the file, %s",
				    alg_names[c->alg],
				    name_for_msg(q, sizeof(q), key->name,
						 strlen(key->name)),
				    alg_names[alg]);
	} else if (c->alg != DNS_ALG_NONE) {
		alg = c->alg;
	} else if (k->alg_default != DNS_ALG_NONE) {
		alg = k->alg_default;
	} else {
		c->err_names_setting = true;
		return fail(
		    c, DNS_EKEY_ALG, 0,
		    "the TSIG algorithm of key %s is missing: set "
		    "--tsig-algorithm (tsigAlgorithm in the solver "
		    "config) to " ALG_LIST,
		    name_for_msg(q, sizeof(q), key->name, strlen(key->name)));
	}
	key->alg = (enum dns_alg)alg;
	/* RFC 8945 6: HMAC-MD5 is deprecated, HMAC-SHA1 not recommended. */
	if (alg == DNS_ALG_MD5 || alg == DNS_ALG_SHA1)
		snprintf(key->weak, sizeof(key->weak),
			 "key %s uses %s, a weak TSIG algorithm (RFC 8945 6); "
			 "it still works, but make a new key with tsig-keygen "
			 "-a hmac-sha256 %.*s and configure it on the server "
			 "and here",
			 key->name, alg_names[alg], (int)strlen(key->name) - 1,
			 key->name);
	return 0;
}

/* Pick the key, decode the secret, check its name and algorithm. */
static int cands_finish(struct kctx *c, const struct cands *cs,
			enum key_fmt fmt, struct dns_key *key)
{
	const struct cand *k = NULL;
	int ret;

	ret = cands_pick(c, cs, &k);
	if (ret == 0)
		ret = secret_decode(c, k, fmt, key);
	if (ret == 0)
		ret = key_name_set(c, k, fmt, key);
	if (ret == 0)
		ret = key_alg_set(c, k, key);
	return ret;
}

/* ------------------------------------------------- BIND configuration */

enum tok_type {
	T_EOF = 0,
	T_WORD,
	T_STRING,
	T_LBRACE,
	T_RBRACE,
	T_SEMI
};

struct lexer {
	const char *p, *end;
	unsigned line;
};

struct token {
	enum tok_type type;
	const char *s;
	size_t len;
	unsigned line;
};

static const char *tok_desc(const struct token *t)
{
	switch (t->type) {
	case T_EOF:
		return "the end of the file";
	case T_WORD:
		return "a word";
	case T_STRING:
		return "a quoted string";
	case T_LBRACE:
		return "'{'";
	case T_RBRACE:
		return "'}'";
	default:
		return "';'";
	}
}

/* A lexer error: none reported while only detecting the format (@quiet). */
static int lex_fail(struct kctx *c, bool quiet, unsigned line, const char *msg)
{
	return quiet ? DNS_EKEY_SYNTAX
		     : fail(c, DNS_EKEY_SYNTAX, line, "%s", msg);
}

/* Skip white space and comments (#, //, C style) up to the next token. */
static int lex_skip(struct kctx *c, struct lexer *lx, bool quiet)
{
	for (;;) {
		while (lx->p < lx->end && is_space((unsigned char)*lx->p)) {
			if (*lx->p == '\n')
				lx->line++;
			lx->p++;
		}
		if (lx->p >= lx->end)
			return 0;
		if (*lx->p == '#' ||
		    (*lx->p == '/' && lx->p + 1 < lx->end && lx->p[1] == '/')) {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
			continue;
		}
		if (*lx->p == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
			unsigned start = lx->line;

			lx->p += 2;
			while (lx->p + 1 < lx->end &&
			       !(lx->p[0] == '*' && lx->p[1] == '/')) {
				if (*lx->p == '\n')
					lx->line++;
				lx->p++;
			}
			if (lx->p + 1 >= lx->end)
				return lex_fail(c, quiet, start,
						"a /* comment is not closed");
			lx->p += 2;
			continue;
		}
		return 0;
	}
}

/* A quoted string: the text between the quotes, which may span lines. */
static int lex_string(struct kctx *c, struct lexer *lx, struct token *t,
		      bool quiet)
{
	t->type = T_STRING;
	t->s = ++lx->p;
	while (lx->p < lx->end && *lx->p != '"') {
		if (*lx->p == '\n')
			lx->line++;
		lx->p++;
	}
	if (lx->p >= lx->end)
		return lex_fail(c, quiet, t->line,
				"a quoted string is not closed");
	t->len = (size_t)(lx->p - t->s);
	lx->p++;
	return 0;
}

/* A word: up to white space, a brace, ';', a quote or a comment. */
static void lex_word(struct lexer *lx, struct token *t)
{
	t->type = T_WORD;
	while (lx->p < lx->end) {
		char ch = *lx->p;

		if (is_space((unsigned char)ch) || ch == '{' || ch == '}' ||
		    ch == ';' || ch == '"' || ch == '#' ||
		    (ch == '/' && lx->p + 1 < lx->end &&
		     (lx->p[1] == '/' || lx->p[1] == '*')))
			break;
		lx->p++;
	}
	t->len = (size_t)(lx->p - t->s);
}

/*
 * Next token of named.conf syntax: comments (#, //, C style) and white
 * space skipped.  @quiet: report no error (format detection).
 */
static int lex_next(struct kctx *c, struct lexer *lx, struct token *t,
		    bool quiet)
{
	int ret = lex_skip(c, lx, quiet);

	if (ret < 0)
		return ret;
	memset(t, 0, sizeof(*t));
	t->line = lx->line;
	if (lx->p >= lx->end) {
		t->type = T_EOF;
		return 0;
	}
	t->s = lx->p;
	switch (*lx->p) {
	case '{':
		t->type = T_LBRACE;
		break;
	case '}':
		t->type = T_RBRACE;
		break;
	case ';':
		t->type = T_SEMI;
		break;
	case '"':
		return lex_string(c, lx, t, quiet);
	default:
		lex_word(lx, t);
		return 0;
	}
	t->len = 1;
	lx->p++;
	return 0;
}

/*
 * Whether the text holds a "key" statement: the word "key" starting a
 * statement outside any block.  (The public K*.key file has "KEY" in the
 * middle of a line and is not a BIND block.)
 */
static bool bind_detect(struct kctx *c)
{
	struct lexer lx = {c->text, c->text + c->len, 1};
	struct token t;
	bool start = true;
	int depth = 0;

	for (;;) {
		if (lex_next(c, &lx, &t, true) < 0 || t.type == T_EOF)
			return false;
		if (t.type == T_LBRACE)
			depth++;
		else if (t.type == T_RBRACE && depth > 0)
			depth--;
		else if (t.type == T_WORD && depth == 0 && start &&
			 eq_nocase(t.s, t.len, "key"))
			return true;
		start = depth == 0 && (t.type == T_SEMI || t.type == T_RBRACE);
	}
}

/*
 * One clause of key @q's block, @t its first word: "algorithm ALG;" or
 * "secret BASE64;", each at most once.
 */
static int bind_clause(struct kctx *c, struct lexer *lx, const struct token *t,
		       struct cand *k, const char *q)
{
	const char *what;
	struct token v, semi;
	bool is_alg;
	int ret;

	if (t->type != T_WORD)
		return fail(c, DNS_EKEY_SYNTAX, t->line,
			    "unexpected %s in key %s; expected "
			    "'algorithm' or 'secret'",
			    tok_desc(t), q);
	is_alg = eq_nocase(t->s, t->len, "algorithm");
	if (!is_alg && !eq_nocase(t->s, t->len, "secret")) {
		char w[64];

		return fail(c, DNS_EKEY_SYNTAX, t->line,
			    "unknown clause %s in key %s; expected "
			    "'algorithm', 'secret' or '};' closing "
			    "the block",
			    quote(w, sizeof(w), t->s, t->len), q);
	}
	what = is_alg ? "algorithm" : "secret";
	if ((is_alg && k->alg.s != NULL) || (!is_alg && k->sec.s != NULL))
		return fail(c, DNS_EKEY_SYNTAX, t->line,
			    "key %s has two '%s' clauses", q, what);
	ret = lex_next(c, lx, &v, false);
	if (ret < 0)
		return ret;
	if (v.type != T_WORD && v.type != T_STRING)
		return fail(c, DNS_EKEY_SYNTAX, v.line,
			    "'%s' is followed by %s, not by a value", what,
			    tok_desc(&v));
	if (is_alg) {
		k->alg = (struct span){v.s, v.len, v.line};
	} else {
		k->sec = (struct span){v.s, v.len, v.line};
	}
	ret = lex_next(c, lx, &semi, false);
	if (ret < 0)
		return ret;
	if (semi.type != T_SEMI)
		return fail(c, DNS_EKEY_SYNTAX, semi.line,
			    "expected ';' after the %s of key %s, found %s",
			    what, q, tok_desc(&semi));
	return 0;
}

/* key NAME { algorithm ALG; secret "BASE64"; }; */
static int bind_block(struct kctx *c, struct lexer *lx, unsigned line,
		      struct cands *cs)
{
	char q[64];
	struct token t;
	struct lexer save;
	struct cand *k;
	int ret;

	ret = lex_next(c, lx, &t, false);
	if (ret < 0)
		return ret;
	if (t.type != T_WORD && t.type != T_STRING)
		return fail(c, DNS_EKEY_SYNTAX, t.line,
			    "'key' is followed by %s, not by the key name",
			    tok_desc(&t));
	ret = cands_add(c, cs, &k);
	if (ret < 0)
		return ret;
	k->name = (struct span){t.s, t.len, t.line};
	k->line = line;
	quote(q, sizeof(q), t.s, t.len);
	ret = lex_next(c, lx, &t, false);
	if (ret < 0)
		return ret;
	if (t.type != T_LBRACE)
		return fail(c, DNS_EKEY_SYNTAX, t.line,
			    "expected '{' after key %s, found %s", q,
			    tok_desc(&t));
	for (;;) {
		ret = lex_next(c, lx, &t, false);
		if (ret < 0)
			return ret;
		if (t.type == T_RBRACE)
			break;
		if (t.type == T_EOF)
			return fail(c, DNS_EKEY_SYNTAX, t.line,
				    "the block of key %s (line %u) is not "
				    "closed: '};' is missing",
				    q, line);
		ret = bind_clause(c, lx, &t, k, q);
		if (ret < 0)
			return ret;
	}
	/* The ';' after '}' is BIND's syntax; tolerate its absence. */
	save = *lx;
	if (lex_next(c, lx, &t, true) < 0 || t.type != T_SEMI)
		*lx = save;
	return 0;
}

static int bind_parse(struct kctx *c, struct cands *cs)
{
	struct lexer lx = {c->text, c->text + c->len, 1};
	struct token t;
	int depth = 0, ret;

	for (;;) {
		ret = lex_next(c, &lx, &t, false);
		if (ret < 0)
			return ret;
		if (t.type == T_EOF)
			break;
		if (t.type == T_LBRACE) {
			depth++;
		} else if (t.type == T_RBRACE) {
			if (depth == 0)
				return fail(c, DNS_EKEY_SYNTAX, t.line,
					    "'}' without a matching '{'");
			depth--;
		} else if (t.type == T_WORD && depth == 0 &&
			   eq_nocase(t.s, t.len, "key")) {
			ret = bind_block(c, &lx, t.line, cs);
			if (ret < 0)
				return ret;
		}
	}
	if (depth > 0)
		return fail(c, DNS_EKEY_SYNTAX, t.line,
			    "a '{' block is not closed at the end of the file");
	return 0;
}

/* ------------------------------------------------ line-based formats */

struct line {
	const char *s; /* trimmed */
	size_t len;
	const char *raw; /* as in the text, without the newline */
	size_t rawlen;
	unsigned no;
};

/* Next line of the text; false at the end. */
static bool line_next(const struct kctx *c, const char **pos, unsigned *no,
		      struct line *l)
{
	const char *end = c->text + c->len, *nl;

	if (*pos >= end)
		return false;
	nl = memchr(*pos, '\n', (size_t)(end - *pos));
	l->raw = *pos;
	l->rawlen = (size_t)((nl ? nl : end) - *pos);
	l->no = ++*no;
	*pos = nl ? nl + 1 : end;
	l->s = l->raw;
	l->len = l->rawlen;
	trim(&l->s, &l->len);
	return true;
}

/* Split "field: value" at the first ':'; both trimmed. */
static bool field_split(const char *s, size_t len, const char **f, size_t *flen,
			const char **v, size_t *vlen)
{
	const char *colon = memchr(s, ':', len);

	if (colon == NULL)
		return false;
	*f = s;
	*flen = (size_t)(colon - s);
	*v = colon + 1;
	*vlen = len - *flen - 1;
	trim(f, flen);
	trim(v, vlen);
	return true;
}

/* Whether a line at column 0 starts with @word (then ':'). */
static bool has_col0(const struct kctx *c, const char *word, bool alone)
{
	const char *pos = c->text;
	unsigned no = 0;
	struct line l;

	while (line_next(c, &pos, &no, &l)) {
		size_t n = l.rawlen;
		const char *s = l.raw;

		while (n > 0 && is_space((unsigned char)s[n - 1]))
			n--;
		if (alone ? eq_nocase(s, n, word) : prefix_nocase(s, n, word))
			return true;
	}
	return false;
}

/* K<name>.+<alg>+<id>.private of dnssec-keygen (Private-key-format v1.x). */
static int kfile_parse(struct kctx *c, struct cands *cs)
{
	const char *pos = c->text, *f, *v;
	size_t flen, vlen;
	unsigned no = 0;
	struct line l;
	struct cand *k;
	int ret;

	ret = cands_add(c, cs, &k);
	if (ret < 0)
		return ret;
	k->line = 1;
	while (line_next(c, &pos, &no, &l)) {
		if (l.len == 0 || l.s[0] == '#' || l.s[0] == ';')
			continue;
		if (!field_split(l.s, l.len, &f, &flen, &v, &vlen))
			return fail(c, DNS_EKEY_SYNTAX, l.no,
				    "expected 'Field: value' as in a "
				    "K*.private file");
		if (eq_nocase(f, flen, "Private-key-format")) {
			if (!prefix_nocase(v, vlen, "v1."))
				return fail(c, DNS_EKEY_SYNTAX, l.no,
					    "unsupported Private-key-format; "
					    "expected v1.x");
		} else if (eq_nocase(f, flen, "Algorithm")) {
			size_t n = 0;

			/* "163 (HMAC_SHA256)": the number decides. */
			while (n < vlen && !is_space((unsigned char)v[n]))
				n++;
			if (k->alg.s != NULL)
				return fail(c, DNS_EKEY_SYNTAX, l.no,
					    "a second Algorithm line");
			k->alg = (struct span){v, n, l.no};
		} else if (eq_nocase(f, flen, "Key")) {
			if (k->sec.s != NULL)
				return fail(c, DNS_EKEY_SYNTAX, l.no,
					    "a second Key line");
			k->sec = (struct span){v, vlen, l.no};
		}
	}
	if (k->sec.s == NULL)
		return fail(c, DNS_EKEY_SYNTAX, 0,
			    "the K*.private file has no 'Key:' line");
	if (k->alg.s == NULL)
		return fail(c, DNS_EKEY_SYNTAX, 0,
			    "the K*.private file has no 'Algorithm:' line");
	if (name_from_kfile(c->source, c->fname) == false)
		c->fname[0] = '\0';
	return 0;
}

/* Strip YAML quotes and a trailing " # comment" from a scalar. */
static void yaml_scalar(const char **v, size_t *vlen)
{
	const char *hash;

	if (*vlen >= 2 && ((*v)[0] == '"' || (*v)[0] == '\'')) {
		const char *close = memchr(*v + 1, (*v)[0], *vlen - 1);

		if (close != NULL) {
			*vlen = (size_t)(close - *v - 1);
			(*v)++;
			return;
		}
	}
	for (hash = *v; hash < *v + *vlen; hash++)
		if (*hash == '#' && hash > *v &&
		    is_space((unsigned char)hash[-1]))
			break;
	*vlen = (size_t)(hash - *v);
	trim(v, vlen);
}

/* Knot's YAML: "key:" then "  - id: NAME", "algorithm: ALG", "secret: B64". */
static int yaml_parse(struct kctx *c, struct cands *cs)
{
	const char *pos = c->text, *f, *v, *s;
	size_t flen, vlen, n;
	unsigned no = 0;
	bool in_key = false;
	struct cand *k = NULL;
	struct line l;
	int ret;

	while (line_next(c, &pos, &no, &l)) {
		if (l.len == 0 || l.s[0] == '#')
			continue;
		if (!is_space((unsigned char)l.raw[0])) {
			/* A top-level section: "key:" starts ours. */
			in_key = eq_nocase(l.s, l.len, "key:");
			k = NULL;
			continue;
		}
		if (!in_key)
			continue;
		s = l.s;
		n = l.len;
		if (s[0] == '-' && (n == 1 || is_space((unsigned char)s[1]))) {
			ret = cands_add(c, cs, &k);
			if (ret < 0)
				return ret;
			k->line = l.no;
			s++;
			n--;
			trim(&s, &n);
			if (n == 0)
				continue;
		}
		if (!field_split(s, n, &f, &flen, &v, &vlen))
			return fail(c, DNS_EKEY_SYNTAX, l.no,
				    "expected 'field: value' in the key list");
		if (k == NULL)
			return fail(c, DNS_EKEY_SYNTAX, l.no,
				    "a key field before '- id:'");
		yaml_scalar(&v, &vlen);
		if (eq_nocase(f, flen, "id")) {
			k->name = (struct span){v, vlen, l.no};
		} else if (eq_nocase(f, flen, "algorithm")) {
			k->alg = (struct span){v, vlen, l.no};
		} else if (eq_nocase(f, flen, "secret")) {
			k->sec = (struct span){v, vlen, l.no};
		}
	}
	for (size_t i = 0; i < cs->n; i++)
		if (cs->v[i].name.s == NULL)
			return fail(c, DNS_EKEY_SYNTAX, cs->v[i].line,
				    "a key without 'id:'");
	return 0;
}

/* Knot's "[alg:]name:secret", one key a line (kdig/knsupdate -y, -k). */
static int knot_parse(struct kctx *c, struct cands *cs)
{
	const char *pos = c->text;
	unsigned no = 0;
	struct line l;
	struct cand *k;
	int ret;

	while (line_next(c, &pos, &no, &l)) {
		const char *f[4];
		size_t flen[4], nf = 0;
		const char *p = l.s, *end = l.s + l.len;

		if (l.len == 0 || l.s[0] == '#')
			continue;
		while (nf < 4) {
			const char *colon = memchr(p, ':', (size_t)(end - p));

			f[nf] = p;
			flen[nf] = (size_t)((colon ? colon : end) - p);
			trim(&f[nf], &flen[nf]);
			nf++;
			if (colon == NULL)
				break;
			p = colon + 1;
		}
		if (nf < 2 || nf > 3)
			return fail(c, DNS_EKEY_SYNTAX, l.no,
				    "expected [algorithm:]name:secret");
		/*
		 * "hmac-sha256:name" has lost its secret (or its name): without
		 * this check it would read as a key named "hmac-sha256".
		 */
		if (nf == 2 && alg_parse(f[0], flen[0]) > 0)
			return fail(c, DNS_EKEY_SYNTAX, l.no,
				    "an algorithm and one more field: the key "
				    "name or the secret is missing; expected "
				    "[algorithm:]name:secret");
		ret = cands_add(c, cs, &k);
		if (ret < 0)
			return ret;
		k->line = l.no;
		if (nf == 3)
			k->alg = (struct span){f[0], flen[0], l.no};
		k->name = (struct span){f[nf - 2], flen[nf - 2], l.no};
		k->sec = (struct span){f[nf - 1], flen[nf - 1], l.no};
		/* Knot's tools assume hmac-sha256 without an algorithm. */
		k->alg_default = DNS_ALG_SHA256;
	}
	return 0;
}

/* Whether any significant line has a ':' (no base64 character is one). */
static bool knot_detect(const struct kctx *c)
{
	const char *pos = c->text;
	unsigned no = 0;
	struct line l;

	while (line_next(c, &pos, &no, &l))
		if (l.len > 0 && l.s[0] != '#' && memchr(l.s, ':', l.len))
			return true;
	return false;
}

/* A bare base64 secret, perhaps wrapped, after optional '#' lines. */
static int bare_parse(struct kctx *c, struct cands *cs)
{
	const char *pos = c->text, *start = NULL, *end = NULL;
	unsigned no = 0, first = 0;
	struct line l;
	struct cand *k;
	int ret;

	while (line_next(c, &pos, &no, &l)) {
		if (l.len == 0 || (l.s[0] == '#' && start == NULL))
			continue;
		for (size_t i = 0; i < l.len; i++)
			if (is_space((unsigned char)l.s[i]))
				return fail(c, DNS_EKEY_SYNTAX, l.no,
					    "not a key in a known format; "
					    "expected a BIND key block, a "
					    "K*.private file, "
					    "[algorithm:]name:secret, Knot's "
					    "key list or a bare base64 secret");
		if (start == NULL) {
			start = l.s;
			first = l.no;
		}
		end = l.s + l.len;
	}
	if (start == NULL)
		return fail(c, DNS_EKEY_SYNTAX, 0,
			    "it holds only comments, no key");
	ret = cands_add(c, cs, &k);
	if (ret < 0)
		return ret;
	k->line = first;
	k->sec = (struct span){start, (size_t)(end - start), first};
	return 0;
}

/* ---------------------------------------------------- binary detection */

/*
 * The first byte that cannot be in a text file: a NUL, a control character
 * other than white space, DEL, or a byte that breaks UTF-8.  NULL for text.
 */
static const char *first_binary(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		size_t more;

		if (ch < 0x80) {
			if ((ch < 0x20 && !is_space(ch)) || ch == 0x7f)
				return s + i;
			continue;
		}
		if (ch >= 0xc2 && ch <= 0xdf)
			more = 1;
		else if (ch >= 0xe0 && ch <= 0xef)
			more = 2;
		else if (ch >= 0xf0 && ch <= 0xf4)
			more = 3;
		else
			return s + i;
		if (i + more >= len)
			return s + i;
		for (size_t j = 1; j <= more; j++)
			if (((unsigned char)s[i + j] & 0xc0) != 0x80)
				return s + i;
		i += more;
	}
	return NULL;
}

static bool contains_nocase(const char *s, size_t len, const char *word)
{
	size_t wlen = strlen(word);

	for (size_t i = 0; i + wlen <= len; i++)
		if (strncasecmp(s + i, word, wlen) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------- API */

static int key_parse(struct dns_key *key, const char *text, size_t len,
		     const char *source, const char *name, const char *alg,
		     char *err, size_t errlen, int depth);

/* Whether a line has white space between two other characters. */
static bool inline_space(const char *s, size_t len)
{
	bool seen = false, gap = false;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			seen = gap = false;
		else if (is_space((unsigned char)s[i]))
			gap = seen;
		else if (gap)
			return true;
		else
			seen = true;
	}
	return false;
}

/*
 * Whether the text is valid base64 of at least one byte: then it is a bare
 * secret, read as nsupdate -y and BIND read it, whatever it decodes to.
 * White space around and between lines and a missing padding are
 * tolerated; white space inside a line is skipped as BIND does, but then
 * the padding must be complete, so that words ("not a key") stay text.
 */
static int bare_detect(struct kctx *c, bool *yes)
{
	size_t cap = c->len * 3 / 4 + 3, n = 0, bad;
	const char *why;
	uint8_t *buf = malloc(cap);

	if (buf == NULL)
		return fail(c, -ENOMEM, 0, "out of memory");
	*yes = b64_decode(c->text, c->len, inline_space(c->text, c->len), buf,
			  &n, &bad, &why) == 0 &&
	       n > 0;
	util_wipe_free(buf, cap);
	return 0;
}

/*
 * A bare "secret" that is the base64 of a whole key file (the file's text
 * put in stringData: after base64 -w0).  @first is the result of the bare
 * reading of @k: when that failed for want of a name or an algorithm, the
 * file's key becomes the key with a warning; when it worked, the file's
 * secret becomes the alternate.  A text that does not parse as a key file
 * is just the secret's bytes: the result stays @first.
 */
static int bare_nested(struct kctx *c, const struct cand *k,
		       struct dns_key *key, const char *name, const char *alg,
		       int first)
{
	char inner[512];
	size_t cap = k->sec.len * 3 / 4 + 3, n = 0, bad;
	const char *why;
	char *buf = malloc(cap);
	struct dns_key file;
	int ret = first;

	memset(&file, 0, sizeof(file));
	if (buf == NULL)
		return fail(c, -ENOMEM, 0, "out of memory");
	/*
	 * Key bytes are random: 16 or more of them are printable text naming
	 * key fields with a probability far below 1e-12.
	 */
	if (b64_decode(k->sec.s, k->sec.len, false, (uint8_t *)buf, &n, &bad,
		       &why) < 0 ||
	    n < INNER_MIN || first_binary(buf, n) != NULL ||
	    !(memchr(buf, ':', n) || contains_nocase(buf, n, "key") ||
	      contains_nocase(buf, n, "secret")))
		goto out;
	if (key_parse(&file, buf, n, c->source, name, alg, inner, sizeof(inner),
		      1) < 0)
		goto out;
	if (first < 0) {
		/* The bare reading is impossible: the file's key it is. */
		dns_key_release(key);
		*key = file;
		memset(&file, 0, sizeof(file));
		if (c->err != NULL && c->errlen > 0)
			c->err[0] = '\0';
		snprintf(
		    key->warning, sizeof(key->warning),
		    "%.47s holds a key file base64-encoded once more; it was "
		    "decoded. Store the file's text itself (stringData:, "
		    "or kubectl create secret generic NAME "
		    "--from-file=secret=FILE)",
		    c->source);
		ret = 0;
		goto out;
	}
	if (file.alg != key->alg || strcmp(file.name, key->name) != 0)
		goto out;
	util_wipe_free(key->alt_secret, key->alt_secret_len);
	key->alt_secret = file.secret;
	key->alt_secret_len = file.secret_len;
	file.secret = NULL;
	snprintf(key->alt_desc, sizeof(key->alt_desc),
		 "the secret of the key file it decodes to");
	snprintf(
	    key->alt_warning, sizeof(key->alt_warning),
	    "the secret in %.47s is ambiguous: read as nsupdate -y reads it "
	    "(base64 decoded once) the server rejected it; it decodes to "
	    "a key file whose secret was accepted. Store the file's text "
	    "itself (stringData:, or kubectl create secret generic NAME "
	    "--from-file=secret=FILE)",
	    c->source);
out:
	dns_key_release(&file);
	util_wipe_free(buf, cap);
	return ret;
}

int dns_key_parse(struct dns_key *key, const char *text, size_t len,
		  const char *source, const char *name, const char *alg,
		  char *err, size_t errlen)
{
	return key_parse(key, text, len, source, name, alg, err, errlen, 0);
}

/* The caller's name and algorithm, checked first: they are not secret. */
static int kctx_given(struct kctx *c, const char *name, const char *alg)
{
	const char *why;
	char q[64];

	if (name != NULL && name[0] != '\0') {
		size_t nlen = strlen(name);
		const char *s = name;

		trim(&s, &nlen);
		why = name_normalize(s, nlen, c->namebuf);
		if (why != NULL)
			return fail(c, DNS_EKEY_NAME, 0,
				    "the key name given, %s, is not a valid "
				    "domain name: %s",
				    quote(q, sizeof(q), s, nlen), why);
		c->name = c->namebuf;
	}
	if (alg != NULL && alg[0] != '\0') {
		c->alg = dns_alg_from_text(alg);
		if (c->alg < 0)
			return fail(
			    c, DNS_EKEY_ALG, 0,
			    "unknown TSIG algorithm %s given; use " ALG_LIST,
			    quote(q, sizeof(q), alg, strlen(alg)));
	}
	return 0;
}

/*
 * Raw key bytes (a Secret's data: field holding the key printed by
 * tsig-keygen) are not text, @bin their first binary byte.  A text file
 * with stray binary bytes names its fields; random key bytes practically
 * never do.
 */
static int raw_parse(struct kctx *c, struct cands *cs, const char *bin)
{
	struct cand *k;
	int ret;

	if (contains_nocase(c->text, c->len, "secret") ||
	    contains_nocase(c->text, c->len, "algorithm") ||
	    contains_nocase(c->text, c->len, "private-key-format") ||
	    contains_nocase(c->text, c->len, "hmac-"))
		return fail(c, DNS_EKEY_SYNTAX, line_at(c, bin),
			    "%s in a key file",
			    *bin == '\0' ? "a NUL byte"
					 : "a control character or "
					   "invalid UTF-8");
	ret = cands_add(c, cs, &k);
	if (ret < 0)
		return ret;
	k->line = 1;
	k->sec = (struct span){c->text, c->len, 1};
	return 0;
}

/* The key file formats, told apart by their marks, a bare secret last. */
static int file_parse(struct kctx *c, struct cands *cs, enum key_fmt *fmt)
{
	if (has_col0(c, "private-key-format:", false) ||
	    has_col0(c, "algorithm:", false)) {
		*fmt = FMT_KFILE;
		return kfile_parse(c, cs);
	}
	if (has_col0(c, "key:", true)) {
		*fmt = FMT_YAML;
		return yaml_parse(c, cs);
	}
	if (bind_detect(c)) {
		*fmt = FMT_BIND;
		return bind_parse(c, cs);
	}
	if (knot_detect(c)) {
		*fmt = FMT_KNOT;
		return knot_parse(c, cs);
	}
	*fmt = FMT_BARE;
	return bare_parse(c, cs);
}

/*
 * The keys of a text: valid base64 is a bare secret, read as nsupdate -y
 * reads it whatever the bytes; else a key file.  Inside bare_nested()
 * (@depth > 0) only a key file, never a bare secret.
 */
static int text_parse(struct kctx *c, struct cands *cs, int depth,
		      enum key_fmt *fmt)
{
	const char *s = c->text;
	size_t n = c->len;
	bool is_b64 = false;
	struct cand *k;
	int ret;

	trim(&s, &n);
	if (n == 0)
		return fail(c, DNS_EKEY_SYNTAX, 0,
			    c->len ? "it is empty (only white space)"
				   : "it is empty");
	ret = depth == 0 ? bare_detect(c, &is_b64) : 0;
	if (ret < 0)
		return ret;
	if (is_b64) {
		*fmt = FMT_BARE;
		ret = cands_add(c, cs, &k);
		if (ret < 0)
			return ret;
		k->line = line_at(c, s);
		k->sec = (struct span){s, n, k->line};
		return 0;
	}
	ret = file_parse(c, cs, fmt);
	if (ret == 0 && depth > 0 && *fmt == FMT_BARE)
		ret = fail(c, DNS_EKEY_SYNTAX, 0, "not a key file");
	return ret;
}

/*
 * dns_key_parse() at @depth: 0 for the caller's text, 1 for the key file
 * a bare secret decodes to (bare_nested()).
 */
static int key_parse(struct dns_key *key, const char *text, size_t len,
		     const char *source, const char *name, const char *alg,
		     char *err, size_t errlen, int depth)
{
	struct kctx c = {0};
	struct cands cs = {0};
	enum key_fmt fmt = FMT_BARE;
	const char *bin;
	int ret;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (key == NULL)
		return -EINVAL;
	memset(key, 0, sizeof(*key));
	c.source = source && source[0] ? source : "the key";
	c.err = err;
	c.errlen = errlen;
	if (text == NULL && len > 0)
		return fail(&c, -EINVAL, 0, "no text");
	c.text = text ? text : "";
	c.len = len;
	ret = kctx_given(&c, name, alg);
	if (ret < 0)
		return ret;
	if (len > KEY_INPUT_MAX)
		return fail(&c, DNS_EKEY_SYNTAX, 0,
			    "it is larger than 64 KiB (%zu bytes): not a key",
			    len);
	bin = first_binary(c.text, c.len);
	if (bin != NULL) {
		fmt = FMT_RAW;
		ret = raw_parse(&c, &cs, bin);
	} else {
		ret = text_parse(&c, &cs, depth, &fmt);
	}
	if (ret < 0)
		goto out;
	ret = cands_finish(&c, &cs, fmt, key);
	if (fmt == FMT_BARE && depth == 0 &&
	    (ret == 0 || ret == DNS_EKEY_NAME || ret == DNS_EKEY_ALG))
		ret = bare_nested(&c, &cs.v[0], key, name, alg, ret);
out:
	free(cs.v);
	if (ret < 0) {
		dns_key_release(key);
		key->err_names_setting = c.err_names_setting;
	}
	return ret;
}

/*
 * The text of a failed read of key file @path (@code from util_file_read(),
 * which does not say which step failed: a directory or an I/O error is a
 * failed read, anything else, ENOENT or EACCES, a failed open); the code
 * to return.
 */
static int load_fail(const char *path, int code, char *err, size_t errlen)
{
	if (err != NULL && errlen > 0) {
		if (code == UTIL_ENOTREG)
			snprintf(err, errlen,
				 "%s is not a regular file (a FIFO, socket or "
				 "device): give the key file itself",
				 path);
		else if (code == UTIL_ETOOBIG)
			snprintf(err, errlen,
				 "%s: the file is larger than 64 KiB: not a "
				 "key file",
				 path);
		else if (code != -ENOMEM)
			snprintf(err, errlen, "cannot %s %s: %s",
				 code == -EISDIR || code == -EIO ? "read"
								 : "open",
				 path, strerror(-code));
	}
	return code == UTIL_ENOTREG || code == UTIL_ETOOBIG ? DNS_EKEY_SYNTAX
							    : code;
}

int dns_key_load(struct dns_key *key, const char *path, const char *name,
		 const char *alg, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (key != NULL)
		memset(key, 0, sizeof(*key));
	if (key == NULL || path == NULL)
		return -EINVAL;
	/* Regular files only, opened without blocking: a FIFO must not
	 * block us. */
	ret =
	    util_file_read(path, KEY_INPUT_MAX, UTIL_FILE_REGULAR, &buf, &len);
	if (ret < 0)
		return load_fail(path, ret, err, errlen);
	ret = dns_key_parse(key, (const char *)buf, len, path, name, alg, err,
			    errlen);
	util_wipe_free(buf, len);
	return ret;
}

void dns_key_alt_swap(struct dns_key *key)
{
	uint8_t *p;
	size_t n;

	if (key == NULL || key->alt_secret == NULL)
		return;
	p = key->secret;
	n = key->secret_len;
	key->secret = key->alt_secret;
	key->secret_len = key->alt_secret_len;
	key->alt_secret = p;
	key->alt_secret_len = n;
	key->alt_swapped = !key->alt_swapped;
}

void dns_key_release(struct dns_key *key)
{
	if (key == NULL)
		return;
	util_wipe_free(key->secret, key->secret_len);
	util_wipe_free(key->alt_secret, key->alt_secret_len);
	explicit_bzero(key, sizeof(*key));
}
