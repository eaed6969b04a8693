/* SPDX-License-Identifier: MIT */
/* `ktlsgw cert gen|renew`: keys (EVP_PKEY_Q_keygen), a CA and two leaves
 * (X509 + X509V3 extensions), ca.srl kept the way `openssl x509
 * -CAcreateserial` keeps it, and every file staged (temp file, fsync) then
 * renamed into place. The sole OpenSSL user of the cert command. */
#include "certgen.h"
#include "log.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define SKEW_SECONDS (5 * 60) /* notBefore in the past: clients' clocks drift */
#define KEY_MODE 0600
#define CERT_MODE 0644

/* One gen or renew run. */
struct issue {
	const struct certgen_opts *o; /* borrowed: caller */
	struct certgen_report *r;     /* borrowed: caller */
	X509 *ca;		      /* owned */
	EVP_PKEY *ca_key;	      /* owned */
	BIGNUM *serial;		      /* owned: last serial used, i.e. ca.srl */
	X509 *server;		      /* owned */
	X509 *client;		      /* owned */
	struct certgen_stage stage;   /* temp files until committed */
};

struct ext_spec {
	int nid;
	const char *value;
};

/* gen.sh's subject, CN apart. */
static const char *const subject_fields[][2] = {
	{ "C", "US" },
	{ "ST", "CA" },
	{ "L", "Redwood City" },
	{ "O", "zilliz" },
	{ "OU", "devops" },
};

static const struct ext_spec ca_exts[] = {
	{ NID_basic_constraints, "critical,CA:TRUE" },
	{ NID_key_usage, "critical,keyCertSign,cRLSign" },
	{ NID_subject_key_identifier, "hash" },
};

/* "<dir>/<name>: <what>: <the OpenSSL error queue, drained>". */
static int fail_ssl(struct issue *is, const char *name, const char *what)
{
	char errs[768];

	log_ssl_drain(errs, sizeof(errs));
	return certgen_fail(is->r, -EPROTO, "%s/%s: %s: %s", is->o->dir, name, what,
			    errs[0] ? errs : "no OpenSSL error recorded");
}

static int opts_check(const struct certgen_opts *o, struct certgen_report *r)
{
	if (!o->dir || !o->dir[0] || !o->cn[0])
		return certgen_fail(r, -EINVAL, "no directory or CN given");
	if (o->days < 1 || o->days > CERTGEN_DAYS_MAX)
		return certgen_fail(r, -EINVAL, "days: %u: not in 1..%d", o->days,
				    CERTGEN_DAYS_MAX);
	if (o->key_type == CERTGEN_KEY_RSA && o->bits != 2048 && o->bits != 3072)
		return certgen_fail(r, -EINVAL, "bits: %u: RSA keys are 2048 or 3072 bits",
				    o->bits);
	if (o->key_type >= CERTGEN_KEY__COUNT)
		return certgen_fail(r, -EINVAL, "unknown key type %d", (int)o->key_type);
	return 0;
}

/* ---- ca.srl ---- */

static int serial_load(struct issue *is)
{
	char path[CERTGEN_PATH_MAX], text[128];
	int ret;

	if (certgen_path_join(path, is->o->dir, "ca.srl") < 0)
		return certgen_fail(is->r, -ENAMETOOLONG, "%s/ca.srl: path too long", is->o->dir);
	ret = certgen_file_read(path, text, sizeof(text));
	if (ret == -ENOENT) {
		snprintf(is->r->note, sizeof(is->r->note),
			 "%s was missing: started a new random serial", path);
		is->serial = certgen_serial_random();
		return is->serial ? 0 : fail_ssl(is, "ca.srl", "random serial");
	}
	if (ret < 0)
		return certgen_fail(is->r, ret, "%s: cannot read: %s", path, strerror(-ret));
	if (certgen_serial_parse(text, &is->serial) < 0)
		return certgen_fail(is->r, -EINVAL, "%s: not a serial number (1 to %d hex digits)",
				    path, CERTGEN_SERIAL_HEX_MAX);
	return 0;
}

/* ---- certificates ---- */

static EVP_PKEY *key_new(const struct certgen_opts *o)
{
	if (o->key_type == CERTGEN_KEY_RSA)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)o->bits);
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static X509_NAME *name_new(const char *cn)
{
	X509_NAME *nm = X509_NAME_new();
	size_t i;

	if (!nm)
		return NULL;
	for (i = 0; i < ARRAY_SIZE(subject_fields); i++)
		if (!X509_NAME_add_entry_by_txt(nm, subject_fields[i][0], MBSTRING_UTF8,
						(const unsigned char *)subject_fields[i][1], -1, -1,
						0))
			goto out_free;
	if (!X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
					0))
		goto out_free;
	return nm;

out_free:
	X509_NAME_free(nm);
	return NULL;
}

/* A v3 certificate for @key named @cn, serial @serial, valid from five
 * minutes ago for @days; no issuer, extensions or signature yet. */
static X509 *cert_new(EVP_PKEY *key, const char *cn, const BIGNUM *serial, unsigned int days)
{
	X509_NAME *nm = name_new(cn);
	X509 *x = X509_new();

	if (!nm || !x)
		goto out_free;
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
	    !X509_time_adj_ex(X509_getm_notBefore(x), 0, -SKEW_SECONDS, NULL) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ||
	    !X509_set_subject_name(x, nm) || !X509_set_pubkey(x, key))
		goto out_free;
	X509_NAME_free(nm);
	return x;

out_free:
	X509_free(x);
	X509_NAME_free(nm);
	return NULL;
}

static int ext_add(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EPROTO;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EPROTO;
}

static int san_push(GENERAL_NAMES *gens, enum certgen_san_kind kind, const char *value)
{
	GENERAL_NAME *g;

	g = a2i_GENERAL_NAME(NULL, NULL, NULL, kind == CERTGEN_SAN_IP ? GEN_IPADD : GEN_DNS, value,
			     0);
	if (!g)
		return -EPROTO;
	if (!sk_GENERAL_NAME_push(gens, g)) {
		GENERAL_NAME_free(g);
		return -ENOMEM;
	}
	return 0;
}

/* subjectAltName: the CN first, then every --san entry that differs. */
static int san_add(X509 *x, const struct certgen_opts *o)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	char cn[CERTGEN_SAN_VALUE_MAX];
	unsigned int i;
	int ret;

	if (!gens)
		return -ENOMEM;
	snprintf(cn, sizeof(cn), "%s", o->cn);
	if (o->cn_kind == CERTGEN_SAN_IP && certgen_ip_canonical(o->cn, cn, sizeof(cn)) < 0)
		ret = -EINVAL;
	else
		ret = san_push(gens, o->cn_kind, cn);
	for (i = 0; i < o->n_san && !ret; i++)
		if (!certgen_san_is_equal(&o->san[i], o->cn_kind, cn))
			ret = san_push(gens, o->san[i].kind, o->san[i].value);
	if (!ret && !X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_APPEND))
		ret = -EPROTO;
	GENERAL_NAMES_free(gens);
	return ret;
}

static int cert_sign(X509 *x, EVP_PKEY *key)
{
	const EVP_MD *md =
		EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448") ? NULL : EVP_sha256();

	return X509_sign(x, key, md) > 0 ? 0 : -EPROTO;
}

/* PEM of @key (mode 0600) or else of @x (0644), staged as @name. */
static int pem_stage(struct issue *is, const char *name, EVP_PKEY *key, X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int ok, ret;

	if (!b)
		return fail_ssl(is, name, "out of memory");
	ok = key ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
		 : PEM_write_bio_X509(b, x);
	len = BIO_get_mem_data(b, &data);
	if (!ok || len <= 0)
		ret = fail_ssl(is, name, "PEM encoding failed");
	else
		ret = certgen_stage_file(&is->stage, name, data, (size_t)len,
					 key ? KEY_MODE : CERT_MODE, is->r);
	BIO_free(b);
	return ret;
}

/* "<cn> CA": a CA named like its leaves would make each leaf look
 * self-issued to OpenSSL (see docs/certificates.md). */
static void ca_cn(const char *cn, char *buf, size_t len)
{
	if (strlen(cn) + 3 <= CERTGEN_CN_MAX)
		snprintf(buf, len, "%s CA", cn);
	else
		snprintf(buf, len, "ktlsgw CA");
}

static int ca_create(struct issue *is)
{
	char cn[CERTGEN_CN_MAX + 1];
	BIGNUM *serial = certgen_serial_random();
	size_t i;
	int ret = 0;

	is->ca_key = key_new(is->o);
	if (!is->ca_key || !serial) {
		BN_free(serial);
		return fail_ssl(is, "ca.key", "key generation failed");
	}
	ca_cn(is->o->cn, cn, sizeof(cn));
	is->ca = cert_new(is->ca_key, cn, serial, CERTGEN_CA_DAYS);
	BN_free(serial);
	if (!is->ca || !X509_set_issuer_name(is->ca, X509_get_subject_name(is->ca)))
		return fail_ssl(is, "ca.pem", "cannot build the CA certificate");
	for (i = 0; i < ARRAY_SIZE(ca_exts) && !ret; i++)
		ret = ext_add(is->ca, is->ca, ca_exts[i].nid, ca_exts[i].value);
	if (ret || cert_sign(is->ca, is->ca_key) < 0)
		return fail_ssl(is, "ca.pem", "cannot build the CA certificate");
	is->serial = certgen_serial_random(); /* ca.srl starts random, as -CAcreateserial */
	if (!is->serial)
		return fail_ssl(is, "ca.srl", "random serial");
	ret = pem_stage(is, "ca.key", is->ca_key, NULL);
	return ret ? ret : pem_stage(is, "ca.pem", NULL, is->ca);
}

/* Extensions of a leaf for @key with extendedKeyUsage @eku. */
static int leaf_exts(X509 *x, X509 *ca, EVP_PKEY *key, const struct certgen_opts *o,
		     const char *eku)
{
	const struct ext_spec exts[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, EVP_PKEY_is_a(key, "RSA")
					 ? "critical,digitalSignature,keyEncipherment"
					 : "critical,digitalSignature" },
		{ NID_ext_key_usage, eku },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid" },
	};
	size_t i;
	int ret = 0;

	for (i = 0; i < ARRAY_SIZE(exts) && !ret; i++)
		ret = ext_add(x, ca, exts[i].nid, exts[i].value);
	return ret ? ret : san_add(x, o);
}

/* Issues <name>.key + <name>.pem under the next serial. */
static int leaf_issue(struct issue *is, const char *name, const char *eku, X509 **out)
{
	char kname[32], cname[32];
	EVP_PKEY *key;
	X509 *x = NULL;
	int ret;

	snprintf(kname, sizeof(kname), "%s.key", name);
	snprintf(cname, sizeof(cname), "%s.pem", name);
	ret = certgen_serial_advance(is->serial);
	if (ret < 0)
		return certgen_fail(is->r, ret, "%s/ca.srl: serial overflow: more than %d bits",
				    is->o->dir, CERTGEN_SERIAL_BITS);
	key = key_new(is->o);
	if (!key)
		return fail_ssl(is, kname, "key generation failed");
	x = cert_new(key, is->o->cn, is->serial, is->o->days);
	if (!x || !X509_set_issuer_name(x, X509_get_subject_name(is->ca)) ||
	    leaf_exts(x, is->ca, key, is->o, eku) < 0 || cert_sign(x, is->ca_key) < 0) {
		ret = fail_ssl(is, cname, "cannot build the certificate");
		goto out_free;
	}
	ret = pem_stage(is, kname, key, NULL);
	if (!ret)
		ret = pem_stage(is, cname, NULL, x);
	if (!ret) {
		*out = x;
		x = NULL;
	}
out_free:
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}

static int leaves_issue(struct issue *is)
{
	char text[CERTGEN_SERIAL_HEX_MAX + 4];
	size_t n;
	int ret;

	ret = leaf_issue(is, "server", "serverAuth", &is->server);
	if (!ret)
		ret = leaf_issue(is, "client", "clientAuth", &is->client);
	if (ret)
		return ret;
	certgen_serial_text(is->serial, text, sizeof(text) - 1);
	n = strlen(text);
	text[n++] = '\n';
	return certgen_stage_file(&is->stage, "ca.srl", text, n, CERT_MODE, is->r);
}

/* ---- the CA of renew ---- */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Opens @name in the CA directory; the message says what renew needs. */
static BIO *ca_open(struct issue *is, const char *name, char *path)
{
	BIO *b;
	int ret;

	if (certgen_path_join(path, is->o->dir, name) < 0) {
		certgen_fail(is->r, -ENAMETOOLONG, "%s/%s: path too long", is->o->dir, name);
		return NULL;
	}
	if (access(path, R_OK) < 0) {
		ret = -errno;
		certgen_fail(is->r, ret,
			     "%s: %s (renew needs ca.key and ca.pem from `ktlsgw cert gen`)", path,
			     strerror(-ret));
		return NULL;
	}
	b = BIO_new_file(path, "r");
	if (!b)
		fail_ssl(is, name, "cannot open");
	return b;
}

static int ca_load(struct issue *is)
{
	char path[CERTGEN_PATH_MAX];
	BIO *b;

	b = ca_open(is, "ca.pem", path);
	if (!b)
		return -ENOENT;
	is->ca = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (!is->ca)
		return fail_ssl(is, "ca.pem", "not a PEM certificate");
	if (!X509_check_ca(is->ca))
		return certgen_fail(is->r, -EINVAL,
				    "%s: not a CA certificate (no basicConstraints CA:TRUE)", path);
	if (X509_cmp_current_time(X509_get0_notAfter(is->ca)) <= 0)
		return certgen_fail(is->r, -EKEYEXPIRED,
				    "%s: the CA certificate has expired; make a new CA "
				    "with `ktlsgw cert gen --force`",
				    path);
	b = ca_open(is, "ca.key", path);
	if (!b)
		return -ENOENT;
	is->ca_key = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (!is->ca_key)
		return fail_ssl(is, "ca.key", "not an unencrypted PEM private key");
	if (!X509_check_private_key(is->ca, is->ca_key)) {
		ERR_clear_error();
		return certgen_fail(is->r, -EINVAL, "%s: does not match %s/ca.pem", path,
				    is->o->dir);
	}
	return serial_load(is);
}

/* ---- report ---- */

static void bio_text(BIO *b, char *buf, size_t len)
{
	int n = b ? BIO_read(b, buf, (int)len - 1) : -1;

	buf[n > 0 ? n : 0] = 0;
	BIO_free(b);
}

static void cert_serial_text(const X509 *x, char *buf, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);

	if (bn)
		certgen_serial_text(bn, buf, len);
	BN_free(bn);
}

static void subject_text(X509 *x, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (b)
		X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
				   XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
	bio_text(b, buf, len);
}

static void san_text(X509 *x, char *buf, size_t len)
{
	int i = X509_get_ext_by_NID(x, NID_subject_alt_name, -1);
	BIO *b = BIO_new(BIO_s_mem());

	if (b && i >= 0)
		X509V3_EXT_print(b, X509_get_ext(x, i), 0, 0);
	bio_text(b, buf, len);
}

static void time_text(const ASN1_TIME *t, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (b)
		ASN1_TIME_print_ex(b, t, ASN1_DTFLGS_ISO8601);
	bio_text(b, buf, len);
}

static void report_fill(struct issue *is)
{
	struct certgen_report *r = is->r;
	const ASN1_TIME *end = X509_get0_notAfter(is->server);

	subject_text(is->server, r->subject, sizeof(r->subject));
	san_text(is->server, r->san, sizeof(r->san));
	time_text(end, r->not_after, sizeof(r->not_after));
	cert_serial_text(is->server, r->serial, sizeof(r->serial));
	cert_serial_text(is->client, r->client_serial, sizeof(r->client_serial));
	if (ASN1_TIME_compare(end, X509_get0_notAfter(is->ca)) > 0 && !r->note[0])
		snprintf(r->note, sizeof(r->note),
			 "the new certificates outlive the CA (ca.pem expires first): clients "
			 "stop trusting them when it does");
	ERR_clear_error();
}

static void issue_init(struct issue *is, const struct certgen_opts *o, struct certgen_report *r)
{
	memset(is, 0, sizeof(*is));
	memset(r, 0, sizeof(*r));
	is->o = o;
	is->r = r;
	is->stage.dir = o->dir;
	ERR_clear_error();
}

/* Frees what @is owns and unlinks temp files never renamed. */
static void issue_free(struct issue *is)
{
	certgen_stage_discard(&is->stage);
	X509_free(is->client);
	X509_free(is->server);
	X509_free(is->ca);
	EVP_PKEY_free(is->ca_key);
	BN_free(is->serial);
}

/* Without --force, an existing CA stays: everything it signed depends on it. */
static int ca_check_absent(struct issue *is)
{
	static const char *const names[] = { "ca.key", "ca.pem" };
	char path[CERTGEN_PATH_MAX];
	struct stat st;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names) && !is->o->force; i++) {
		if (certgen_path_join(path, is->o->dir, names[i]) < 0)
			return certgen_fail(is->r, -ENAMETOOLONG, "%s/%s: path too long",
					    is->o->dir, names[i]);
		if (lstat(path, &st) == 0)
			return certgen_fail(is->r, -EEXIST,
					    "%s exists: use --force to replace the CA, or "
					    "`ktlsgw cert renew` to keep it and issue new "
					    "server and client certificates",
					    path);
	}
	return 0;
}

int certgen_gen(const struct certgen_opts *o, struct certgen_report *r)
{
	struct issue is;
	int ret;

	issue_init(&is, o, r);
	ret = opts_check(o, r);
	if (!ret)
		ret = ca_check_absent(&is);
	if (!ret)
		ret = certgen_dir_make(o->dir, r);
	if (!ret)
		ret = ca_create(&is);
	if (!ret)
		ret = leaves_issue(&is);
	if (!ret)
		ret = certgen_stage_commit(&is.stage, r);
	if (!ret)
		report_fill(&is);
	issue_free(&is);
	return ret;
}

int certgen_renew(const struct certgen_opts *o, struct certgen_report *r)
{
	struct issue is;
	int ret;

	issue_init(&is, o, r);
	ret = opts_check(o, r);
	if (!ret)
		ret = ca_load(&is);
	if (!ret)
		ret = leaves_issue(&is);
	if (!ret)
		ret = certgen_stage_commit(&is.stage, r);
	if (!ret)
		report_fill(&is);
	issue_free(&is);
	return ret;
}
