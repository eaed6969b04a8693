/* SPDX-License-Identifier: MIT */
/* Types of `ktlsgw cert gen|renew`: the options (what to issue) and the
 * report (what was written, or why not). Plain C, no OpenSSL types, so the
 * command-line side never sees OpenSSL. */
#ifndef KTLSGW_CERTGEN_T_H
#define KTLSGW_CERTGEN_T_H

#include <stdbool.h>

#define CERTGEN_CN_MAX 64		/* X.520 ub-common-name */
#define CERTGEN_SAN_MAX 32		/* --san entries, the CN not counted */
#define CERTGEN_SAN_VALUE_MAX 254	/* a DNS name has at most 253 characters */
#define CERTGEN_LEAF_DAYS 3650		/* gen.sh's ExpireDays */
#define CERTGEN_CA_DAYS 36500		/* gen.sh's `req -x509 -days 36500` */
#define CERTGEN_DAYS_MAX 36500
#define CERTGEN_PATH_MAX 1024
#define CERTGEN_FILES 7			/* ca.key ca.pem ca.srl server.* client.* */
#define CERTGEN_TEXT_MAX 512
#define CERTGEN_SERIAL_BITS 159	/* as openssl's rand_serial(): positive, <= 20 DER bytes */
#define CERTGEN_SERIAL_HEX_MAX 40

enum certgen_key_type {
	CERTGEN_KEY_EC = 0,	/* P-256 */
	CERTGEN_KEY_RSA,	/* 2048 or 3072 bits */
	CERTGEN_KEY__COUNT
};

enum certgen_san_kind {
	CERTGEN_SAN_DNS = 0,
	CERTGEN_SAN_IP,
	CERTGEN_SAN__COUNT
};

struct certgen_san {
	enum certgen_san_kind kind;
	char value[CERTGEN_SAN_VALUE_MAX];	/* IPs in inet_ntop() form */
};

struct certgen_opts {
	const char *dir;			/* borrowed: caller's string */
	char cn[CERTGEN_CN_MAX + 1];
	enum certgen_san_kind cn_kind;		/* how the CN goes into the SAN */
	unsigned int n_san;
	struct certgen_san san[CERTGEN_SAN_MAX];	/* --san, duplicates dropped */
	unsigned int days;			/* leaf validity */
	enum certgen_key_type key_type;
	unsigned int bits;			/* RSA modulus size */
	bool force;				/* gen: replace an existing CA */
};

struct certgen_file {
	char path[CERTGEN_PATH_MAX];
	unsigned int mode;
};

/* A file written to a temp name, renamed into place at commit. */
struct certgen_staged {
	char path[CERTGEN_PATH_MAX];
	char tmp[CERTGEN_PATH_MAX];	/* "" once renamed or never created */
	unsigned int mode;
};

struct certgen_stage {
	const char *dir;		/* borrowed: certgen_opts.dir */
	unsigned int n;
	struct certgen_staged files[CERTGEN_FILES];
};

/* Filled by certgen_gen()/certgen_renew(): on success the files and a
 * summary of the server certificate; on failure err names file and reason. */
struct certgen_report {
	unsigned int n_files;
	struct certgen_file files[CERTGEN_FILES];
	char subject[CERTGEN_TEXT_MAX];		/* server.pem */
	char san[CERTGEN_TEXT_MAX];
	char serial[48];			/* uppercase hex */
	char not_after[40];
	char client_serial[48];
	char note[CERTGEN_PATH_MAX + 128];	/* non-fatal remark, "" if none */
	char err[2 * CERTGEN_PATH_MAX + 1024];
};

#endif
