/*
 * msg_internal.h - what transport.c needs from msg.c beyond dns.h.
 * Not part of the module's contract.
 */
#ifndef RFC2136_DNS_MSG_INTERNAL_H
#define RFC2136_DNS_MSG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"

/*
 * Cheap first look at a datagram or TCP message: 0 when it is at least a
 * header with our ID, QR set and our opcode, DNS_EMISMATCH or DNS_EFORMAT
 * otherwise.  The transport ignores what fails here and keeps waiting.
 */
int dns_msg_header_match(const uint8_t *ans, size_t anslen,
			 const uint8_t *query, size_t querylen);

/* True when the answer has the TC bit (RFC 1035 4.1.1). */
int dns_msg_truncated(const uint8_t *ans, size_t anslen);

/*
 * Fill @reply's aa, nanswers and TXT strings from an answer that
 * dns_msg_check() accepted.  Returns 0, -ENOMEM or DNS_EFORMAT.
 */
int dns_msg_reply_parse(const uint8_t *ans, size_t anslen, uint16_t qtype,
			struct dns_reply *reply);

#endif /* RFC2136_DNS_MSG_INTERNAL_H */
