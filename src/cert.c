/* SPDX-License-Identifier: MIT */
/* Certificate files through OpenSSL: read a PEM leaf/chain, key, CA bundle or
 * CRL; check that a key belongs to a certificate; extract subject, SANs and
 * validity as text. Files are read whole first so OS errors stay distinct
 * from parse errors. */
#include "cert.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define CERT_FILE_MAX (4u << 20)

/* Reads @path into a memory BIO (returned, owned by the caller) or NULL
 * with -errno in @ret and the reason in @err. */
static BIO *read_file(const char *path, int *ret, char *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;
	BIO *b;

	if (!f) {
		*ret = -errno;
		snprintf(err, CERT_ERR_MAX, "cannot read '%s': %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(CERT_FILE_MAX);
	n = buf ? fread(buf, 1, CERT_FILE_MAX, f) : 0;
	if (!buf || ferror(f)) {
		*ret = buf ? -EIO : -ENOMEM;
		snprintf(err, CERT_ERR_MAX, "cannot read '%s': %s", path, strerror(-*ret));
		goto out_free;
	}
	ERR_clear_error();
	b = BIO_new(BIO_s_mem());
	if (!b || BIO_write(b, buf, (int)n) != (int)n) {
		BIO_free(b);
		*ret = -ENOMEM;
		snprintf(err, CERT_ERR_MAX, "cannot read '%s': out of memory", path);
		goto out_free;
	}
	free(buf);
	fclose(f);
	return b;

out_free:
	free(buf);
	fclose(f);
	return NULL;
}

/* "@what '@path' (openssl errors)"; returns -EPROTO. */
static int ssl_fail(char *err, const char *what, const char *path, const char *tail)
{
	char q[256];
	int n;

	log_ssl_drain(q, sizeof(q));
	n = snprintf(err, CERT_ERR_MAX, "%s '%s'%s", what, path, tail);
	if (q[0] && n > 0 && n < CERT_ERR_MAX)
		snprintf(err + n, CERT_ERR_MAX - n, " (%s)", q);
	return -EPROTO;
}

/* True when the last OpenSSL error is "no more PEM blocks", i.e. a clean end
 * of file after at least one object. Empties the queue either way. */
static bool at_pem_end(void)
{
	unsigned long e = ERR_peek_last_error();
	bool end = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;

	if (end)
		ERR_clear_error();
	return end;
}

static void name_text(const X509_NAME *name, char *out)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	out[0] = 0;
	if (!b)
		return;
	X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
	n = BIO_read(b, out, CERT_TEXT_MAX - 1);
	out[n > 0 ? n : 0] = 0;
	BIO_free(b);
}

static void ip_text(const ASN1_OCTET_STRING *ip, char *out, size_t len)
{
	const unsigned char *p = ASN1_STRING_get0_data(ip);
	int n = ASN1_STRING_length(ip);

	if (n == 4)
		inet_ntop(AF_INET, p, out, (socklen_t)len);
	else if (n == 16)
		inet_ntop(AF_INET6, p, out, (socklen_t)len);
	else
		snprintf(out, len, "?");
}

/* One SAN entry as "DNS:x" / "IP:y" / "email:z" / "URI:u". */
static void gen_name_text(const GENERAL_NAME *g, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	switch (g->type) {
	case GEN_DNS:
		snprintf(out, len, "DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
			 (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		break;
	case GEN_IPADD:
		ip_text(g->d.iPAddress, ip, sizeof(ip));
		snprintf(out, len, "IP:%s", ip);
		break;
	case GEN_EMAIL:
		snprintf(out, len, "email:%.*s", ASN1_STRING_length(g->d.rfc822Name),
			 (const char *)ASN1_STRING_get0_data(g->d.rfc822Name));
		break;
	case GEN_URI:
		snprintf(out, len, "URI:%.*s", ASN1_STRING_length(g->d.uniformResourceIdentifier),
			 (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier));
		break;
	default:
		snprintf(out, len, "other");
	}
}

static void san_text(X509 *x, char *out)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t off = 0;
	char one[300];
	int i;

	out[0] = 0;
	for (i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		gen_name_text(sk_GENERAL_NAME_value(gens, i), one, sizeof(one));
		if (off < CERT_TEXT_MAX)
			off += (size_t)snprintf(out + off, CERT_TEXT_MAX - off, "%s%s",
						i ? ", " : "", one);
	}
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
}

static int64_t asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

static void fill_info(X509 *x, struct cert_info *ci)
{
	time_t na;
	struct tm tm;

	name_text(X509_get_subject_name(x), ci->subject);
	name_text(X509_get_issuer_name(x), ci->issuer);
	san_text(x, ci->san);
	ci->not_before = asn1_time_unix(X509_get0_notBefore(x));
	ci->not_after = asn1_time_unix(X509_get0_notAfter(x));
	na = (time_t)ci->not_after;
	gmtime_r(&na, &tm);
	strftime(ci->not_after_text, sizeof(ci->not_after_text), "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* Counts the remaining certificates in @b; -EPROTO on a bad block. */
static int count_rest(BIO *b, unsigned int *n)
{
	X509 *x;

	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		X509_free(x);
		(*n)++;
	}
	return at_pem_end() ? 0 : -EPROTO;
}

int cert_inspect(const char *path, struct cert_info *ci, char *err)
{
	int ret = 0;
	BIO *b = read_file(path, &ret, err);
	X509 *x;

	memset(ci, 0, sizeof(*ci));
	if (!b)
		return ret;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (!x) {
		ret = ssl_fail(err, "no PEM certificate in", path, "");
		goto out_bio;
	}
	fill_info(x, ci);
	ci->n_certs = 1;
	if (count_rest(b, &ci->n_certs) < 0)
		ret = ssl_fail(err, "bad certificate in the chain of", path, "");
	X509_free(x);
out_bio:
	BIO_free(b);
	return ret;
}

/* Never prompt for a passphrase: an encrypted key is a config error. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int load_cert(const char *path, X509 **x, char *err)
{
	int ret = 0;
	BIO *b = read_file(path, &ret, err);

	if (!b)
		return ret;
	*x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return *x ? 0 : ssl_fail(err, "no PEM certificate in", path, "");
}

static int load_key(const char *path, EVP_PKEY **k, char *err)
{
	int ret = 0;
	BIO *b = read_file(path, &ret, err);

	if (!b)
		return ret;
	*k = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
	BIO_free(b);
	return *k ? 0 : ssl_fail(err, "no usable PEM private key in", path,
					   " (encrypted keys are not supported)");
}

int cert_key_matches(const char *cert_path, const char *key_path, char *err)
{
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	int ret;

	ret = load_cert(cert_path, &x, err);
	if (ret < 0)
		return ret;
	ret = load_key(key_path, &k, err);
	if (ret < 0)
		goto out_cert;
	ERR_clear_error();
	if (EVP_PKEY_eq(X509_get0_pubkey(x), k) != 1) {
		ERR_clear_error();
		snprintf(err, CERT_ERR_MAX, "private key '%s' does not match certificate '%s'",
			 key_path, cert_path);
		ret = -EKEYREJECTED;
	}
	EVP_PKEY_free(k);
out_cert:
	X509_free(x);
	return ret;
}

int cert_count_ca(const char *path, unsigned int *n, char *err)
{
	int ret = 0;
	BIO *b = read_file(path, &ret, err);
	X509 *x;

	*n = 0;
	if (!b)
		return ret;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (!x) {
		ret = ssl_fail(err, "no PEM certificate in", path, "");
		goto out_bio;
	}
	X509_free(x);
	*n = 1;
	if (count_rest(b, n) < 0)
		ret = ssl_fail(err, "bad certificate in CA bundle", path, "");
out_bio:
	BIO_free(b);
	return ret;
}

int cert_check_crl(const char *path, unsigned int *n, char *err)
{
	int ret = 0;
	BIO *b = read_file(path, &ret, err);
	X509_CRL *crl;

	*n = 0;
	if (!b)
		return ret;
	while ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
		X509_CRL_free(crl);
		(*n)++;
	}
	if (*n == 0)
		ret = ssl_fail(err, "no PEM CRL in", path, "");
	else if (!at_pem_end())
		ret = ssl_fail(err, "bad CRL in", path, "");
	BIO_free(b);
	return ret;
}

long cert_days_left(const struct cert_info *ci, time_t now)
{
	int64_t d = ci->not_after - (int64_t)now;

	/* floor division: one second past notAfter is day -1, not 0 */
	return (long)(d >= 0 ? d / 86400 : -((-d + 86399) / 86400));
}
