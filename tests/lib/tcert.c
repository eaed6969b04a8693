/* SPDX-License-Identifier: MIT */
/* tcert.h: CA and leaf certificate fixtures made with the OpenSSL API, so
 * unit tests need no openssl CLI and can ask for broken certificates. */
#include "tcert.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static EVP_PKEY *new_key(void)
{
	return EVP_EC_gen("P-256");
}

static int write_pem(const char *dir, const char *name, X509 *x, EVP_PKEY *k, int mode)
{
	char path[PATH_MAX];
	FILE *f;
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode ? mode : 0644);
	if (fd < 0)
		return -1;
	fchmod(fd, mode ? mode : 0644);
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -1;
	}
	ok = x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!e)
		return -1;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -1;
}

static X509 *new_cert(const char *cn, EVP_PKEY *k, long from_s, long to_s)
{
	static long serial = 1000;
	X509 *x = X509_new();
	X509_NAME *n;

	if (!x)
		return NULL;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++ ^ (long)getpid());
	X509_gmtime_adj(X509_getm_notBefore(x), from_s);
	X509_gmtime_adj(X509_getm_notAfter(x), to_s);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	return x;
}

int tcert_make_ca(const char *dir)
{
	EVP_PKEY *k = new_key();
	X509 *x = k ? new_cert("ktlsgw test CA", k, -86400, 3650L * 86400) : NULL;
	int ret = -1;

	if (!x)
		goto out;
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") < 0 ||
	    !X509_sign(x, k, EVP_sha256()))
		goto out;
	if (write_pem(dir, "ca.pem", x, NULL, 0644) == 0 &&
	    write_pem(dir, "ca.key", NULL, k, 0600) == 0)
		ret = 0;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	return ret;
}

static int load_ca(const char *dir, X509 **x, EVP_PKEY **k)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	if (access(path, R_OK) != 0 && tcert_make_ca(dir) < 0)
		return -1;
	f = fopen(path, "r");
	*x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	f = fopen(path, "r");
	*k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	return *x && *k ? 0 : -1;
}

static int leaf_exts(X509 *x, X509 *issuer, const struct tcert_opts *o)
{
	const char *eku = o->both_eku ? "serverAuth,clientAuth" :
			  o->client_auth ? "clientAuth" : "serverAuth";
	const char *san = o->san ? o->san : "DNS:localhost,IP:127.0.0.1";

	if (add_ext(x, issuer, NID_basic_constraints, "CA:FALSE") < 0 ||
	    add_ext(x, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment") < 0 ||
	    add_ext(x, issuer, NID_ext_key_usage, eku) < 0)
		return -1;
	if (*san && add_ext(x, issuer, NID_subject_alt_name, san) < 0)
		return -1;
	return 0;
}

int tcert_make_leaf(const char *dir, const struct tcert_opts *o)
{
	const char *stem = o->name ? o->name : "server";
	long days = o->days ? o->days : 365;
	EVP_PKEY *k = new_key(), *ca_k = NULL, *other = NULL;
	X509 *x = NULL, *ca = NULL;
	char file[256];
	int ret = -1;

	if (!k || (!o->self_signed && load_ca(dir, &ca, &ca_k) < 0))
		goto out;
	x = o->expired ? new_cert(o->cn ? o->cn : "localhost", k, -365L * 86400, -86400) :
			 new_cert(o->cn ? o->cn : "localhost", k, -3600, days * 86400);
	if (!x)
		goto out;
	X509_set_issuer_name(x, X509_get_subject_name(ca ? ca : x));
	if (leaf_exts(x, ca ? ca : x, o) < 0 || !X509_sign(x, ca ? ca_k : k, EVP_sha256()))
		goto out;
	other = o->wrong_key ? new_key() : NULL;
	snprintf(file, sizeof(file), "%s.pem", stem);
	if (write_pem(dir, file, x, NULL, 0644) < 0)
		goto out;
	snprintf(file, sizeof(file), "%s.key", stem);
	ret = write_pem(dir, file, NULL, other ? other : k, o->key_mode ? o->key_mode : 0600);
out:
	EVP_PKEY_free(other);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(ca_k);
	EVP_PKEY_free(k);
	return ret;
}

int tcert_make_crl(const char *dir)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = X509_gmtime_adj(NULL, 0);
	char path[PATH_MAX];
	EVP_PKEY *k = NULL;
	X509 *ca = NULL;
	int ret = -1;
	FILE *f;

	if (!crl || !t || load_ca(dir, &ca, &k) < 0)
		goto out;
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
	X509_CRL_set1_lastUpdate(crl, t);
	X509_gmtime_adj(t, 30L * 86400);
	X509_CRL_set1_nextUpdate(crl, t);
	if (!X509_CRL_sign(crl, k, EVP_sha256()))
		goto out;
	snprintf(path, sizeof(path), "%s/ca.crl", dir);
	f = fopen(path, "w");
	if (f && PEM_write_X509_CRL(f, crl))
		ret = 0;
	if (f && fclose(f) != 0)
		ret = -1;
out:
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	X509_free(ca);
	EVP_PKEY_free(k);
	return ret;
}

int tcert_write_file(const char *dir, const char *name, const char *text, int mode)
{
	char path[PATH_MAX];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ok = fputs(text, f) >= 0;
	if (fclose(f) != 0 || !ok)
		return -1;
	return chmod(path, (mode_t)(mode ? mode : 0644));
}
