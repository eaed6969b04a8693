/* SPDX-License-Identifier: MIT */
/* certgen: CN/SAN parsing tables, ca.srl parsing and advance, and gen/renew
 * checked through OpenSSL (key types, extensions, chain per purpose, modes,
 * serials, refusals). White-box: includes certgen.c for its statics. */
#include "t.h"
#include "../../src/certgen.c"

#include <dirent.h>

#include <openssl/x509_vfy.h>

#define BIG 16384

/* ---- helpers ---- */

static void dir_in_tmp(char *out, size_t len, const char *sub)
{
	snprintf(out, len, "%s/%s", t_tmpdir(), sub);
}

static bool read_file(const char *dir, const char *name, char *buf)
{
	char path[CERTGEN_PATH_MAX];

	return !certgen_path_join(path, dir, name) && !certgen_file_read(path, buf, BIG);
}

static unsigned int file_mode(const char *dir, const char *name)
{
	char path[CERTGEN_PATH_MAX];
	struct stat st;

	if (certgen_path_join(path, dir, name) || stat(path, &st))
		return 01000;	/* no such mode */
	return st.st_mode & 07777;
}

static X509 *load_cert(const char *dir, const char *name)
{
	char path[CERTGEN_PATH_MAX];
	X509 *x = NULL;
	BIO *b;

	if (certgen_path_join(path, dir, name))
		return NULL;
	b = BIO_new_file(path, "r");
	if (b)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return x;
}

static EVP_PKEY *load_key(const char *dir, const char *name)
{
	char path[CERTGEN_PATH_MAX];
	EVP_PKEY *k = NULL;
	BIO *b;

	if (certgen_path_join(path, dir, name))
		return NULL;
	b = BIO_new_file(path, "r");
	if (b)
		k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	return k;
}

/* X509_verify_cert() of dir/@leaf against dir/ca.pem for @purpose. */
static int verify_purpose(const char *dir, const char *leaf, int purpose)
{
	X509 *ca = load_cert(dir, "ca.pem"), *x = load_cert(dir, leaf);
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = -1;

	if (ca && x && st && ctx && X509_STORE_add_cert(st, ca) &&
	    X509_STORE_CTX_init(ctx, st, x, NULL) && X509_STORE_CTX_set_purpose(ctx, purpose))
		ok = X509_verify_cert(ctx) == 1 ? 1 : 0;
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_free(x);
	X509_free(ca);
	ERR_clear_error();
	return ok;
}

static int gen_in(const char *dir, const char *cn, const char *sans, enum certgen_key_type kt,
		  unsigned int bits, struct certgen_report *r)
{
	struct certgen_opts o;
	char err[256];

	certgen_opts_init(&o);
	o.dir = dir;
	o.key_type = kt;
	o.bits = bits;
	if (cn && certgen_set_cn(&o, cn, err, sizeof(err)))
		return -100;
	if (sans && certgen_add_sans(&o, sans, err, sizeof(err)))
		return -101;
	return certgen_gen(&o, r);
}

static int renew_in(const char *dir, struct certgen_report *r)
{
	struct certgen_opts o;

	certgen_opts_init(&o);
	o.dir = dir;
	return certgen_renew(&o, r);
}

static unsigned int count_entries(const char *dir)
{
	struct dirent *e;
	unsigned int n = 0;
	DIR *d = opendir(dir);

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static unsigned int count_dotfiles(const char *dir)
{
	struct dirent *e;
	unsigned int n = 0;
	DIR *d = opendir(dir);

	while (d && (e = readdir(d)))
		n += e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

/* ---- SAN and CN parsing ---- */

static const struct {
	const char *list;
	unsigned int n;		/* entries kept */
	const char *first;	/* value of the first entry */
	enum certgen_san_kind kind;
} san_good[] = {
	{ "DNS:localhost", 1, "localhost", CERTGEN_SAN_DNS },
	{ "dns:Example.COM,ip:127.0.0.1", 2, "Example.COM", CERTGEN_SAN_DNS },
	{ "IP:127.0.0.1", 1, "127.0.0.1", CERTGEN_SAN_IP },
	{ "IP:::1", 1, "::1", CERTGEN_SAN_IP },
	{ "IP:0:0:0:0:0:0:0:1", 1, "::1", CERTGEN_SAN_IP },
	{ "IP:2001:DB8::10", 1, "2001:db8::10", CERTGEN_SAN_IP },
	{ "DNS:*.milvus.svc", 1, "*.milvus.svc", CERTGEN_SAN_DNS },
	{ "DNS:a,DNS:A,IP:10.0.0.1,IP:10.0.0.1", 2, "a", CERTGEN_SAN_DNS },
	{ "DNS:milvus-0.milvus.default.svc.cluster.local", 1,
	  "milvus-0.milvus.default.svc.cluster.local", CERTGEN_SAN_DNS },
};

static const struct {
	const char *list;
	const char *why;
} san_bad[] = {
	{ "", "empty entry" },
	{ ",", "empty entry" },
	{ "DNS:a,", "empty entry" },
	{ ",DNS:a", "empty entry" },
	{ "DNS:a,,DNS:b", "empty entry" },
	{ "DNS:", "not a valid DNS name" },
	{ "IP:", "not an IPv4" },
	{ "IP:1.2.3", "not an IPv4" },
	{ "IP:256.1.1.1", "not an IPv4" },
	{ "IP:localhost", "not an IPv4" },
	{ "DNS:-a.com", "not a valid DNS name" },
	{ "DNS:a-.com", "not a valid DNS name" },
	{ "DNS:a..b", "not a valid DNS name" },
	{ "DNS:a_b.com", "not a valid DNS name" },
	{ "DNS:a b", "not a valid DNS name" },
	{ "DNS:example.com.", "not a valid DNS name" },
	{ "DNS:1.2.3.4", "not a valid DNS name" },
	{ "DNS:a.*.com", "not a valid DNS name" },
	{ "DNS:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	  "not a valid DNS name" },
	{ "URI:https://x", "expected DNS:name or IP:address" },
	{ "localhost", "expected DNS:name or IP:address" },
	{ "DNS:a,bogus", "'bogus'" },
	{ "DNS=a", "expected DNS:name" },
};

TEST(san_parse_table_good)
{
	struct certgen_opts o;
	char err[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(san_good); i++) {
		certgen_opts_init(&o);
		err[0] = 0;
		EXPECT_EQ(certgen_add_sans(&o, san_good[i].list, err, sizeof(err)), 0);
		EXPECT_EQ(o.n_san, san_good[i].n);
		EXPECT_STR_EQ(o.san[0].value, san_good[i].first);
		EXPECT_EQ(o.san[0].kind, san_good[i].kind);
		if (t_failed()) {
			fprintf(stderr, "  case %zu: %s (%s)\n", i, san_good[i].list, err);
			return;
		}
	}
}

TEST(san_parse_table_bad_leaves_list_unchanged)
{
	struct certgen_opts o;
	char err[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(san_bad); i++) {
		certgen_opts_init(&o);
		ASSERT(certgen_add_sans(&o, "DNS:kept", err, sizeof(err)) == 0);
		err[0] = 0;
		EXPECT_EQ(certgen_add_sans(&o, san_bad[i].list, err, sizeof(err)), -EINVAL);
		EXPECT_STR_CONTAINS(err, san_bad[i].why);
		EXPECT_EQ(o.n_san, 1);
		if (t_failed()) {
			fprintf(stderr, "  case %zu: '%s'\n", i, san_bad[i].list);
			return;
		}
	}
}

TEST(san_parse_limit)
{
	struct certgen_opts o;
	char err[256], one[32];
	unsigned int i;

	certgen_opts_init(&o);
	for (i = 0; i < CERTGEN_SAN_MAX; i++) {
		snprintf(one, sizeof(one), "DNS:h%u.example", i);
		ASSERT(certgen_add_sans(&o, one, err, sizeof(err)) == 0);
	}
	EXPECT_EQ(certgen_add_sans(&o, "DNS:h0.example", err, sizeof(err)), 0); /* duplicate */
	EXPECT_EQ(certgen_add_sans(&o, "IP:10.1.1.1", err, sizeof(err)), -E2BIG);
	EXPECT_STR_CONTAINS(err, "more than 32");
	EXPECT_EQ(o.n_san, CERTGEN_SAN_MAX);
}

TEST(cn_forms)
{
	struct certgen_opts o;
	char err[256];
	char max[CERTGEN_CN_MAX + 2];

	certgen_opts_init(&o);
	EXPECT_STR_EQ(o.cn, "localhost");
	EXPECT_EQ(certgen_set_cn(&o, "127.0.0.1", err, sizeof(err)), 0);
	EXPECT_EQ(o.cn_kind, CERTGEN_SAN_IP);
	EXPECT_EQ(certgen_set_cn(&o, "::1", err, sizeof(err)), 0);
	EXPECT_EQ(o.cn_kind, CERTGEN_SAN_IP);
	EXPECT_EQ(certgen_set_cn(&o, "milvus.example.com", err, sizeof(err)), 0);
	EXPECT_EQ(o.cn_kind, CERTGEN_SAN_DNS);
	memset(max, 'a', 30);
	max[30] = '.';
	memset(max + 31, 'b', 33);
	max[64] = 0;
	EXPECT_EQ(certgen_set_cn(&o, max, err, sizeof(err)), 0);	/* 64: the limit */
	max[64] = 'b';
	max[65] = 0;
	EXPECT_EQ(certgen_set_cn(&o, max, err, sizeof(err)), -EINVAL);
	EXPECT_STR_CONTAINS(err, "1 to 64 characters");
	EXPECT_EQ(certgen_set_cn(&o, "milvus.example.com", err, sizeof(err)), 0);
	EXPECT_EQ(certgen_set_cn(&o, "", err, sizeof(err)), -EINVAL);
	EXPECT_EQ(certgen_set_cn(&o, "my server", err, sizeof(err)), -EINVAL);
	EXPECT_STR_CONTAINS(err, "neither a DNS name nor an IP address");
	EXPECT_EQ(certgen_set_cn(&o, "/CN=x", err, sizeof(err)), -EINVAL);
	EXPECT_STR_EQ(o.cn, "milvus.example.com");	/* refusals keep the last good one */
}

/* ---- serials ---- */

static const struct {
	const char *text;
	const char *next;	/* after serial_advance, NULL = parse refused */
} serial_cases[] = {
	{ "00\n", "01" },
	{ "1\n", "02" },
	{ "ff", "0100" },
	{ "7C3052D42A8AF293CCD9A88D77C8C298F62DC420\n", "7C3052D42A8AF293CCD9A88D77C8C298F62DC421" },
	{ "7c3052d42a8af293ccd9a88d77c8c298f62dc4ff\r\n",
	  "7C3052D42A8AF293CCD9A88D77C8C298F62DC500" },
	{ "", NULL },
	{ "\n", NULL },
	{ "xyz\n", NULL },
	{ "12 34\n", NULL },
	{ "-1\n", NULL },
	{ "0x10\n", NULL },
	{ "7C3052D42A8AF293CCD9A88D77C8C298F62DC4201\n", NULL },	/* 41 digits */
};

TEST(serial_parse_and_advance_table)
{
	char text[64];
	BIGNUM *bn;
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(serial_cases); i++) {
		bn = NULL;
		ret = certgen_serial_parse(serial_cases[i].text, &bn);
		if (!serial_cases[i].next) {
			EXPECT_EQ(ret, -EINVAL);
		} else {
			EXPECT_EQ(ret, 0);
			EXPECT_EQ(bn ? certgen_serial_advance(bn) : -1, 0);
			certgen_serial_text(bn, text, sizeof(text));
			EXPECT_STR_EQ(text, serial_cases[i].next);
		}
		BN_free(bn);
		if (t_failed()) {
			fprintf(stderr, "  case %zu: '%s'\n", i, serial_cases[i].text);
			return;
		}
	}
}

TEST(serial_advance_refuses_over_159_bits)
{
	BIGNUM *bn = NULL;

	/* 159 one bits: the largest serial that still fits 20 DER bytes */
	ASSERT(certgen_serial_parse("7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", &bn) == 0);
	EXPECT_EQ(certgen_serial_advance(bn), -ERANGE);
	BN_free(bn);
}

TEST(serial_random_is_positive_and_bounded)
{
	BIGNUM *a = certgen_serial_random(), *b = certgen_serial_random();

	ASSERT(a && b);
	EXPECT(!BN_is_negative(a) && !BN_is_zero(a));
	EXPECT(BN_num_bits(a) <= CERTGEN_SERIAL_BITS);
	EXPECT(BN_cmp(a, b) != 0);
	BN_free(a);
	BN_free(b);
}

/* ---- gen ---- */

TEST(gen_ec_writes_seven_files)
{
	static const char *const keys[] = { "ca.key", "server.key", "client.key" };
	static const char *const certs[] = { "ca.pem", "server.pem", "client.pem", "ca.srl" };
	struct certgen_report r;
	char dir[256], srl[BIG];
	EVP_PKEY *k;
	size_t i;

	dir_in_tmp(dir, sizeof(dir), "new/sub");	/* gen makes the directories */
	ASSERT(gen_in(dir, NULL, NULL, CERTGEN_KEY_EC, 0, &r) == 0);
	EXPECT_EQ(r.n_files, 7);
	EXPECT_EQ(count_entries(dir), 7);
	EXPECT_EQ(count_dotfiles(dir), 0);	/* no temp file left behind */
	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		EXPECT_EQ(file_mode(dir, keys[i]), 0600);
		k = load_key(dir, keys[i]);
		EXPECT(k && EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_bits(k) == 256);
		EVP_PKEY_free(k);
	}
	for (i = 0; i < ARRAY_SIZE(certs); i++)
		EXPECT_EQ(file_mode(dir, certs[i]), 0644);
	ASSERT(read_file(dir, "ca.srl", srl));
	EXPECT_EQ(strlen(srl), strlen(r.client_serial) + 1);
	EXPECT(!strncmp(srl, r.client_serial, strlen(r.client_serial)));
	EXPECT_STR_CONTAINS(r.san, "DNS:localhost");
	EXPECT_STR_CONTAINS(r.subject, "CN = localhost");
}

TEST(gen_chain_purposes_and_extensions)
{
	struct certgen_report r;
	X509 *ca, *srv, *cli;
	char dir[256];

	dir_in_tmp(dir, sizeof(dir), "d");
	ASSERT(gen_in(dir, NULL, NULL, CERTGEN_KEY_EC, 0, &r) == 0);
	EXPECT_EQ(verify_purpose(dir, "server.pem", X509_PURPOSE_SSL_SERVER), 1);
	EXPECT_EQ(verify_purpose(dir, "client.pem", X509_PURPOSE_SSL_CLIENT), 1);
	EXPECT_EQ(verify_purpose(dir, "client.pem", X509_PURPOSE_SSL_SERVER), 0);
	EXPECT_EQ(verify_purpose(dir, "server.pem", X509_PURPOSE_SSL_CLIENT), 0);
	ca = load_cert(dir, "ca.pem");
	srv = load_cert(dir, "server.pem");
	cli = load_cert(dir, "client.pem");
	ASSERT(ca && srv && cli);
	EXPECT_EQ(X509_check_ca(ca), 1);
	EXPECT_EQ(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	EXPECT(X509_get0_subject_key_id(ca) != NULL);
	EXPECT_EQ(X509_check_ca(srv), 0);
	EXPECT_EQ(X509_get_key_usage(srv), KU_DIGITAL_SIGNATURE);
	EXPECT_EQ(X509_get_extended_key_usage(srv), XKU_SSL_SERVER);
	EXPECT_EQ(X509_get_extended_key_usage(cli), XKU_SSL_CLIENT);
	EXPECT(X509_get0_authority_key_id(srv) != NULL);
	EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(srv),
					X509_get0_subject_key_id(ca)), 0);
	EXPECT(X509_NAME_cmp(X509_get_subject_name(ca), X509_get_subject_name(srv)) != 0);
	EXPECT_EQ(X509_get_signature_nid(srv), NID_ecdsa_with_SHA256);
	X509_free(cli);
	X509_free(srv);
	X509_free(ca);
}

TEST(gen_validity_window)
{
	struct certgen_report r;
	ASN1_TIME *now = X509_gmtime_adj(NULL, 0);
	X509 *ca, *srv;
	char dir[256];
	int day, sec;

	dir_in_tmp(dir, sizeof(dir), "d");
	ASSERT(now && gen_in(dir, NULL, NULL, CERTGEN_KEY_EC, 0, &r) == 0);
	ca = load_cert(dir, "ca.pem");
	srv = load_cert(dir, "server.pem");
	ASSERT(ca && srv);
	EXPECT(ASN1_TIME_diff(&day, &sec, X509_get0_notBefore(srv), now));
	EXPECT(day == 0 && sec >= SKEW_SECONDS - 60 && sec <= SKEW_SECONDS + 60);
	EXPECT(ASN1_TIME_diff(&day, &sec, now, X509_get0_notAfter(srv)));
	EXPECT(day == CERTGEN_LEAF_DAYS || (day == CERTGEN_LEAF_DAYS - 1 && sec > 86300));
	EXPECT(ASN1_TIME_diff(&day, &sec, now, X509_get0_notAfter(ca)));
	EXPECT(day == CERTGEN_CA_DAYS || (day == CERTGEN_CA_DAYS - 1 && sec > 86300));
	X509_free(srv);
	X509_free(ca);
	ASN1_TIME_free(now);
}

static void check_rsa(unsigned int bits)
{
	struct certgen_report r;
	EVP_PKEY *k;
	X509 *srv;
	char dir[256];

	dir_in_tmp(dir, sizeof(dir), "rsa");
	ASSERT(gen_in(dir, NULL, NULL, CERTGEN_KEY_RSA, bits, &r) == 0);
	k = load_key(dir, "server.key");
	EXPECT(k && EVP_PKEY_is_a(k, "RSA") && EVP_PKEY_get_bits(k) == (int)bits);
	EVP_PKEY_free(k);
	k = load_key(dir, "ca.key");
	EXPECT(k && EVP_PKEY_is_a(k, "RSA") && EVP_PKEY_get_bits(k) == (int)bits);
	EVP_PKEY_free(k);
	srv = load_cert(dir, "server.pem");
	ASSERT(srv);
	EXPECT_EQ(X509_get_key_usage(srv), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	EXPECT_EQ(X509_get_signature_nid(srv), NID_sha256WithRSAEncryption);
	X509_free(srv);
	EXPECT_EQ(verify_purpose(dir, "server.pem", X509_PURPOSE_SSL_SERVER), 1);
}

TEST(gen_rsa_2048)
{
	check_rsa(2048);
}

TEST(gen_rsa_3072)
{
	check_rsa(3072);
}

TEST(gen_rejects_other_rsa_sizes)
{
	struct certgen_report r;
	char dir[256];

	dir_in_tmp(dir, sizeof(dir), "rsa");
	EXPECT_EQ(gen_in(dir, NULL, NULL, CERTGEN_KEY_RSA, 1024, &r), -EINVAL);
	EXPECT_STR_CONTAINS(r.err, "2048 or 3072");
	EXPECT_EQ(count_entries(dir), 0);
}

TEST(gen_cn_is_always_a_san)
{
	struct certgen_report r;
	X509 *srv, *cli;
	char dir[256];

	dir_in_tmp(dir, sizeof(dir), "ip");
	ASSERT(gen_in(dir, "127.0.0.1", "DNS:localhost,IP:127.0.0.1,DNS:gw.example", CERTGEN_KEY_EC,
		      0, &r) == 0);
	EXPECT_STR_EQ(r.san, "IP Address:127.0.0.1, DNS:localhost, DNS:gw.example");
	srv = load_cert(dir, "server.pem");
	cli = load_cert(dir, "client.pem");
	ASSERT(srv && cli);
	EXPECT_EQ(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
	EXPECT_EQ(X509_check_host(srv, "gw.example", 0, 0, NULL), 1);
	EXPECT_EQ(X509_check_host(srv, "other.example", 0, 0, NULL), 0);
	EXPECT_EQ(X509_check_ip_asc(cli, "127.0.0.1", 0), 1);
	X509_free(cli);
	X509_free(srv);
}

TEST(gen_ca_name_differs_from_leaves)
{
	char buf[CERTGEN_CN_MAX + 1];

	ca_cn("localhost", buf, sizeof(buf));
	EXPECT_STR_EQ(buf, "localhost CA");
	ca_cn("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b", buf, sizeof(buf));
	EXPECT_STR_EQ(buf, "ktlsgw CA");	/* "<cn> CA" would pass 64 characters */
}

TEST(gen_refuses_existing_ca_without_force)
{
	char dir[256], before[BIG], after[BIG], key_before[BIG];
	struct certgen_opts o;
	struct certgen_report r;

	dir_in_tmp(dir, sizeof(dir), "d");
	ASSERT(gen_in(dir, NULL, NULL, CERTGEN_KEY_EC, 0, &r) == 0);
	ASSERT(read_file(dir, "ca.pem", before) && read_file(dir, "server.key", key_before));
	EXPECT_EQ(gen_in(dir, NULL, NULL, CERTGEN_KEY_EC, 0, &r), -EEXIST);
	EXPECT_STR_CONTAINS(r.err, "/ca.key exists");
	EXPECT_STR_CONTAINS(r.err, "--force");
	EXPECT_STR_CONTAINS(r.err, "cert renew");
	ASSERT(read_file(dir, "ca.pem", after));
	EXPECT_STR_EQ(after, before);
	ASSERT(read_file(dir, "server.key", after));
	EXPECT_STR_EQ(after, key_before);
	EXPECT_EQ(count_dotfiles(dir), 0);

	certgen_opts_init(&o);
	o.dir = dir;
	o.force = true;
	EXPECT_EQ(certgen_gen(&o, &r), 0);
	ASSERT(read_file(dir, "ca.pem", after));
	EXPECT(strcmp(after, before) != 0);
}

/* ---- renew ---- */

TEST(renew_keeps_ca_and_advances_serial)
{
	char dir[256], ca_before[BIG], key_before[BIG], buf[BIG], srl[BIG], want[64];
	struct certgen_report r;
	BIGNUM *bn = NULL;

	dir_in_tmp(dir, sizeof(dir), "d");
	ASSERT(gen_in(dir, NULL, NULL, CERTGEN_KEY_EC, 0, &r) == 0);
	ASSERT(read_file(dir, "ca.pem", ca_before) && read_file(dir, "ca.key", key_before));
	ASSERT(read_file(dir, "ca.srl", srl) && certgen_serial_parse(srl, &bn) == 0);
	ASSERT(renew_in(dir, &r) == 0);
	EXPECT_EQ(r.n_files, 5);
	EXPECT_STR_EQ(r.note, "");
	ASSERT(certgen_serial_advance(bn) == 0);
	certgen_serial_text(bn, want, sizeof(want));
	EXPECT_STR_EQ(r.serial, want);
	ASSERT(certgen_serial_advance(bn) == 0);
	certgen_serial_text(bn, want, sizeof(want));
	EXPECT_STR_EQ(r.client_serial, want);
	ASSERT(read_file(dir, "ca.srl", buf));
	EXPECT(!strncmp(buf, want, strlen(want)) && buf[strlen(want)] == '\n');
	ASSERT(read_file(dir, "ca.pem", buf));
	EXPECT_STR_EQ(buf, ca_before);
	ASSERT(read_file(dir, "ca.key", buf));
	EXPECT_STR_EQ(buf, key_before);
	EXPECT_EQ(verify_purpose(dir, "server.pem", X509_PURPOSE_SSL_SERVER), 1);
	EXPECT_EQ(verify_purpose(dir, "client.pem", X509_PURPOSE_SSL_CLIENT), 1);
	BN_free(bn);
}

TEST(renew_missing_srl_starts_random_and_says_so)
{
	char dir[256], path[CERTGEN_PATH_MAX], buf[BIG];
	struct certgen_report r;

	dir_in_tmp(dir, sizeof(dir), "d");
	ASSERT(gen_in(dir, NULL, NULL, CERTGEN_KEY_EC, 0, &r) == 0);
	ASSERT(certgen_path_join(path, dir, "ca.srl") == 0 && unlink(path) == 0);
	ASSERT(renew_in(dir, &r) == 0);
	EXPECT_STR_CONTAINS(r.note, "ca.srl was missing");
	ASSERT(read_file(dir, "ca.srl", buf));
	EXPECT(!strncmp(buf, r.client_serial, strlen(r.client_serial)));
	EXPECT_EQ(verify_purpose(dir, "server.pem", X509_PURPOSE_SSL_SERVER), 1);
}

TEST(renew_refuses_bad_srl)
{
	char dir[256], path[CERTGEN_PATH_MAX], srv[BIG], buf[BIG];
	struct certgen_report r;
	FILE *f;

	dir_in_tmp(dir, sizeof(dir), "d");
	ASSERT(gen_in(dir, NULL, NULL, CERTGEN_KEY_EC, 0, &r) == 0);
	ASSERT(read_file(dir, "server.pem", srv));
	ASSERT(certgen_path_join(path, dir, "ca.srl") == 0 && (f = fopen(path, "w")));
	fputs("not hex\n", f);
	fclose(f);
	EXPECT_EQ(renew_in(dir, &r), -EINVAL);
	EXPECT_STR_CONTAINS(r.err, "ca.srl: not a serial number");
	ASSERT(read_file(dir, "server.pem", buf));
	EXPECT_STR_EQ(buf, srv);
	EXPECT_EQ(count_dotfiles(dir), 0);
}

TEST(renew_refuses_key_of_another_ca)
{
	char a[256], b[256], pa[CERTGEN_PATH_MAX], pb[CERTGEN_PATH_MAX];
	struct certgen_report r;

	dir_in_tmp(a, sizeof(a), "a");
	dir_in_tmp(b, sizeof(b), "b");
	ASSERT(gen_in(a, NULL, NULL, CERTGEN_KEY_EC, 0, &r) == 0);
	ASSERT(gen_in(b, NULL, NULL, CERTGEN_KEY_EC, 0, &r) == 0);
	ASSERT(certgen_path_join(pa, a, "ca.key") == 0 && certgen_path_join(pb, b, "ca.key") == 0);
	ASSERT(rename(pb, pa) == 0);
	EXPECT_EQ(renew_in(a, &r), -EINVAL);
	EXPECT_STR_CONTAINS(r.err, "ca.key: does not match");
	EXPECT_EQ(ERR_peek_error(), 0);
}

TEST(renew_refuses_encrypted_ca_key_without_prompting)
{
	char dir[256], path[CERTGEN_PATH_MAX];
	struct certgen_report r;
	EVP_PKEY *k;
	BIO *b;

	dir_in_tmp(dir, sizeof(dir), "d");
	ASSERT(gen_in(dir, NULL, NULL, CERTGEN_KEY_EC, 0, &r) == 0);
	k = load_key(dir, "ca.key");
	ASSERT(k && certgen_path_join(path, dir, "ca.key") == 0);
	b = BIO_new_file(path, "w");
	EXPECT(b && PEM_write_bio_PrivateKey(b, k, EVP_aes_256_cbc(), (unsigned char *)"pw", 2,
					     NULL, NULL));
	BIO_free(b);
	EVP_PKEY_free(k);
	EXPECT_EQ(renew_in(dir, &r), -EPROTO);
	EXPECT_STR_CONTAINS(r.err, "ca.key: not an unencrypted PEM private key");
	EXPECT_EQ(ERR_peek_error(), 0);	/* drained into the message */
}

TEST(renew_without_ca_names_the_file)
{
	struct certgen_report r;
	char dir[256];

	dir_in_tmp(dir, sizeof(dir), "");
	EXPECT_EQ(renew_in(dir, &r), -ENOENT);
	EXPECT_STR_CONTAINS(r.err, "ca.pem: No such file or directory");
}

TEST(renew_refuses_leaf_as_ca)
{
	char dir[256], ps[CERTGEN_PATH_MAX], pc[CERTGEN_PATH_MAX];
	struct certgen_report r;

	dir_in_tmp(dir, sizeof(dir), "d");
	ASSERT(gen_in(dir, NULL, NULL, CERTGEN_KEY_EC, 0, &r) == 0);
	ASSERT(certgen_path_join(ps, dir, "server.pem") == 0);
	ASSERT(certgen_path_join(pc, dir, "ca.pem") == 0 && rename(ps, pc) == 0);
	EXPECT_EQ(renew_in(dir, &r), -EINVAL);
	EXPECT_STR_CONTAINS(r.err, "not a CA certificate");
}

/* ---- staging ---- */

TEST(stage_discard_removes_temp_files)
{
	struct certgen_stage st = { 0 };
	struct certgen_report r;
	char dir[256];

	dir_in_tmp(dir, sizeof(dir), "");
	st.dir = dir;
	ASSERT(certgen_stage_file(&st, "x.key", "secret\n", 7, 0600, &r) == 0);
	EXPECT_EQ(count_dotfiles(dir), 1);
	EXPECT_EQ(count_entries(dir), 0);	/* nothing under its final name yet */
	certgen_stage_discard(&st);
	EXPECT_EQ(count_dotfiles(dir), 0);
}

TEST(stage_commit_sets_modes_despite_umask)
{
	struct certgen_stage st = { 0 };
	struct certgen_report r = { 0 };
	mode_t old = umask(0077);
	char dir[256], buf[BIG];

	dir_in_tmp(dir, sizeof(dir), "");
	st.dir = dir;
	EXPECT_EQ(certgen_stage_file(&st, "x.key", "secret\n", 7, 0600, &r), 0);
	EXPECT_EQ(certgen_stage_file(&st, "x.pem", "public\n", 7, 0644, &r), 0);
	EXPECT_EQ(certgen_stage_commit(&st, &r), 0);
	umask(old);
	EXPECT_EQ(file_mode(dir, "x.key"), 0600);
	EXPECT_EQ(file_mode(dir, "x.pem"), 0644);
	ASSERT(read_file(dir, "x.pem", buf));
	EXPECT_STR_EQ(buf, "public\n");
	EXPECT_EQ(r.n_files, 2);
	EXPECT_EQ(count_dotfiles(dir), 0);
	certgen_stage_discard(&st);
}

TEST(stage_reports_unwritable_dir)
{
	struct certgen_stage st = { 0 };
	struct certgen_report r;

	st.dir = "/nonexistent-ktlsgw-dir";
	EXPECT_EQ(certgen_stage_file(&st, "x.key", "s", 1, 0600, &r), -ENOENT);
	EXPECT_STR_CONTAINS(r.err, "/nonexistent-ktlsgw-dir/x.key: cannot create a temporary file");
	EXPECT_EQ(st.n, 0);
}
