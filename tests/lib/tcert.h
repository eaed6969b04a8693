/* SPDX-License-Identifier: MIT */
/* Test fixtures: a CA and leaf certificates with chosen properties (expired,
 * expiring soon, mismatched key, EKU, SANs), written as PEM into a directory
 * through the OpenSSL API. EC P-256 keys, 0600 key files. */
#ifndef KTLSGW_TCERT_H
#define KTLSGW_TCERT_H

#include <stdbool.h>

struct tcert_opts {
	const char *name;	/* file stem: <name>.pem, <name>.key; default "server" */
	const char *cn;		/* subject CN; default "localhost" */
	const char *san;	/* "DNS:localhost,IP:127.0.0.1" (the default); "" = none */
	int days;		/* notAfter = now + days; 0 -> 365 */
	bool expired;		/* notBefore a year ago, notAfter yesterday */
	bool client_auth;	/* EKU clientAuth instead of serverAuth */
	bool both_eku;		/* serverAuth and clientAuth */
	bool wrong_key;		/* write a fresh key that does not match the cert */
	bool self_signed;	/* no CA: the leaf signs itself */
	int key_mode;		/* mode of the key file; 0 -> 0600 */
};

/* Writes ca.pem and ca.key (CN "ktlsgw test CA") into @dir. 0 or -1. */
int tcert_make_ca(const char *dir);

/* Writes a leaf signed by @dir/ca.{pem,key} (made first if missing). 0 or -1. */
int tcert_make_leaf(const char *dir, const struct tcert_opts *o);

/* Writes @dir/ca.crl: an empty CRL signed by the CA in @dir. 0 or -1. */
int tcert_make_crl(const char *dir);

/* Writes @text to @dir/@name with @mode; 0 or -1. */
int tcert_write_file(const char *dir, const char *name, const char *text, int mode);

#endif
