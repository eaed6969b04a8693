/* SPDX-License-Identifier: MIT */
/* Why a TLS handshake was refused, and what the first bytes of a client
 * connection look like. */
#ifndef KTLSGW_TLS_T_H
#define KTLSGW_TLS_T_H

enum tls_fail {
	TLS_FAIL_NONE = 0,
	TLS_FAIL_NO_CERT,		/* mode 2: client sent no certificate */
	TLS_FAIL_UNKNOWN_CA,		/* chain does not lead to caPemPath */
	TLS_FAIL_EXPIRED,		/* certificate expired or not yet valid */
	TLS_FAIL_WRONG_PURPOSE,		/* client cert without clientAuth EKU */
	TLS_FAIL_REVOKED,		/* client cert listed in tls.crlPemPath */
	TLS_FAIL_BAD_CERT,		/* other verification failure */
	TLS_FAIL_PROTOCOL_VERSION,	/* below the listener's minVersion */
	TLS_FAIL_NO_SHARED_CIPHER,
	TLS_FAIL_NOT_TLS,		/* random bytes, wrong record header */
	TLS_FAIL_PEER_CLOSED,		/* EOF inside the handshake (truncated hello) */
	TLS_FAIL_UPSTREAM_CERT,		/* internal TLS: upstream certificate refused */
	TLS_FAIL_OTHER,
	TLS_FAIL__COUNT
};

enum tls_sniff {
	SNIFF_MORE = 0,		/* too few bytes to tell */
	SNIFF_TLS,		/* a TLS handshake record */
	SNIFF_HTTP,		/* an ASCII HTTP method: plaintext on a TLS port */
	SNIFF_OTHER,		/* anything else: OpenSSL will refuse it */
};

#define TLS_INFO_TEXT 256

/* What the access line reports about a conn's TLS session. */
struct tls_info {
	char version[16];
	char cipher[64];
	char subject[TLS_INFO_TEXT];	/* mode 2 client cert, "" otherwise */
};

#endif
