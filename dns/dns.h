/*
 * dns.h - the whole contract of the dns/ module: TSIG keys in every format
 * people have, nameserver addresses, RFC 2136 UPDATE messages signed with
 * TSIG (RFC 8945), their transport (UDP, TCP, failover) and the diagnosis of
 * an answer.
 *
 * dns/ is a leaf library: it never logs and never exits.  Every function
 * returns 0 or a negative error code (a negated errno such as -ENOMEM or
 * -ETIMEDOUT, or one of DNS_E* below) and, where it takes one, fills the
 * caller's error text buffer with the detail.  All functions are thread-safe
 * and keep no global state.
 */
#ifndef RFC2136_DNS_H
#define RFC2136_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Module error codes; generic errors are negated errno values. */
enum {
	DNS_EKEY_SYNTAX = -1000, /* a key file or secret is malformed */
	DNS_EKEY_ALG,		 /* unknown or missing TSIG algorithm */
	DNS_EKEY_NAME,		 /* missing or invalid key name */
	DNS_EKEY_NOTFOUND, /* no key with the requested name in the file */
	DNS_EKEY_CONFLICT, /* a given name/algorithm contradicts the file */
	DNS_EADDR,	   /* malformed nameserver address */
	DNS_ERESOLVE,	   /* a nameserver host name does not resolve */
	DNS_ENAME,	   /* malformed domain name */
	DNS_ENOTSUB,	   /* the record name is not inside the zone */
	DNS_EVALUE,	   /* TXT value empty or too long */
	DNS_ERCODE,	   /* the server answered with an error RCODE */
	DNS_ETSIG,	   /* TSIG error in the answer, or it did not verify */
	DNS_EUNSIGNED,	   /* a signed request got an unsigned answer */
	DNS_EFORMAT,	   /* the answer is not a valid DNS message */
	DNS_EMISMATCH,	   /* the answer does not belong to the request */
	DNS_ETRUNC,	   /* the answer is truncated even over TCP */
	DNS_EGSS_CRED,	   /* GSS-TSIG: no usable Kerberos credentials */
	DNS_EGSS_KDC,	   /* GSS-TSIG: the KDC cannot be reached */
	DNS_EGSS_CLIENT,   /* GSS-TSIG: the KDC does not know our principal */
	DNS_EGSS_SERVICE,  /* GSS-TSIG: the KDC does not know DNS/<host> */
	DNS_EGSS_SKEW,	   /* GSS-TSIG: clock skew with the KDC */
	DNS_EGSS,	   /* GSS-TSIG: another GSS-API failure */
	DNS_ETKEY,	   /* GSS-TSIG: the server rejected the TKEY exchange */
	DNS_EECHO,	   /* the answer's MAC is our request's MAC, echoed */
	DNS_ENOZONE,	   /* the server serves no zone that holds the name */
	DNS_EREFERRAL,	   /* the name is delegated away from the server */
	DNS_EVERIFY,	   /* the update was accepted but is not served */
	DNS_EDEADLINE, /* the call's deadline passed (detail: waiting for what)
			*/
	DNS_ENOREPLY,  /* the nameserver did not answer DNS (no detail) */
	DNS_EBUSY,     /* too many lookups or Kerberos steps still pending */
	DNS_ELAST
};

/* Text for any code this module returns (errno values included). */
const char *dns_strerror(int code);

/* ---------------------------------------------------------------- keys */

enum dns_alg {
	DNS_ALG_NONE = 0,
	DNS_ALG_MD5,
	DNS_ALG_SHA1,
	DNS_ALG_SHA224,
	DNS_ALG_SHA256,
	DNS_ALG_SHA384,
	DNS_ALG_SHA512,
};

/*
 * Map any spelling of a TSIG algorithm to its value: "hmac-sha256",
 * "HMAC-SHA256", "HMACSHA256", "hmac-sha256.", "sha256",
 * "hmac-md5.sig-alg.reg.int", DNSSEC numbers as in K*.private files
 * ("157" md5 .. "165" sha512), case-insensitively.  Returns the algorithm
 * (> 0) or DNS_EKEY_ALG.
 */
int dns_alg_from_text(const char *text);

/* Canonical name of an algorithm ("hmac-sha256"), "" for DNS_ALG_NONE. */
const char *dns_alg_to_text(enum dns_alg alg);

/* A domain name in presentation form, NUL included. */
#define DNS_NAME_LEN 256

/* A TSIG key.  Caller-owned; dns_key_release() wipes and frees the secret. */
struct dns_key {
	char name[DNS_NAME_LEN]; /* absolute, lower case: "acme-update." */
	enum dns_alg alg;
	uint8_t *secret; /* raw HMAC key bytes (not base64) */
	size_t secret_len;
	/*
	 * Non-empty when the secret was recovered from a known mistake (raw
	 * key bytes instead of base64 text, a key file base64-encoded): what
	 * was found and how to store it properly.  The caller shows it as a
	 * warning.  Never contains secret bytes.
	 */
	char warning[256];
	/*
	 * A second reading of an ambiguous secret, NULL when there is none.
	 * The secret above is always read as nsupdate -y and BIND read it
	 * (base64 decoded once); when those bytes are themselves base64 of a
	 * key, or a whole key file, the recovered reading lands here.
	 * dns_update() and dns_query() sign once more with it at an address
	 * that rejected the key (dns_outcome_key_rejected()) and mark that
	 * outcome key_alt.  @alt_desc names the reading in a failure,
	 * @alt_warning says what to show when it worked and how to store the
	 * secret so that it is no longer ambiguous.  Never secret bytes.
	 */
	uint8_t *alt_secret;
	size_t alt_secret_len;
	char alt_desc[96];
	char alt_warning[384];
	bool alt_swapped; /* dns_key_alt_swap() made the alternate the secret */
	/*
	 * After a failed dns_key_parse(): the error text already says which
	 * setting to set (--tsig-key-name / tsigKeyName, --tsig-algorithm /
	 * tsigAlgorithm), so the caller adds no hint of its own.
	 */
	bool err_names_setting;
	/*
	 * Non-empty for HMAC-MD5 and HMAC-SHA1 (RFC 8945 6: deprecated, not
	 * recommended): names the algorithm and the tsig-keygen command that
	 * makes a replacement.  The key still works; the caller warns.
	 */
	char weak[640];
};

/*
 * Parse a TSIG key from @text (@len bytes, need not be NUL-terminated) in
 * any format people have:
 *  - BIND key blocks (tsig-keygen, ddns-confgen, named.conf excerpts):
 *    several blocks, comments, one or many lines; the block named @name is
 *    picked, or the only one;
 *  - a K<name>.+<alg>+<id>.private file ("Algorithm:" and "Key:" lines); the
 *    key name comes from @name or else from @source when its base name has
 *    that form;
 *  - Knot's "[alg:]name:secret" (algorithm hmac-sha256 when absent), also
 *    as the comment line keymgr prints, or Knot's YAML key list;
 *  - a bare base64 secret, with @name and @alg required.
 * A text that is valid base64 (white space anywhere, missing padding
 * tolerated) is always a bare secret and decodes to exactly the key bytes
 * nsupdate -y uses, whatever they are.  Recovered mistakes come second:
 * raw key bytes (binary text) and a base64-encoded key file when the bare
 * reading is impossible (not base64, or no name/algorithm given) with
 * @warning set; a secret base64-encoded twice, or the base64 of a whole
 * key file, when both readings are possible, as the alternate secret.
 * @name and @alg come from the caller (flags, solver config) and may be
 * NULL when the text names them; when both say, they must agree
 * (DNS_EKEY_CONFLICT).  @source names the text in messages (a file path,
 * "Secret ns/name key secret").  A malformed key is an error whose text
 * names @source, the line and the problem; it never quotes secret bytes.
 */
int dns_key_parse(struct dns_key *key, const char *text, size_t len,
		  const char *source, const char *name, const char *alg,
		  char *err, size_t errlen);

/* Read @path (at most 64 KiB) and dns_key_parse() it with @path as source. */
int dns_key_load(struct dns_key *key, const char *path, const char *name,
		 const char *alg, char *err, size_t errlen);

/*
 * Exchange the secret and the alternate secret (after the alternate was
 * accepted, so that the next messages use it first; a rejection still
 * retries with the other).  Nothing happens without an alternate.
 */
void dns_key_alt_swap(struct dns_key *key);

/* Wipe and free both secrets and zero the struct.  NULL-safe. */
void dns_key_release(struct dns_key *key);

/* ----------------------------------------------------------- addresses */

/* A nameserver as the user wrote it, split. */
struct dns_addr {
	char host[DNS_NAME_LEN]; /* IP literal (no brackets) or host name */
	uint16_t port;		 /* 53 unless given */
};

/*
 * Parse "1.2.3.4", "1.2.3.4:5353", "2001:db8::1", "[2001:db8::1]",
 * "[2001:db8::1]:53", "ns1.example.com", "ns1.example.com:5353".  Pure
 * syntax, no resolution.  A malformed address is DNS_EADDR with the exact
 * problem in @err.
 */
int dns_addr_parse(struct dns_addr *addr, const char *text, char *err,
		   size_t errlen);

/* "host:port", IPv6 in brackets: "[2001:db8::1]:53".  Returns @buf. */
char *dns_addr_format(const struct dns_addr *addr, char *buf, size_t len);

/* ------------------------------------------------------------ exchange */

enum dns_proto {
	DNS_PROTO_UDP = 0,
	DNS_PROTO_TCP
};

/*
 * Called for each message sent and each answer received, for the caller's
 * logs (dns/ itself never logs).  @event is "send" or "receive", @proto
 * "udp" or "tcp", @server the attempt's "addr:port" (see dns_outcome), @wire
 * the message.  Render it with dns_msg_dump().  Runs on the calling thread.
 * With GSS-TSIG, the signed message and its answer are reported once the
 * attempt is over (TKEY negotiation messages are not).
 */
typedef void dns_trace_fn(void *arg, const char *event, const char *proto,
			  const char *server, const uint8_t *wire, size_t len);

/* ----------------------------------------------------------- deadlines */

/*
 * Milliseconds on the monotonic clock (CLOCK_MONOTONIC), the clock of
 * every deadline in this module: a deadline survives clock changes.
 */
int64_t dns_clock_ms(void);

/*
 * How long one wait may last, as curl's Curl_timeleft() does for a
 * transfer: @want_ms cut to what is left before @deadline at @now, or 0
 * when the deadline has passed.  @deadline 0 means none (@want_ms as is).
 */
unsigned dns_budget_wait(int64_t now, int64_t deadline, unsigned want_ms);

/*
 * One attempt's share of what is left before @deadline at @now when
 * @attempts attempts (1 or more) are still to come: the rest split evenly,
 * at most @want_ms, and never below @floor_ms while that much is left (an
 * attempt shorter than a round trip is wasted).  0 when nothing is left.
 */
unsigned dns_budget_share(int64_t now, int64_t deadline, unsigned want_ms,
			  unsigned attempts, unsigned floor_ms);

/* A host name's addresses tried, at most (the rest get a note). */
#define DNS_HOST_ADDRS_MAX 4

/* How to talk to the servers. */
struct dns_opts {
	enum dns_proto proto; /* UDP (TCP retry on TC=1) or TCP only */
	unsigned timeout_ms;  /* per attempt; 0 means 5000 */
	/*
	 * The whole call's end (dns_clock_ms() time), 0: none.  Name
	 * resolution, each address, the TCP retry after a truncated UDP
	 * answer and Kerberos get only what is left: timeout_ms never
	 * stretches the call.  A wait cut short by it is DNS_EDEADLINE with
	 * what was awaited in the outcome's detail.
	 */
	int64_t deadline_ms;
	const struct dns_key *key; /* NULL: unsigned messages */
	/* Sign with GSS-TSIG (RFC 3645) instead of @key; always over TCP. */
	struct dns_gss_ctx *gss;
	dns_trace_fn *trace; /* NULL: no trace */
	void *trace_arg;     /* passed to @trace */
};

/* What one attempt at one server address gave. */
struct dns_outcome {
	char server[DNS_NAME_LEN + 64]; /* "host (addr:port)" or "addr:port" */
	int code;	/* 0, -ETIMEDOUT, -ECONNREFUSED, DNS_E* ... */
	bool answered;	/* a matching answer arrived */
	bool tcp;	/* the answer came over TCP */
	int rcode;	/* RCODE of the answer (extended with TSIG), -1: none */
	int tsig_error; /* TSIG error field (16 BADSIG, 17 BADKEY, ...) */
	bool tsig_present;  /* the answer carried a TSIG record */
	bool tsig_verified; /* ... and it verified against our request */
	int64_t skew;	    /* server time minus ours, seconds (BADTIME) */
	unsigned ms;	    /* duration of the attempt */
	char detail[128];   /* more on code: the resolver's text (ERESOLVE) */
	bool key_alt;	    /* signed with the key's alternate secret */
	/* GSS-TSIG: who signed, for whom (for the diagnosis). */
	bool gss;		 /* the attempt was signed with GSS-TSIG */
	char gss_principal[128]; /* "acme@EXAMPLE.COM" */
	char gss_service[128];	 /* "DNS/ns1.example.com@EXAMPLE.COM" */
	/*
	 * The answer verified only in Samba's form: its MAC covers our
	 * request's MAC without the 2-byte length RFC 8945 4.3.1 puts first.
	 * gss_samba_learned: this attempt was the first to find that out for
	 * the server (said once per server and client).
	 */
	bool gss_samba_form;
	bool gss_samba_learned;
};

#define DNS_ATTEMPTS_MAX 16

/* The result of one operation: every attempt, in order. */
struct dns_result {
	int code; /* 0 on success, else the code of the last attempt */
	size_t nattempts;
	struct dns_outcome attempts[DNS_ATTEMPTS_MAX];
	/* "ns.example.com has 16 addresses; only the first 4 were tried",
	 * or "" (DNS_HOST_ADDRS_MAX). */
	char note[DNS_NAME_LEN + 96];
	/* Why the message could not be built, when it failed before any
	 * server ("record name 'x.' is not in zone 'y.'"), or "". */
	char detail[2 * DNS_NAME_LEN + 48];
};

enum dns_action {
	DNS_ADD = 0,
	DNS_DELETE
};

#define DNS_TXT_MAX 4096 /* longest TXT value we publish, in bytes */

/*
 * What an UPDATE changes: add (RFC 2136 2.5.1, class IN, @ttl) or delete
 * exactly one (2.5.4, class NONE, TTL 0) TXT record @value at @fqdn in
 * @zone.  The strings are borrowed for the call.
 */
struct dns_change {
	const char *zone;
	const char *fqdn;
	enum dns_action action;
	const char *value;
	uint32_t ttl;
};

/*
 * Send @change to @servers.  Values over 255 bytes are split into
 * character-strings.  Tries each address of each server in order until one
 * answers NOERROR with a verified signature (when signed); every attempt
 * builds and signs a fresh message.  A definitive refusal (NOTAUTH,
 * REFUSED, a TSIG error) from one server also moves on to the next.
 * Deleting an absent value and adding a present one succeed (the server
 * answers NOERROR).  When an address rejects the key
 * (dns_outcome_key_rejected()) and the key has an alternate secret, the
 * update is signed with it and sent there once more, an outcome of its own
 * marked key_alt.  @res records every attempt.  A host name's first
 * DNS_HOST_ADDRS_MAX addresses are tried (res->note says when there were
 * more); within opts->deadline_ms, each address gets its share of what is
 * left, and the call stops with DNS_EDEADLINE when it passes.
 */
int dns_update(const struct dns_addr *servers, size_t nservers,
	       const struct dns_opts *opts, const struct dns_change *change,
	       struct dns_result *res);

/*
 * Larger UPDATEs go over TCP whatever opts->proto says: PowerDNS drops UDP
 * updates above 1-2 KB without an answer, and 1232 bytes is the size DNS
 * Flag Day 2020 settled on as safe over UDP.
 */
#define DNS_UDP_UPDATE_MAX 1232

/*
 * dns_update() for @nchanges records of one zone in one message: the
 * server applies all or none of them (RFC 2136 3.4), and bumps the zone's
 * serial once.  Every change names the same zone (case-insensitively, else
 * -EINVAL).  A message over DNS_UDP_UPDATE_MAX goes over TCP.  Every
 * record is checked before anything is sent (DNS_ENOTSUB, DNS_EVALUE).
 */
int dns_update_many(const struct dns_addr *servers, size_t nservers,
		    const struct dns_opts *opts,
		    const struct dns_change *changes, size_t nchanges,
		    struct dns_result *res);

#define DNS_REPLY_TXT_MAX 32

/* An answer to a query. */
struct dns_reply {
	struct dns_outcome outcome;
	char note[DNS_NAME_LEN + 96]; /* as in dns_result */
	bool aa;		      /* authoritative answer */
	size_t nanswers; /* RRs of the asked type in the answer section */
	/* TXT answers: each value's character-strings joined, NUL-terminated.
	 */
	size_t ntxt;
	char *txt[DNS_REPLY_TXT_MAX];
	/* The answer as received, when it was accepted (for dns_zone_*). */
	uint8_t *wire;
	size_t wirelen;
};

/*
 * Ask @server for @name / @qtype (e.g. 6 SOA, 16 TXT), signed when
 * opts->key is set, over opts->proto (UDP retries over TCP on TC=1),
 * within opts->deadline_ms, at most DNS_HOST_ADDRS_MAX addresses.  A
 * rejected key with an alternate secret is retried as in dns_update()
 * (also on an unsigned NOTAUTH, PowerDNS's answer to a bad signed query);
 * the outcome is then the retry's, marked key_alt.
 * Release @reply with dns_reply_release().
 */
int dns_query(const struct dns_addr *server, const struct dns_opts *opts,
	      const char *name, uint16_t qtype, struct dns_reply *reply);

/* Free the TXT strings and the wire, and zero the reply.  NULL-safe. */
void dns_reply_release(struct dns_reply *reply);

/* ------------------------------------------------------ zone discovery */

/* A zone's SOA as one server serves it (RFC 1035 3.3.13). */
struct dns_soa {
	char zone[DNS_NAME_LEN]; /* the SOA owner: absolute, lower case */
	uint32_t serial;
	uint32_t refresh; /* seconds between a secondary's checks */
	uint32_t retry;	  /* ... after a failed check */
	uint32_t expire;  /* ... until a secondary stops answering */
	uint32_t minimum; /* negative caching TTL (RFC 2308) */
};

/* What one answer to a SOA query says about the zone of the name. */
enum dns_zone_kind {
	DNS_ZONE_FOUND = 0, /* authoritative: the SOA owner is the zone */
	DNS_ZONE_NOTHERE,   /* not authoritative for the name: ask higher */
	DNS_ZONE_REFERRAL,  /* a delegation: NS records of a child zone */
};

#define DNS_ZONE_NS_MAX 8

struct dns_zone_answer {
	enum dns_zone_kind kind;
	struct dns_soa soa;	       /* FOUND */
	char delegation[DNS_NAME_LEN]; /* REFERRAL: the delegated zone */
	size_t nns;		       /* REFERRAL: its NS names */
	char ns[DNS_ZONE_NS_MAX][DNS_NAME_LEN];
};

/*
 * Read an answer (@wire, @len as received) to a SOA query for @qname
 * (absolute).  The SOA owner in the answer or authority section is the
 * zone, when the answer is authoritative and the owner is @qname or one of
 * its ancestors (RFC 2308 3: a negative answer carries the zone's SOA in
 * the authority section); NS records for an ancestor of @qname without the
 * AA bit are a referral (RFC 1034 4.3.2); anything else (REFUSED, NOTAUTH,
 * an answer from a resolver) says the server is not authoritative for the
 * name.  Pure: no I/O.  Returns 0 or DNS_EFORMAT.
 */
int dns_zone_answer_parse(const uint8_t *wire, size_t len, const char *qname,
			  struct dns_zone_answer *out);

/* The result of dns_zone_find(). */
struct dns_zone {
	struct dns_soa soa;		/* soa.zone is the zone found */
	char server[DNS_NAME_LEN + 64]; /* who answered: as dns_outcome */
	unsigned ntried;		/* SOA queries sent */
	unsigned ms;			/* all of them */
	char delegation[DNS_NAME_LEN];	/* DNS_EREFERRAL: the child zone */
	char ns[DNS_NAME_LEN * 2];	/* ... its NS names, ", " between */
	struct dns_outcome outcome;	/* the last query's outcome */
};

/*
 * Find the zone that holds @fqdn at @server itself: ask it for the SOA of
 * @fqdn (signed with opts->key or opts->gss when set: a TSIG-keyed view
 * answers as it will for the update) and, where it is not authoritative,
 * of each ancestor in turn, one label at a time up to the top-level
 * domain.  Returns 0 with the zone and its SOA in @zone; DNS_EREFERRAL when
 * the name is delegated to other servers (delegation and ns filled);
 * DNS_ENOZONE when no ancestor is served there; or the query's failure
 * (-ETIMEDOUT, DNS_ETSIG, ...) with zone->outcome.  @err gets one sentence
 * naming the server and the names tried.
 */
int dns_zone_find(const struct dns_addr *server, const struct dns_opts *opts,
		  const char *fqdn, struct dns_zone *zone, char *err,
		  size_t errlen);

/*
 * The SOA of @zone as @server serves it now (for serials across servers).
 * Returns 0, DNS_ENOZONE when the server is not authoritative for it, or
 * the query's failure; @o (may be NULL) gets the outcome.
 */
int dns_soa_get(const struct dns_addr *server, const struct dns_opts *opts,
		const char *zone, struct dns_soa *soa, struct dns_outcome *o);

/* One name server of a zone and the addresses its glue gives. */
struct dns_ns {
	char name[DNS_NAME_LEN];
	size_t naddrs;
	char addrs[4][48]; /* IP literals from the glue (A, AAAA) */
};

/*
 * The NS RRset of @zone as @server serves it, with the glue addresses of
 * the additional section (RFC 1034 4.2.1).  *@n gets the number of names
 * (at most @max).  Returns 0, DNS_ENOZONE when the server is not
 * authoritative for @zone, or the query's failure; @o as dns_soa_get().
 */
int dns_ns_get(const struct dns_addr *server, const struct dns_opts *opts,
	       const char *zone, struct dns_ns *ns, size_t max, size_t *n,
	       struct dns_outcome *o);

/* A server that answered an attempt, from its outcome ("host (a:p)"). */
int dns_outcome_addr(const struct dns_outcome *o, struct dns_addr *addr);

/* ------------------------------------------------------ verification */

/* What a server serves at a name after an update. */
struct dns_verify {
	bool ok;	   /* the value is there (present) or gone (not) */
	unsigned tries;	   /* TXT queries sent */
	unsigned ms;	   /* from the first query to the verdict */
	size_t nserved;	   /* TXT values served at the last answer */
	char served[1024]; /* them, quoted, ", " between; "none" */
	struct dns_outcome outcome; /* the last query's outcome */
};

/*
 * Ask @server (over TCP, no recursion, signed as opts says) for the TXT
 * RRset at @fqdn until @value is there (@present) or gone (!@present),
 * querying again with a growing pause (50 ms doubling) for at most
 * @wait_ms (0: one query).  Returns 0 when it is, DNS_EVERIFY when the
 * server never served what the update said within @wait_ms (@v says what
 * it did serve), or the query's failure.
 */
int dns_verify(const struct dns_addr *server, const struct dns_opts *opts,
	       const char *fqdn, const char *value, bool present,
	       unsigned wait_ms, struct dns_verify *v);
/*
 * Whether @o is the server rejecting the key itself: a TSIG error BADSIG
 * or BADKEY (RFC 8945 5.2: BIND and Knot, NOTAUTH), or a REFUSED without
 * any TSIG record (PowerDNS answers every TSIG failure this way).  A
 * signed REFUSED (BIND's update-policy denial) is not.
 */
bool dns_outcome_key_rejected(const struct dns_outcome *o);

/* ------------------------------------------------------ message layer */
/* Exposed for golden tests and fuzzing; dns_update() is built on them. */

#define DNS_MSG_MAX 65535

/* Build an unsigned UPDATE for @change into @buf; *@len gets its size. */
int dns_msg_update(uint8_t *buf, size_t *len, size_t max, uint16_t id,
		   const struct dns_change *change, char *err, size_t errlen);

/* The same with @nchanges records (see dns_update_many()). */
int dns_msg_update_many(uint8_t *buf, size_t *len, size_t max, uint16_t id,
			const struct dns_change *changes, size_t nchanges,
			char *err, size_t errlen);

/* Build an unsigned query with RD clear. */
int dns_msg_query(uint8_t *buf, size_t *len, size_t max, uint16_t id,
		  const char *name, uint16_t qtype, char *err, size_t errlen);

#define DNS_MAC_MAX 64

/*
 * Append a TSIG record (fudge 300, time signed @now) signing the message in
 * @buf with @key; @mac receives the request MAC needed to verify the answer.
 */
int dns_msg_sign(uint8_t *buf, size_t *len, size_t max,
		 const struct dns_key *key, uint64_t now, uint8_t *mac,
		 size_t *maclen);

/*
 * Check that @ans answers @query (ID, QR, opcode, question), read its RCODE
 * and TSIG (RFC 8945 5.3.2: BADKEY/BADSIG answers are unsigned, so the TSIG
 * error is read before verifying) and verify the answer's TSIG against the
 * request @mac when @key is set.  Fills @o (rcode, tsig_*, skew) and returns
 * 0 only for a NOERROR answer that verified (or is unsigned when @key is
 * NULL); DNS_ERCODE, DNS_ETSIG, DNS_EUNSIGNED, DNS_EMISMATCH, DNS_EFORMAT
 * otherwise.  @now is our clock, for the skew.
 */
int dns_msg_check(const uint8_t *ans, size_t anslen, const uint8_t *query,
		  size_t querylen, const struct dns_key *key,
		  const uint8_t *mac, size_t maclen, uint64_t now,
		  struct dns_outcome *o);

/*
 * Render the message @wire in presentation format into @buf, the way
 * `nsupdate -d` and kdig show it: a header line, the flags and section
 * counts, each section (ZONE/PREREQ/UPDATE for an UPDATE), and the TSIG
 * pseudosection.  A TSIG record carries the MAC, never the key's secret, so
 * the text is safe to log.  A message that does not parse is shown as its
 * size and the parser's complaint.  Always NUL-terminates @buf (a text that
 * does not fit ends with "..."); returns the length written, or a negative
 * code (-EINVAL for @buflen 0).
 */
int dns_msg_dump(const uint8_t *wire, size_t len, char *buf, size_t buflen);

/* ------------------------------------------------------------ GSS-TSIG */

/*
 * GSS-TSIG (RFC 3645) through the system's GSS-API (MIT Kerberos): a
 * security context is negotiated with TKEY (RFC 2930 mode 3) per server
 * address and reused for every message until shortly before the expiry the
 * server stated, or once after the server answered BADKEY (it restarted or
 * dropped the key).  Messages are signed with gss_get_mic() over the TSIG
 * input of RFC 8945 4.3.3 and answers verified with gss_verify_mic().
 * Credentials come from a keytab (a file, or bytes such as a Secret's
 * value, read through an anonymous memory file) or a password, into a
 * private in-memory credential cache: no kinit, no file left behind.  The
 * Kerberos configuration is the process's (KRB5_CONFIG).
 */
struct dns_gss_ctx;

/* Where a GSS-TSIG client's identity comes from.  Strings are copied. */
struct dns_gss_config {
	const char *principal;	  /* "acme" or "acme@EXAMPLE.COM" */
	const char *realm;	  /* appended to both names when given; NULL:
				     the principal's, else the default realm */
	const char *service_host; /* target DNS/<service_host>: the server's
				     name in its keytab, never an address */
	const char *keytab_path;  /* a keytab file, or ... */
	const uint8_t *keytab;	  /* ... keytab bytes (a Secret's value), */
	size_t keytab_len;	  /* or ... */
	const char *password;	  /* ... a password (kept, wiped at free) */
};

/*
 * Create a GSS-TSIG client for one principal.  Nothing is contacted yet:
 * credentials are acquired and contexts negotiated by the first
 * dns_update()/dns_query() that names it in dns_opts.gss, so every failure
 * lands in the attempt's outcome for the diagnosis.  Exactly one of
 * keytab_path, keytab and password must be set.  Returns 0, -ENOMEM, or
 * -EINVAL with the problem in @err.  The handle is thread-safe: share it.
 */
int dns_gss_new(struct dns_gss_ctx **ctx, const struct dns_gss_config *cfg,
		char *err, size_t errlen);

/*
 * Delete every negotiated key on its server (TKEY mode 5, signed, waiting
 * at most @timeout_ms per server; 0 means 2000), release the contexts and
 * credentials, wipe the password and keytab copies.  NULL-safe.
 */
void dns_gss_free(struct dns_gss_ctx *ctx, unsigned timeout_ms);

/* TKEY negotiations completed by @ctx so far (all servers). */
unsigned long dns_gss_negotiations(const struct dns_gss_ctx *ctx);

/* The client principal as used: "acme@EXAMPLE.COM" ("" before known). */
const char *dns_gss_principal(const struct dns_gss_ctx *ctx);

/* ------------------------------------------------------------ diagnosis */

/*
 * One sentence on what @o means and its likely cause, for a human:
 * "NOTAUTH/BADSIG (answer unsigned): the server does not accept the
 * signature of key 'acme-update.'; the secret or the algorithm does not
 * match the server's key".  Knows the measured habits of Knot, BIND and
 * PowerDNS (DESIGN.md section 4).  @key may be NULL (unsigned request).
 * Returns @buf.
 */
char *dns_outcome_explain(const struct dns_outcome *o,
			  const struct dns_key *key, const char *zone,
			  char *buf, size_t len);

/*
 * The whole story of a failed operation: "<what> of FQDN in zone ZONE at
 * SERVER failed: <explanation>", and for several attempts what each server
 * answered.  @what is "update", "add", "delete", "query".  Returns @buf.
 */
char *dns_result_explain(const struct dns_result *res, const char *what,
			 const struct dns_key *key, const char *zone,
			 const char *fqdn, char *buf, size_t len);

/* RCODE mnemonic ("NOERROR", "NOTAUTH", "BADSIG", ...), "RCODE<n>" else. */
const char *dns_rcode_name(int rcode);

#endif /* RFC2136_DNS_H */
