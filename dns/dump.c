/*
 * dump.c - a DNS message in presentation format, for the caller's debug
 * logs: what `nsupdate -d` and kdig print (Knot's src/utils/common/exec.c
 * print_packet is the model; written afresh here).
 *
 * Only the wire is shown.  A TSIG record holds the key name, the algorithm,
 * the time and the MAC (RFC 8945 4.2), never the shared secret, so nothing
 * here can leak a key.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/libknot.h>

#include "dns/dns.h"

/* Text being built in the caller's buffer; stops at the end, marked. */
struct text {
	char *buf;
	size_t size, len;
	bool full;
};

static void text_put(struct text *t, const char *s, size_t n)
{
	if (t->full)
		return;
	if (n >= t->size - t->len) {
		/* Keep room for "..." and the NUL. */
		size_t room = t->size - t->len - 1;
		size_t keep = room > 3 ? room - 3 : 0;

		memcpy(t->buf + t->len, s, keep);
		t->len += keep;
		memcpy(t->buf + t->len, "...", room - keep);
		t->len += room - keep;
		t->buf[t->len] = '\0';
		t->full = true;
		return;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

static void text_printf(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_printf(struct text *t, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	text_put(t, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static const char *opcode_name(unsigned op)
{
	/* RFC 1035 4.1.1, RFC 1996 (NOTIFY), RFC 2136 (UPDATE). */
	static const char *const names[] = {"QUERY", "IQUERY", "STATUS",
					    NULL,    "NOTIFY", "UPDATE"};

	return op < sizeof(names) / sizeof(names[0]) && names[op] != NULL
		   ? names[op]
		   : "OPCODE?";
}

/* One RR (or a record with no RDATA, as in a zone or delete section). */
static void rr_put(struct text *t, const knot_rrset_t *rr, char **tmp,
		   size_t *tmplen)
{
	knot_dump_style_t style = KNOT_DUMP_STYLE_DEFAULT;
	int n;

	/* The class tells an add (IN) from a delete (NONE, ANY): RFC 2136. */
	style.show_class = true;
	n = knot_rrset_txt_dump(rr, tmp, tmplen, &style);

	if (n < 0) {
		text_printf(t, ";; (record not shown: %s)\n", knot_strerror(n));
		return;
	}
	text_put(t, *tmp, (size_t)n);
	/* An RR without RDATA is dumped without a line end. */
	if (n == 0 || (*tmp)[n - 1] != '\n')
		text_put(t, "\n", 1);
}

static void section_put(struct text *t, const knot_pkt_t *pkt,
			knot_section_t id, const char *name, char **tmp,
			size_t *tmplen)
{
	const knot_pktsection_t *sec = knot_pkt_section(pkt, id);
	bool header = false;

	for (uint16_t i = 0; i < sec->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(sec, i);

		/* OPT and TSIG are pseudo-records, shown apart. */
		if (rr->type == KNOT_RRTYPE_OPT || rr->type == KNOT_RRTYPE_TSIG)
			continue;
		if (!header) {
			text_printf(t, "\n;; %s SECTION:\n", name);
			header = true;
		}
		rr_put(t, rr, tmp, tmplen);
	}
}

/* The header: opcode, status, id, flags and the four counts. */
static void header_put(struct text *t, const uint8_t *wire, bool update)
{
	text_printf(t, ";; ->>HEADER<<- opcode: %s; status: %s; id: %u\n",
		    opcode_name(knot_wire_get_opcode(wire)),
		    dns_rcode_name(knot_wire_get_rcode(wire)),
		    knot_wire_get_id(wire));
	text_printf(t, ";; Flags:%s%s%s%s%s%s%s; ",
		    knot_wire_get_qr(wire) ? " qr" : "",
		    knot_wire_get_aa(wire) ? " aa" : "",
		    knot_wire_get_tc(wire) ? " tc" : "",
		    knot_wire_get_rd(wire) ? " rd" : "",
		    knot_wire_get_ra(wire) ? " ra" : "",
		    knot_wire_get_ad(wire) ? " ad" : "",
		    knot_wire_get_cd(wire) ? " cd" : "");
	/* RFC 2136 2.2: the sections of an UPDATE have other names. */
	text_printf(t, "%s: %u; %s: %u; %s: %u; ADDITIONAL: %u\n",
		    update ? "ZONE" : "QUERY", knot_wire_get_qdcount(wire),
		    update ? "PREREQ" : "ANSWER", knot_wire_get_ancount(wire),
		    update ? "UPDATE" : "AUTHORITY",
		    knot_wire_get_nscount(wire), knot_wire_get_arcount(wire));
}

/* The question (an UPDATE's zone): name, class and type. */
static void question_put(struct text *t, const knot_pkt_t *pkt, bool update)
{
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	char type[32], cls[32];

	if (knot_wire_get_qdcount(pkt->wire) == 0)
		return;
	if (knot_dname_to_str(name, knot_pkt_qname(pkt), sizeof(name)) == NULL)
		snprintf(name, sizeof(name), "?");
	if (knot_rrtype_to_string(knot_pkt_qtype(pkt), type, sizeof(type)) < 0)
		snprintf(type, sizeof(type), "?");
	if (knot_rrclass_to_string(knot_pkt_qclass(pkt), cls, sizeof(cls)) < 0)
		snprintf(cls, sizeof(cls), "?");
	text_printf(t, "\n;; %s SECTION:\n;%s\t\t%s\t%s\n",
		    update ? "ZONE" : "QUESTION", name, cls, type);
}

/*
 * The message as kdig prints it, without a final line end: the header
 * from @wire as received (parsing took the TSIG record off @pkt's copy),
 * the records from @pkt.
 */
static void pkt_put(struct text *t, const uint8_t *wire, const knot_pkt_t *pkt,
		    char **tmp, size_t *tmplen)
{
	bool update = knot_wire_get_opcode(wire) == KNOT_OPCODE_UPDATE;

	header_put(t, wire, update);
	question_put(t, pkt, update);
	section_put(t, pkt, KNOT_ANSWER, update ? "PREREQ" : "ANSWER", tmp,
		    tmplen);
	section_put(t, pkt, KNOT_AUTHORITY, update ? "UPDATE" : "AUTHORITY",
		    tmp, tmplen);
	section_put(t, pkt, KNOT_ADDITIONAL, "ADDITIONAL", tmp, tmplen);
	if (pkt->tsig_rr != NULL) {
		text_put(t, "\n;; TSIG PSEUDOSECTION:\n",
			 strlen("\n;; TSIG PSEUDOSECTION:\n"));
		rr_put(t, pkt->tsig_rr, tmp, tmplen);
	}
	/* No line end after the last line: the caller adds its own. */
	if (!t->full && t->len > 0 && t->buf[t->len - 1] == '\n')
		t->buf[--t->len] = '\0';
}

int dns_msg_dump(const uint8_t *wire, size_t len, char *buf, size_t buflen)
{
	struct text t = {.buf = buf, .size = buflen};
	knot_pkt_t *pkt = NULL;
	uint8_t *copy = NULL;
	char *tmp = NULL;
	size_t tmplen = 0;
	int ret;

	if (buf == NULL || buflen == 0)
		return -EINVAL;
	buf[0] = '\0';
	if (wire == NULL || len < KNOT_WIRE_HEADER_SIZE || len > DNS_MSG_MAX) {
		text_printf(&t, ";; %zu bytes: not a DNS message", len);
		return (int)t.len;
	}
	/* knot_pkt_parse() takes the TSIG record off the wire: a copy. */
	copy = malloc(len);
	tmplen = 1024;
	tmp = malloc(tmplen);
	if (copy == NULL || tmp == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(copy, wire, len);
	pkt = knot_pkt_new(copy, (uint16_t)len, NULL);
	if (pkt == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	ret = knot_pkt_parse(pkt, 0);
	if (ret != KNOT_EOK)
		text_printf(&t, ";; %zu bytes, id %u: malformed (%s)", len,
			    knot_wire_get_id(wire), knot_strerror(ret));
	else
		pkt_put(&t, wire, pkt, &tmp, &tmplen);
	ret = (int)t.len;
out:
	knot_pkt_free(pkt);
	free(copy);
	free(tmp);
	return ret;
}
