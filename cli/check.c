/*
 * check.c - the check command: prove step by step what the cert-manager
 * documentation tells people to test by hand with nsupdate and dig.  For
 * each nameserver: it answers over UDP and TCP, is authoritative for the
 * zone, accepts the key (a signed SOA query verifies), takes an UPDATE that
 * adds a random TXT value at --fqdn, serves it, takes the delete, and the
 * value is gone.  One line per step; on the first failure the diagnosis and
 * a hint.  Once an add was attempted the delete is always attempted, so no
 * test value stays behind.
 *
 * Only step 4 and the updates are signed, with a TSIG key or GSS-TSIG
 * alike: the SOA and TXT queries of the other steps are plain queries, so
 * a key or signature problem shows up as one, in step 4, never as a server
 * that seems not to answer or not to be authoritative.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dns/dns.h"
#include "cli/cli.h"
#include "util/clock.h"
#include "util/random.h"

#define QTYPE_SOA 6
#define QTYPE_TXT 16
/* How long every authoritative server gets to follow (--wait to change). */
#define CHECK_WAIT_MS 5000

static const char check_usage[] =
    "usage:\n"
    "rfc2136-webhook check   --nameserver ADDR ... --zone ZONE [--fqdn "
    "NAME] [--protocol ...] [--timeout ...] KEY\n"
    "KEY: --key-file PATH [--tsig-key-name NAME] [--tsig-algorithm ALG]\n"
    "     (name and algorithm are needed only when the file holds a bare "
    "secret)\n"
    "  or GSS-TSIG: --gss-principal NAME --gss-service-host HOST\n"
    "     (--gss-keytab PATH | --gss-password-file PATH) [--gss-realm "
    "REALM]\n"
    "\n"
    "Test a nameserver, zone and key step by step, as cert-manager will "
    "use them:\n"
    "the server answers over UDP and TCP, is authoritative for ZONE, "
    "accepts the\n"
    "key (signed SOA query), a random TXT value can be added at NAME "
    "(default\n"
    "_acme-challenge.ZONE), is then served, can be deleted, and is "
    "gone.  Each\n"
    "nameserver is checked in turn.  The test value is always deleted "
    "again.\n"
    "\n"
    "options:\n"
    "  --nameserver ADDR    192.0.2.1, 192.0.2.1:5353, 2001:db8::1, "
    "[2001:db8::1]:53,\n"
    "                       ns1.example.com[:port]; repeatable\n"
    "  --zone ZONE          the zone to update; optional with --fqdn: the "
    "zone of\n"
    "                       NAME is then asked of the nameserver\n"
    "  --fqdn NAME          where to add the test value, default "
    "_acme-challenge.ZONE\n"
    "  --protocol udp|tcp   UDP (default; retried over TCP when "
    "truncated) or TCP\n"
    "  --timeout SECONDS    per attempt, decimals allowed (2.5), "
    "default 5\n"
    "  --key-file PATH      TSIG key (any format: BIND key block, "
    "K*.private,\n"
    "                       [alg:]name:secret, bare base64 secret)\n"
    "  --tsig-key-name NAME the key's name (for a bare secret)\n"
    "  --tsig-algorithm ALG the key's algorithm (for a bare secret)\n"
    "  --authoritative ADDR the zone's authoritative servers to check "
    "(repeatable);\n"
    "                       default: its NS records at the nameserver, "
    "port 53\n"
    "  --wait DURATION      how long they get to follow, default 5s\n"
    "  --help               this text\n"
    "\n"
    "After the add (and the delete), every authoritative server is listed "
    "with its\n"
    "SOA serial and whether it serves the value; a lagging one fails the "
    "check.\n"
    "\n"
    "Exit status: 0 every step passed, 1 a step failed (the diagnosis "
    "on stderr),\n"
    "2 usage error.\n";

/* Everything one server's check needs. */
struct check {
	const struct cli_opts *o;
	const struct dns_key *key; /* NULL: unsigned */
	const struct dns_addr *server;
	const char *server_text;
	const char *fqdn;
	const char *value;
	struct dns_opts dopts; /* as the user asked (protocol, key) */
	int step;
	int failed_step;	/* the first step that failed */
	struct dns_result last; /* of the last update */
	/* The last answer received, rendered: shown when it fails to verify. */
	char answer[3000];
	bool have_answer;
};

/* dns_trace_fn: keep the last answer, to show it when it does not verify. */
static void check_trace(void *arg, const char *event, const char *proto,
			const char *server, const uint8_t *wire, size_t len)
{
	struct check *c = arg;

	(void)proto;
	(void)server;
	if (strcmp(event, "receive") != 0)
		return;
	dns_msg_dump(wire, len, c->answer, sizeof(c->answer));
	c->have_answer = true;
}

/*
 * After an answer that arrived but did not verify (a bad or missing
 * signature, our own signature echoed): the answer as parsed, marked as
 * unverified, so the user sees what the server said.
 */
static void print_unverified(const struct check *c, const struct dns_outcome *o)
{
	const char *p = c->answer, *nl;

	if (!c->have_answer || !o->answered || o->tsig_verified ||
	    (o->code != DNS_ETSIG && o->code != DNS_EUNSIGNED &&
	     o->code != DNS_EECHO))
		return;
	fprintf(stderr, "the answer, NOT verified (its signature did not "
			"check out; for diagnosis only):\n");
	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL) {
			fprintf(stderr, "  %s\n", p);
			break;
		}
		fprintf(stderr, "  %.*s\n", (int)(nl - p), p);
	}
}

/* One line per step: outcome, what, time. */
static void step_line(struct check *c, const char *status, uint64_t ms,
		      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void step_line(struct check *c, const char *status, uint64_t ms,
		      const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (strcmp(status, "FAIL") == 0 && c->failed_step == 0)
		c->failed_step = c->step + 1;
	printf("  %-4s  %d. %s  (%llu ms)\n", status, ++c->step, what,
	       (unsigned long long)ms);
	fflush(stdout);
}

/* The diagnosis of a failed query or update, to stderr. */
static void print_diagnosis(const struct check *c, const struct dns_result *r,
			    const char *what, const char *name)
{
	char msg[4096];

	msg[0] = '\0';
	dns_result_explain(r, what, c->key, c->o->zone, name, msg, sizeof(msg));
	fprintf(stderr, "error: %s\n", msg[0] ? msg : dns_strerror(r->code));
}

/*
 * Query @name/@qtype at the server, signed with @key or, with @gss, the
 * GSS-TSIG context (else unsigned); @r gets the attempt for diagnoses.
 */
static int check_query(struct check *c, enum dns_proto proto,
		       const struct dns_key *key, bool gss, const char *name,
		       uint16_t qtype, struct dns_reply *reply,
		       struct dns_result *r)
{
	struct dns_opts dopts = c->dopts;
	int ret;

	dopts.proto = proto;
	dopts.key = key;
	if (!gss)
		dopts.gss = NULL;
	dopts.trace = check_trace;
	dopts.trace_arg = c;
	c->have_answer = false;
	memset(reply, 0, sizeof(*reply));
	ret = dns_query(c->server, &dopts, name, qtype, reply);
	memset(r, 0, sizeof(*r));
	r->code = ret;
	r->nattempts = 1;
	r->attempts[0] = reply->outcome;
	return ret;
}

/* Does the server now serve @value at the check's name? -1: no answer. */
static int txt_served(struct check *c, bool *served, struct dns_result *r)
{
	struct dns_reply reply;
	int ret;

	*served = false;
	ret = check_query(c, c->dopts.proto, NULL, false, c->fqdn, QTYPE_TXT,
			  &reply, r);
	/* NXDOMAIN is a fine answer here: nothing at that name. */
	if (ret != 0 && !(reply.outcome.answered && reply.outcome.rcode == 3)) {
		dns_reply_release(&reply);
		return -1;
	}
	for (size_t i = 0; i < reply.ntxt; i++)
		if (reply.txt[i] && strcmp(reply.txt[i], c->value) == 0)
			*served = true;
	dns_reply_release(&reply);
	return 0;
}

/* Steps 1-3: the server answers (UDP, TCP) and is authoritative. */
static int check_reach(struct check *c)
{
	struct dns_reply udp, tcp, *soa = NULL;
	struct dns_result r;
	uint64_t t0;
	int ret = -1;

	memset(&udp, 0, sizeof(udp));
	memset(&tcp, 0, sizeof(tcp));
	if (c->o->proto == DNS_PROTO_UDP) {
		t0 = util_now_ms();
		check_query(c, DNS_PROTO_UDP, NULL, false, c->o->zone,
			    QTYPE_SOA, &udp, &r);
		if (!udp.outcome.answered) {
			step_line(c, "FAIL", util_now_ms() - t0,
				  "answers an SOA query over UDP");
			print_diagnosis(c, &r, "query", c->o->zone);
			cli_hint(&udp.outcome, CLI_STAGE_REACH, c->o, c->key,
				 c->fqdn);
			goto out;
		}
		step_line(c, "ok", util_now_ms() - t0,
			  "answers an SOA query over UDP (%s)",
			  dns_rcode_name(udp.outcome.rcode));
		soa = &udp;
	} else {
		step_line(c, "skip", 0,
			  "answers an SOA query over UDP (--protocol tcp)");
	}

	t0 = util_now_ms();
	check_query(c, DNS_PROTO_TCP, NULL, false, c->o->zone, QTYPE_SOA, &tcp,
		    &r);
	if (!tcp.outcome.answered) {
		step_line(c, "FAIL", util_now_ms() - t0,
			  "answers an SOA query over TCP");
		print_diagnosis(c, &r, "query", c->o->zone);
		cli_hint(&tcp.outcome, CLI_STAGE_REACH, c->o, c->key, c->fqdn);
		goto out;
	}
	step_line(c, "ok", util_now_ms() - t0,
		  "answers an SOA query over TCP (%s)",
		  dns_rcode_name(tcp.outcome.rcode));
	if (soa == NULL)
		soa = &tcp;

	/* RFC 1035 4.1.1: AA marks an authoritative answer. */
	if (soa->outcome.rcode != 0 || !soa->aa || soa->nanswers == 0) {
		step_line(c, "FAIL", 0, "authoritative for %s", c->o->zone);
		if (soa->outcome.rcode != 0) {
			r.code = DNS_ERCODE;
			r.nattempts = 1;
			r.attempts[0] = soa->outcome;
			print_diagnosis(c, &r, "query", c->o->zone);
		} else {
			fprintf(stderr,
				"error: %s answered the SOA query for %s "
				"without %s: it is not authoritative for "
				"the zone (a resolver or forwarder?)\n",
				soa->outcome.server, c->o->zone,
				soa->aa ? "an SOA record" : "the AA bit");
		}
		cli_hint(&soa->outcome, CLI_STAGE_ZONE, c->o, c->key, c->fqdn);
		goto out;
	}
	step_line(c, "ok", 0, "authoritative for %s (AA bit set, SOA served)",
		  c->o->zone);
	ret = 0;
out:
	dns_reply_release(&udp);
	dns_reply_release(&tcp);
	return ret;
}

/*
 * Step 4 with GSS-TSIG: a context is negotiated (TKEY, RFC 3645) and a
 * signed SOA query comes back verified with it.
 */
static int check_gss(struct check *c)
{
	struct dns_reply reply;
	struct dns_result r;
	uint64_t t0 = util_now_ms();
	int ret;

	ret = check_query(c, DNS_PROTO_TCP, NULL, true, c->o->zone, QTYPE_SOA,
			  &reply, &r);
	dns_reply_release(&reply);
	if (ret != 0) {
		step_line(c, "FAIL", util_now_ms() - t0,
			  "GSS-TSIG as %s with %s: signed SOA query",
			  dns_gss_principal(c->dopts.gss),
			  r.attempts[0].gss_service);
		print_diagnosis(c, &r, "signed query", c->o->zone);
		print_unverified(c, &r.attempts[0]);
		if (r.attempts[0].code == DNS_ETSIG &&
		    r.attempts[0].tsig_present && r.attempts[0].tsig_error == 0)
			fprintf(stderr,
				"hint: the server answered, but its signature "
				"does not verify: something on the way (a DNS "
				"proxy, a firewall rewriting DNS) alters "
				"answers, or the server signs in a form this "
				"client does not know; run the check from a "
				"host next to the server and see its log\n");
		else
			cli_hint_update(&r, c->o, NULL, c->fqdn);
		return -1;
	}
	step_line(c, "ok", util_now_ms() - t0,
		  "GSS-TSIG as %s with %s: context negotiated, signed SOA "
		  "answer verified%s",
		  dns_gss_principal(c->dopts.gss), r.attempts[0].gss_service,
		  r.attempts[0].gss_samba_form
		      ? " (the server signs answers without the request MAC "
			"length: Samba's form)"
		      : "");
	return 0;
}

/* Step 4: a signed SOA query comes back verified. */
static int check_key(struct check *c)
{
	struct dns_reply reply;
	struct dns_result r;
	uint64_t t0 = util_now_ms();
	int ret;

	if (c->dopts.gss != NULL)
		return check_gss(c);
	if (c->key == NULL) {
		step_line(c, "skip", 0,
			  "key accepted (no --key-file: unsigned updates)");
		return 0;
	}
	ret = check_query(c, c->dopts.proto, c->key, false, c->o->zone,
			  QTYPE_SOA, &reply, &r);
	dns_reply_release(&reply);
	if (ret != 0) {
		step_line(c, "FAIL", util_now_ms() - t0,
			  "key %s (%s) accepted: signed SOA query",
			  c->key->name, dns_alg_to_text(c->key->alg));
		const struct dns_outcome *o = &r.attempts[0];
		if (o->answered && !o->tsig_present && o->tsig_error == 0 &&
		    (o->rcode == 5 || o->rcode == 9))
			/*
			 * Step 3 proved the server serves the zone, so a
			 * plain NOTAUTH/REFUSED here is about the key:
			 * PowerDNS answers every TSIG failure this way.
			 */
			fprintf(stderr,
				"error: %s answered the signed SOA query "
				"%s without a signature, though it answered "
				"the unsigned one authoritatively: it does "
				"not accept key '%s' (PowerDNS answers this "
				"way when the key is unknown or its secret "
				"or algorithm differs)\n",
				o->server, dns_rcode_name(o->rcode),
				c->key->name);
		else
			print_diagnosis(c, &r, "signed query", c->o->zone);
		print_unverified(c, &r.attempts[0]);
		cli_key_result(c->key, &r);
		cli_hint(&r.attempts[0],
			 r.attempts[0].answered ? CLI_STAGE_KEY
						: CLI_STAGE_REACH,
			 c->o, c->key, c->fqdn);
		return -1;
	}
	step_line(c, "ok", util_now_ms() - t0,
		  "key %s (%s) accepted: signed SOA answer verified",
		  c->key->name, dns_alg_to_text(c->key->alg));
	/* The secret has two readings and the second one was taken. */
	if (r.attempts[0].key_alt)
		printf("  warn  %s\n", c->key->alt_warning);
	return 0;
}

/*
 * RFC 2136 3.7: an UPDATE is applied whole or not at all, so an error
 * answer means nothing changed; without an answer we cannot know.
 */
static bool update_maybe_applied(const struct dns_result *r)
{
	for (size_t i = 0; i < r->nattempts; i++)
		if (!r->attempts[i].answered || r->attempts[i].rcode == 0)
			return true;
	return r->nattempts == 0;
}

/*
 * One UPDATE at this server; prints the step and why it failed.  A clean-up
 * delete (@cleanup) after a refused add (@failed_add) that cannot have
 * changed anything is reported as harmless.
 */
static int check_update(struct check *c, enum dns_action action,
			const char *label, bool cleanup,
			const struct dns_result *failed_add)
{
	struct dns_change change = {c->o->zone, c->fqdn, action, c->value,
				    CLI_TTL_DEFAULT};
	struct dns_result r;
	char quoted[128];
	uint64_t t0 = util_now_ms();
	int ret;

	memset(&r, 0, sizeof(r));
	ret = dns_update(c->server, 1, &c->dopts, &change, &r);
	c->last = r;
	cli_quote(c->value, quoted, sizeof(quoted));
	if (ret == 0) {
		step_line(c, "ok", util_now_ms() - t0, "%s TXT %s at %s", label,
			  quoted, c->fqdn);
		return 0;
	}
	if (cleanup && failed_add && !update_maybe_applied(failed_add)) {
		step_line(c, "-", util_now_ms() - t0,
			  "%s TXT %s: refused as well; the add was refused, "
			  "so nothing was left behind",
			  label, quoted);
		return ret;
	}
	step_line(c, "FAIL", util_now_ms() - t0, "%s TXT %s at %s", label,
		  quoted, c->fqdn);
	print_diagnosis(c, &r, action == DNS_ADD ? "add" : "delete", c->fqdn);
	cli_key_result(c->key, &r);
	cli_hint_update(&r, c->o, c->key, c->fqdn);
	if (cleanup)
		fprintf(stderr,
			"warning: the test value may be left at %s: remove it "
			"with 'rfc2136-webhook cleanup --value %s' and the "
			"same options\n",
			c->fqdn, c->value);
	return ret;
}

/* Steps 6 and 8: the value is (or is no longer) served. */
static int check_served(struct check *c, bool want)
{
	struct dns_result r;
	bool served;
	uint64_t t0 = util_now_ms();

	if (txt_served(c, &served, &r) != 0) {
		step_line(c, "FAIL", util_now_ms() - t0, "TXT query at %s",
			  c->fqdn);
		print_diagnosis(c, &r, "query", c->fqdn);
		cli_hint(&r.attempts[0],
			 r.attempts[0].answered ? CLI_STAGE_ZONE
						: CLI_STAGE_REACH,
			 c->o, c->key, c->fqdn);
		return -1;
	}
	if (served != want) {
		step_line(c, "FAIL", util_now_ms() - t0, "%s",
			  want ? "the server serves the test value"
			       : "the test value is gone");
		fprintf(stderr,
			"error: %s answered the %s with NOERROR, but %s the "
			"test value at %s\n",
			r.attempts[0].server, want ? "add" : "delete",
			want ? "does not serve" : "still serves", c->fqdn);
		if (want)
			cli_hint(&r.attempts[0], CLI_STAGE_SERVE, c->o, c->key,
				 c->fqdn);
		return -1;
	}
	step_line(c, "ok", util_now_ms() - t0, "%s",
		  want ? "the server serves the test value"
		       : "the test value is gone");
	return 0;
}

/*
 * After step 6 and step 8: every authoritative server of the zone (the NS
 * RRset at this server, or --authoritative) serves the value, or no longer
 * does.  A step of its own when at least one of them serves the zone;
 * servers that do not answer, or answer without serving the zone, are
 * listed with a warning (a check from outside the cluster may not reach
 * them), never waited for.
 */
static int check_propagation(struct check *c, bool want)
{
	struct cli_auth a[CLI_AUTH_MAX];
	struct dns_soa soa;
	char err[1024], line[1024];
	unsigned budget = c->o->wait_ms ? c->o->wait_ms : CHECK_WAIT_MS;
	uint64_t t0 = util_now_ms();
	size_t n = 0, nauth = 0, nok = 0;

	if (cli_auth_list(c->o, &c->dopts, c->server, a, CLI_AUTH_MAX, &n, &soa,
			  err, sizeof(err)) != 0) {
		printf("        authoritative servers not listed: %s\n", err);
		return 0;
	}
	cli_propagation_poll(c->o, a, n, c->value, want, budget);
	for (size_t i = 0; i < n; i++) {
		nauth += a[i].has_serial;
		nok += a[i].has_serial && a[i].ok;
	}
	if (nauth > 0)
		step_line(c, nok == nauth ? "ok" : "FAIL", util_now_ms() - t0,
			  "%zu of %zu authoritative servers %s", nok, nauth,
			  want ? "serve the test value" : "no longer serve it");
	printf("        zone %s: serial %u at the primary, SOA refresh %u s, "
	       "retry %u s, expire %u s\n",
	       soa.zone, soa.serial, soa.refresh, soa.retry, soa.expire);
	for (size_t i = 0; i < n; i++) {
		cli_auth_line(&a[i], &soa, want, line, sizeof(line));
		printf("        %-5s %s\n",
		       !a[i].has_serial ? "warn"
		       : a[i].ok	? "ok"
					: "LAG",
		       line);
	}
	if (nok < nauth) {
		fprintf(stderr,
			"error: %zu of %zu authoritative servers of %s %s the "
			"test value after %u ms\n",
			nauth - nok, nauth, soa.zone,
			want ? "do not serve" : "still serve", budget);
		cli_auth_hint(a, n, &soa, c->server_text, stderr);
		return -1;
	}
	if (nauth < n && want)
		cli_auth_hint(a, n, &soa, c->server_text, stdout);
	return 0;
}

/* Steps 5-8.  Once the add was attempted, the delete always is. */
static int check_add_delete(struct check *c)
{
	struct dns_result add;

	if (check_update(c, DNS_ADD, "add", false, NULL) != 0) {
		/*
		 * The add may have been applied even if no answer came back
		 * (a lost UDP answer): delete to be sure.
		 */
		add = c->last;
		check_update(c, DNS_DELETE, "clean up: delete", true, &add);
		return -1;
	}
	if (check_served(c, true) != 0 || check_propagation(c, true) != 0) {
		check_update(c, DNS_DELETE, "clean up: delete", true, NULL);
		return -1;
	}
	if (check_update(c, DNS_DELETE, "delete", false, NULL) != 0)
		return -1;
	if (check_served(c, false) != 0)
		return -1;
	return check_propagation(c, false);
}

static int check_server(struct check *c)
{
	printf("check %s: zone %s, name %s, %s\n", c->server_text, c->o->zone,
	       c->fqdn,
	       c->dopts.gss ? "signed with GSS-TSIG"
	       : c->key	    ? "signed"
			    : "unsigned");
	if (c->key)
		printf("  key %s (%s)\n", c->key->name,
		       dns_alg_to_text(c->key->alg));
	if (c->key && c->key->weak[0] != '\0')
		printf("  warn  %s\n", c->key->weak);
	fflush(stdout);
	c->step = 0;
	c->failed_step = 0;
	if (check_reach(c) != 0 || check_key(c) != 0 ||
	    check_add_delete(c) != 0) {
		printf("check %s: FAILED at step %d\n", c->server_text,
		       c->failed_step);
		return -1;
	}
	printf("check %s: all %d steps passed\n", c->server_text, c->step);
	return 0;
}

/* A value nobody else uses, so parallel checks never meet. */
static void random_value(char *buf, size_t len)
{
	uint8_t rnd[8] = {0};
	char hex[17];

	if (util_random(rnd, sizeof(rnd)) != 0) {
		/* Never fatal: the value need only be unlikely to clash. */
		uint64_t t = util_now_ms();
		memcpy(rnd, &t, sizeof(rnd));
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	snprintf(buf, len, "rfc2136-webhook-check-%s", hex);
}

int cli_check_main(int argc, char **argv)
{
	struct cli_opts o = {.cmd = "check"};
	struct dns_key key;
	struct check c;
	bool is_signed = false;
	char value[64], found_at[DNS_NAME_LEN + 64];
	size_t nfailed = 0;
	int ret;

	memset(&key, 0, sizeof(key));
	ret = cli_opts_parse(&o, argc, argv, 0, check_usage);
	if (ret != CLI_OK)
		return ret < 0 ? CLI_OK : ret;
	if (o.fqdn[0] == '\0') {
		/* The name cert-manager uses for the zone apex. */
		if (strcmp(o.zone, ".") == 0)
			snprintf(o.fqdn, sizeof(o.fqdn), "_acme-challenge.");
		else if ((size_t)snprintf(o.fqdn, sizeof(o.fqdn),
					  "_acme-challenge.%s",
					  o.zone) >= sizeof(o.fqdn)) {
			fprintf(stderr, "rfc2136-webhook check: --zone is too "
					"long for _acme-challenge.ZONE\n");
			return CLI_USAGE;
		}
	}
	if (cli_key_load(&o, &key, &is_signed) != 0)
		return CLI_FAIL;
	random_value(value, sizeof(value));
	if (!o.zone_given) {
		struct dns_opts dopts;

		cli_dns_opts(&o, is_signed ? &key : NULL, &dopts);
		if (cli_zone_discover(&o, &dopts, found_at, sizeof(found_at)) !=
		    0) {
			ret = CLI_FAIL;
			goto out;
		}
		printf("check: zone %s (found at %s)\n", o.zone, found_at);
	}

	for (size_t i = 0; i < o.nservers; i++) {
		memset(&c, 0, sizeof(c));
		c.o = &o;
		c.key = is_signed ? &key : NULL;
		c.server = &o.servers[i];
		c.server_text = o.server_text[i];
		c.fqdn = o.fqdn;
		c.value = value;
		cli_dns_opts(&o, c.key, &c.dopts);
		if (check_server(&c) != 0)
			nfailed++;
	}
	if (o.nservers > 1)
		printf("check: %zu of %zu nameservers passed\n",
		       o.nservers - nfailed, o.nservers);
	ret = nfailed ? CLI_FAIL : CLI_OK;
out:
	dns_key_release(&key);
	cli_release(&o);
	return ret;
}
