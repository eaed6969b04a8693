/* SPDX-License-Identifier: MIT */
/* Certificate tooling behind `ktlsgw cert`: the seven files of the Milvus
 * documentation's gen.sh (CA, server and client leaves, ca.srl), made with
 * the OpenSSL 3.0 API and written atomically. */
#ifndef KTLSGW_CERTGEN_H
#define KTLSGW_CERTGEN_H

#include <stddef.h>

#include "common.h"
#include "certgen-t.h"

/* Defaults: dir ".", CN localhost, 3650 days, EC P-256. */
void certgen_opts_init(struct certgen_opts *o);

/* Sets the CN (1-64 characters, a DNS name or an IP address; it is always
 * a SAN too). 0, or -EINVAL with the reason in @err. */
__must_check int certgen_set_cn(struct certgen_opts *o, const char *cn, char *err, size_t len);

/* Appends "DNS:name,IP:addr,..." to o->san (prefixes case-insensitive,
 * duplicates dropped). 0, or -EINVAL / -E2BIG with the reason in @err; on
 * error o->san is unchanged. */
__must_check int certgen_add_sans(struct certgen_opts *o, const char *list, char *err,
				  size_t len);

/* New CA, server and client certificates in o->dir (created 0755 if
 * missing). Refuses (-EEXIST) an existing ca.key or ca.pem unless o->force.
 * 0 or -errno; @r is always filled (r->err on failure). */
__must_check int certgen_gen(const struct certgen_opts *o, struct certgen_report *r);

/* New server and client certificates signed by the CA in o->dir (ca.key,
 * ca.pem kept byte for byte; ca.srl used and advanced, or restarted at a
 * random value with a note when missing). 0 or -errno; @r as above. */
__must_check int certgen_renew(const struct certgen_opts *o, struct certgen_report *r);

/* ---- shared by src/cert{gen,name,file,serial}.c (and their unit test) ---- */

/* Formats r->err; returns @ret. */
int certgen_fail(struct certgen_report *r, int ret, const char *fmt, ...) __printf(3, 4);

/* "<dir>/<name>" into @out (CERTGEN_PATH_MAX bytes); 0 or -ENAMETOOLONG. */
__must_check int certgen_path_join(char *out, const char *dir, const char *name);

/* inet_ntop() form of an IPv4/IPv6 address into @out; 0 or -EINVAL. */
__must_check int certgen_ip_canonical(const char *s, char *out, size_t len);

bool certgen_san_is_equal(const struct certgen_san *a, enum certgen_san_kind kind,
			  const char *v);

struct bignum_st;

/* ca.srl text (1-40 hex digits, then only whitespace) -> new BIGNUM in
 * *@out (caller frees). 0, -EINVAL or -ENOMEM. */
__must_check int certgen_serial_parse(const char *text, struct bignum_st **out);

/* +1, as `openssl x509 -CAserial` does before signing; -ERANGE past 159 bits. */
__must_check int certgen_serial_advance(struct bignum_st *bn);

/* A new random positive serial of at most 159 bits, or NULL. */
struct bignum_st *certgen_serial_random(void);

/* Uppercase hex in whole bytes, as openssl writes ca.srl. */
void certgen_serial_text(const struct bignum_st *bn, char *buf, size_t len);

/* Reads @path (at most @len - 1 bytes, NUL-terminated); 0 or -errno. */
__must_check int certgen_file_read(const char *path, char *buf, size_t len);

/* mkdir -p @dir with mode 0755 (less the umask); 0 or -errno. */
__must_check int certgen_dir_make(const char *dir, struct certgen_report *r);

/* Writes @data to a new temp file "<dir>/.<name>.XXXXXX" (O_EXCL, 0600),
 * sets @mode and fsyncs it. 0 or -errno (message in @r). */
__must_check int certgen_stage_file(struct certgen_stage *st, const char *name,
				    const char *data, size_t len, unsigned int mode,
				    struct certgen_report *r);

/* Renames every staged file into place, in staging order, lists each in
 * r->files and fsyncs the directory. 0 or -errno (message in @r). */
__must_check int certgen_stage_commit(struct certgen_stage *st, struct certgen_report *r);

/* Unlinks the temp files not renamed yet. */
void certgen_stage_discard(struct certgen_stage *st);

#endif
