/*
 * msg_internal.h - what transport.c, gss.c and tkey.c need from msg.c beyond
 * dns.h.
 * Not part of the module's contract.
 */
#ifndef RFC2136_DNS_MSG_INTERNAL_H
#define RFC2136_DNS_MSG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <libknot/libknot.h>

#include "dns/dns.h"

/*
 * Cheap first look at a datagram or TCP message: 0 when it is at least a
 * header with our ID, QR set and our opcode, DNS_EMISMATCH or DNS_EFORMAT
 * otherwise.  The transport ignores what fails here and keeps waiting.
 */
int dns_msg_header_match(const uint8_t *ans, size_t anslen,
			 const uint8_t *query, size_t querylen);

/*
 * A new packet for a message of at most @max bytes (DNS_MSG_MAX when
 * larger) with ID @id and opcode @opcode, or NULL.  Free with
 * knot_pkt_free().
 */
knot_pkt_t *dns_msg_pkt_new(size_t max, uint16_t id, uint8_t opcode);

/*
 * Copy the finished @pkt out to @buf (at most @max bytes) and its size to
 * *@len.  Returns 0 or -EMSGSIZE.
 */
int dns_msg_pkt_export(const knot_pkt_t *pkt, uint8_t *buf, size_t *len,
		       size_t max);

/* True when the answer has the TC bit (RFC 1035 4.1.1). */
int dns_msg_truncated(const uint8_t *ans, size_t anslen);

/*
 * Fill @reply's aa, nanswers and TXT strings from an answer that
 * dns_msg_check() accepted.  Returns 0, -ENOMEM or DNS_EFORMAT.
 */
int dns_msg_reply_parse(const uint8_t *ans, size_t anslen, uint16_t qtype,
			struct dns_reply *reply);

/*
 * Parse a copy of the answer @ans into *@out (libknot rewrites the wire it
 * parses: it strips the TSIG RR), so @ans stays as received for MAC
 * checks.  Returns 0, -ENOMEM, or DNS_EFORMAT when @ans is shorter than a
 * header, longer than DNS_MSG_MAX or not a DNS message.  Free *@out with
 * dns_msg_answer_free().
 */
int dns_msg_answer_parse(const uint8_t *ans, size_t anslen, knot_pkt_t **out);

struct tsig_key;

/*
 * dns_msg_check() with a key of either back-end (tsig_internal.h): the
 * HMAC key of dns_msg_check() or a GSS-TSIG context's (gss.c).  @key NULL:
 * the answer's TSIG is only reported.  @key->form is updated as
 * tsig_answer_verify() says.
 */
int dns_msg_check_key(const uint8_t *ans, size_t anslen, const uint8_t *query,
		      size_t querylen, struct tsig_key *key, const uint8_t *mac,
		      size_t maclen, uint64_t now, struct dns_outcome *o);

/* Free a packet from dns_msg_answer_parse() and its wire.  NULL-safe. */
void dns_msg_answer_free(knot_pkt_t *pkt);

#endif /* RFC2136_DNS_MSG_INTERNAL_H */
