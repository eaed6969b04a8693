/* SPDX-License-Identifier: MIT */
/* The endpoint's request parser, table-driven: what is served, what is
 * refused with which status, and when it waits for more bytes. */
#include "../lib/t.h"

#include "common.h"
#include "httpreq.h"

struct rcase {
	const char *req;
	int status;
	bool head_only;
};

static const struct rcase cases[] = {
	{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, false },
	{ "GET /metrics HTTP/1.0\r\n\r\n", 200, false },
	{ "GET /metrics HTTP/1.1\n\n", 200, false },		/* bare LF */
	{ "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, true },
	{ "GET /metrics?name[]=up HTTP/1.1\r\n\r\n", 200, false },
	{ "GET /metrics HTTP/1.1\r\nA: b\r\nUser-Agent: Prometheus/2.45\r\nAccept: */*\r\n\r\n",
	  200, false },
	{ "GET / HTTP/1.1\r\n\r\n", 404, false },
	{ "GET /metrics/ HTTP/1.1\r\n\r\n", 404, false },
	{ "GET /metricsx HTTP/1.1\r\n\r\n", 404, false },
	{ "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, false },
	{ "DELETE /metrics HTTP/1.0\r\n\r\n", 405, false },
	{ "get /metrics HTTP/1.1\r\n\r\n", 405, false },		/* methods are case-sensitive */
	{ "GET /metrics HTTP/2.0\r\n\r\n", 505, false },
	{ "GET /metrics HTTP/1.1 \r\n\r\n", 400, false },		/* extra space */
	{ "GET  /metrics HTTP/1.1\r\n\r\n", 400, false },
	{ "GET metrics HTTP/1.1\r\n\r\n", 400, false },		/* not origin-form */
	{ "GET http://h/metrics HTTP/1.1\r\n\r\n", 400, false },
	{ "GET /metrics\r\n\r\n", 400, false },			/* HTTP/0.9 */
	{ "GET /metrics FTP/1.1\r\n\r\n", 400, false },
	{ "G(T /metrics HTTP/1.1\r\n\r\n", 400, false },
	{ "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", 400, false },
	{ "GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n", 400, false },
	{ "GET /metrics HTTP/1.1\r\nA: b\x01\r\n\r\n", 400, false },
	{ "\r\n\r\n", 400, false },
	{ "\x16\x03\x01\x02\x05\x01\x07\x01\xfc\x03\x03\n\n", 400, false },	/* TLS hello */
	{ "GET /metrics HTTP/1.1\r\n", 0, false },			/* incomplete */
	{ "GET /met", 0, false },
	{ "", 0, false },
};

TEST(requests_table)
{
	unsigned int i;
	bool head;
	int st;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		head = !cases[i].head_only;
		st = httpreq_parse(cases[i].req, strlen(cases[i].req), 8192, &head);
		if (st != cases[i].status || head != cases[i].head_only)
			t_fail(__FILE__, __LINE__, "case %u: status %d head %d, expected %d %d", i,
			       st, head, cases[i].status, cases[i].head_only);
	}
}

/* A head that fills the buffer without its empty line is refused (431);
 * one that ends exactly at the limit is served. */
TEST(head_limit)
{
	static char buf[64];
	bool head;
	const char *req = "GET /metrics HTTP/1.1\r\nX: 0123456789012345678901234\r\n\r\n";
	size_t n = strlen(req);

	memset(buf, 'a', sizeof(buf));
	EXPECT_EQ(httpreq_parse(buf, sizeof(buf), sizeof(buf), &head), 431);
	EXPECT_EQ(httpreq_parse(buf, sizeof(buf) - 1, sizeof(buf), &head), 0);
	EXPECT_EQ(httpreq_parse(req, n, n, &head), 200);
}

/* The first empty line ends the head: a second request after it is ignored. */
TEST(first_head_only)
{
	static const char req[] = "GET / HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n";
	bool head;

	EXPECT_EQ(httpreq_parse(req, strlen(req), 8192, &head), 404);
}
