/* SPDX-License-Identifier: MIT */
/* Loading and inspecting PEM certificates, keys, CA bundles and CRLs. Every
 * function returns 0 or -errno; on failure @err (CERT_ERR_MAX bytes) holds
 * one line saying why (an OS error or the drained OpenSSL error queue). */
#ifndef KTLSGW_CERT_H
#define KTLSGW_CERT_H

#include <time.h>

#include "common.h"
#include "cert-t.h"

/* Reads the first certificate of @path (a leaf, maybe followed by its
 * chain) into @ci. -ENOENT/-EACCES.. when unreadable, -EPROTO when no PEM
 * certificate parses. */
__must_check int cert_inspect(const char *path, struct cert_info *ci, char *err);

/* 0 when the private key in @key_path belongs to the first certificate in
 * @cert_path; -EKEYREJECTED when it does not; -EPROTO when the key does not
 * parse; -errno when a file cannot be read. */
__must_check int cert_key_matches(const char *cert_path, const char *key_path, char *err);

/* Counts the certificates of a CA bundle into @n; -EPROTO when it holds none
 * or a block does not parse. */
__must_check int cert_count_ca(const char *path, unsigned int *n, char *err);

/* Parses every CRL of @path; -EPROTO when it holds none or one is bad. */
__must_check int cert_check_crl(const char *path, unsigned int *n, char *err);

/* Whole days from @now to the certificate's notAfter (negative: expired). */
long cert_days_left(const struct cert_info *ci, time_t now);

#endif
