/* SPDX-License-Identifier: MIT */
/* log.c: level parsing, and that an OpenSSL error queue drains into one line. */
#include "t.h"
#include "log.h"

#include <openssl/err.h>
#include <openssl/pem.h>

TEST(level_parse_accepts_each_name)
{
	EXPECT_EQ(log_level_parse("error"), LOG_ERROR);
	EXPECT_EQ(log_level_parse("warn"), LOG_WARN);
	EXPECT_EQ(log_level_parse("info"), LOG_INFO);
	EXPECT_EQ(log_level_parse("debug"), LOG_DEBUG);
}

TEST(level_parse_rejects_unknown)
{
	EXPECT_EQ(log_level_parse("verbose"), -EINVAL);
	EXPECT_EQ(log_level_parse(""), -EINVAL);
	EXPECT_EQ(log_level_parse("INFO"), -EINVAL);
}

TEST(ssl_drain_empties_queue)
{
	char buf[512];
	BIO *b = BIO_new_mem_buf("not a certificate", -1);

	EXPECT(PEM_read_bio_X509(b, NULL, NULL, NULL) == NULL);
	BIO_free(b);
	log_ssl_drain(buf, sizeof(buf));
	EXPECT_STR_CONTAINS(buf, "PEM");
	EXPECT_EQ(ERR_peek_error(), 0);
}
