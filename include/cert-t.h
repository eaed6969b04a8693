/* SPDX-License-Identifier: MIT */
/* What `ktlsgw check` and the config validation need to know about a
 * certificate file, extracted once so callers never touch OpenSSL. */
#ifndef KTLSGW_CERT_T_H
#define KTLSGW_CERT_T_H

#include <stdint.h>

#define CERT_TEXT_MAX 512
#define CERT_ERR_MAX 512

struct cert_info {
	char subject[CERT_TEXT_MAX];	/* RFC 2253 one-line, "CN=localhost,O=..." */
	char issuer[CERT_TEXT_MAX];
	char san[CERT_TEXT_MAX];	/* "DNS:localhost, IP:127.0.0.1"; "" = none */
	int64_t not_before;		/* unix seconds */
	int64_t not_after;
	char not_after_text[32];	/* "2036-11-26 16:24:24 UTC" */
	unsigned int n_certs;		/* certificates in the file (leaf + chain) */
};

#endif
