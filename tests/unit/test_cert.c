/* SPDX-License-Identifier: MIT */
/* cert.c against fixtures from tcert.c: subject/SAN/expiry text, key
 * matching, CA bundles, CRLs, and the errors for missing or bad files. */
#include "t.h"
#include "tcert.h"
#include "cert.h"

#include <limits.h>
#include <time.h>

static char *p(const char *name)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", t_tmpdir(), name);
	return buf[i];
}

TEST(inspect_subject_san_expiry)
{
	struct tcert_opts o = { .cn = "milvus.example",
				.san = "DNS:milvus.example,IP:10.0.0.1,IP:::1",
				.days = 90 };
	char err[CERT_ERR_MAX];
	struct cert_info ci;
	long days;

	ASSERT(tcert_make_leaf(t_tmpdir(), &o) == 0);
	ASSERT(cert_inspect(p("server.pem"), &ci, err) == 0);
	EXPECT_STR_EQ(ci.subject, "CN=milvus.example");
	EXPECT_STR_EQ(ci.issuer, "CN=ktlsgw test CA");
	EXPECT_STR_EQ(ci.san, "DNS:milvus.example, IP:10.0.0.1, IP:::1");
	EXPECT_EQ(ci.n_certs, 1);
	days = cert_days_left(&ci, time(NULL));
	EXPECT(days == 89 || days == 90);
	EXPECT_STR_CONTAINS(ci.not_after_text, " UTC");
}

TEST(inspect_no_san)
{
	struct tcert_opts o = { .san = "" };
	char err[CERT_ERR_MAX];
	struct cert_info ci;

	ASSERT(tcert_make_leaf(t_tmpdir(), &o) == 0);
	ASSERT(cert_inspect(p("server.pem"), &ci, err) == 0);
	EXPECT_STR_EQ(ci.san, "");
}

TEST(expired_has_negative_days)
{
	struct tcert_opts o = { .expired = true };
	char err[CERT_ERR_MAX];
	struct cert_info ci;

	ASSERT(tcert_make_leaf(t_tmpdir(), &o) == 0);
	ASSERT(cert_inspect(p("server.pem"), &ci, err) == 0);
	EXPECT(ci.not_after < (int64_t)time(NULL));
	EXPECT(cert_days_left(&ci, time(NULL)) < 0);
}

TEST(days_left_rounds_down)
{
	struct cert_info ci = { .not_after = 1000000 };

	EXPECT_EQ(cert_days_left(&ci, 1000000 - 86400 * 5 - 10), 5);
	EXPECT_EQ(cert_days_left(&ci, 1000000 - 86399), 0);
	EXPECT_EQ(cert_days_left(&ci, 1000001), -1);
}

TEST(chain_counted)
{
	char err[CERT_ERR_MAX], text[16384];
	struct tcert_opts o = { 0 };
	struct cert_info ci;
	FILE *a, *b;
	size_t n;

	ASSERT(tcert_make_leaf(t_tmpdir(), &o) == 0);
	a = fopen(p("server.pem"), "a");
	b = fopen(p("ca.pem"), "r");
	ASSERT(a && b);
	n = fread(text, 1, sizeof(text), b);
	fwrite(text, 1, n, a);
	fclose(a);
	fclose(b);
	ASSERT(cert_inspect(p("server.pem"), &ci, err) == 0);
	EXPECT_EQ(ci.n_certs, 2);
}

TEST(key_matches)
{
	struct tcert_opts o = { 0 };
	char err[CERT_ERR_MAX];

	ASSERT(tcert_make_leaf(t_tmpdir(), &o) == 0);
	EXPECT_EQ(cert_key_matches(p("server.pem"), p("server.key"), err), 0);
}

TEST(key_mismatch)
{
	struct tcert_opts o = { .wrong_key = true };
	char err[CERT_ERR_MAX];

	ASSERT(tcert_make_leaf(t_tmpdir(), &o) == 0);
	EXPECT_EQ(cert_key_matches(p("server.pem"), p("server.key"), err), -EKEYREJECTED);
	EXPECT_STR_CONTAINS(err, "server.key' does not match certificate '");
}

TEST(key_not_a_key)
{
	struct tcert_opts o = { 0 };
	char err[CERT_ERR_MAX];

	ASSERT(tcert_make_leaf(t_tmpdir(), &o) == 0);
	EXPECT_EQ(cert_key_matches(p("server.pem"), p("ca.pem"), err), -EPROTO);
	EXPECT_STR_CONTAINS(err, "no usable PEM private key in '");
}

TEST(missing_file)
{
	char err[CERT_ERR_MAX];
	struct cert_info ci;

	EXPECT_EQ(cert_inspect(p("nope.pem"), &ci, err), -ENOENT);
	EXPECT_STR_CONTAINS(err, "nope.pem': No such file or directory");
}

TEST(garbage_is_not_a_cert)
{
	char err[CERT_ERR_MAX];
	struct cert_info ci;
	unsigned int n;

	ASSERT(tcert_write_file(t_tmpdir(), "junk.pem", "hello\n", 0644) == 0);
	EXPECT_EQ(cert_inspect(p("junk.pem"), &ci, err), -EPROTO);
	EXPECT_STR_CONTAINS(err, "no PEM certificate in '");
	EXPECT_EQ(cert_count_ca(p("junk.pem"), &n, err), -EPROTO);
	EXPECT_EQ(n, 0);
}

TEST(truncated_cert_rejected)
{
	char err[CERT_ERR_MAX];
	struct cert_info ci;

	ASSERT(tcert_write_file(t_tmpdir(), "t.pem",
				"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
				0644) == 0);
	EXPECT_EQ(cert_inspect(p("t.pem"), &ci, err), -EPROTO);
}

TEST(ca_bundle_counted)
{
	char err[CERT_ERR_MAX], text[16384];
	unsigned int n;
	FILE *f;
	size_t len;

	ASSERT(tcert_make_ca(t_tmpdir()) == 0);
	ASSERT(cert_count_ca(p("ca.pem"), &n, err) == 0);
	EXPECT_EQ(n, 1);
	f = fopen(p("ca.pem"), "r");
	ASSERT(f);
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = 0;
	ASSERT(tcert_make_ca(t_tmpdir()) == 0);
	f = fopen(p("ca.pem"), "a");
	ASSERT(f);
	fputs(text, f);
	fclose(f);
	ASSERT(cert_count_ca(p("ca.pem"), &n, err) == 0);
	EXPECT_EQ(n, 2);
}

TEST(crl_needs_a_crl)
{
	char err[CERT_ERR_MAX];
	unsigned int n;

	ASSERT(tcert_make_ca(t_tmpdir()) == 0);
	EXPECT_EQ(cert_check_crl(p("ca.pem"), &n, err), -EPROTO);
	EXPECT_STR_CONTAINS(err, "no PEM CRL in '");
}

TEST(crl_parses)
{
	char err[CERT_ERR_MAX];
	unsigned int n;

	ASSERT(tcert_make_crl(t_tmpdir()) == 0);
	EXPECT_EQ(cert_check_crl(p("ca.crl"), &n, err), 0);
	EXPECT_EQ(n, 1);
}
