/* SPDX-License-Identifier: MIT */
/* HTTP/1.0 and 1.1 request heads for the metrics endpoint: the request line
 * is checked strictly (token method, origin-form target, HTTP/1.x), header
 * lines for shape only; nothing is kept, only the status to answer. */
#include "httpreq.h"

#include <string.h>

static bool is_tchar(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Every header line is "name: value" with a token name and no control bytes. */
static bool headers_are_valid(const char *p, const char *end)
{
	const char *eol, *q;

	for (; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			return false;
		if (eol == p || (eol == p + 1 && *p == '\r'))
			return true;	/* the empty line */
		for (q = p; q < eol && is_tchar(*q); q++)
			;
		if (q == p || *q != ':')
			return false;
		for (; q < eol; q++)
			if ((unsigned char)*q < 0x20 && *q != '\t' && !(*q == '\r' && q + 1 == eol))
				return false;
	}
	return false;
}

struct request {
	const char *method, *target, *version;
	size_t mlen, tlen, vlen;
};

/* "METHOD SP TARGET SP HTTP/x.y" on the first line. Returns 0, or the status
 * that answers it (400, 505). */
static int parse_request_line(const char *p, const char *eol, struct request *r)
{
	const char *sp1, *sp2;

	if (eol > p && eol[-1] == '\r')
		eol--;
	sp1 = memchr(p, ' ', (size_t)(eol - p));
	if (!sp1)
		return 400;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2)
		return 400;
	*r = (struct request){ .method = p, .mlen = (size_t)(sp1 - p), .target = sp1 + 1,
			       .tlen = (size_t)(sp2 - sp1 - 1), .version = sp2 + 1,
			       .vlen = (size_t)(eol - sp2 - 1) };
	for (p = r->method; p < sp1; p++)
		if (!is_tchar(*p))
			return 400;
	for (p = r->target; p < sp2; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return 400;
	if (!r->mlen || !r->tlen || r->target[0] != '/' || r->vlen != 8 ||
	    memcmp(r->version, "HTTP/", 5) || r->version[6] != '.')
		return 400;
	if (r->version[5] != '1' || (r->version[7] != '0' && r->version[7] != '1'))
		return 505;
	return 0;
}

static bool token_is(const char *p, size_t len, const char *want)
{
	return len == strlen(want) && !memcmp(p, want, len);
}

/* End of the head (just past its empty line), or NULL while incomplete. */
static const char *head_end(const char *buf, size_t len)
{
	const char *p = memmem(buf, len, "\n\r\n", 3);
	const char *q = memmem(buf, len, "\n\n", 2);

	if (p && (!q || p < q))
		return p + 3;
	return q ? q + 2 : NULL;
}

/* Route of a valid request line: only /metrics exists. */
static int route(const struct request *r, bool *head_only)
{
	const char *q = memchr(r->target, '?', r->tlen);
	size_t plen = q ? (size_t)(q - r->target) : r->tlen;

	if (!token_is(r->target, plen, "/metrics"))
		return 404;
	*head_only = token_is(r->method, r->mlen, "HEAD");
	if (*head_only || token_is(r->method, r->mlen, "GET"))
		return 200;
	return 405;
}

int httpreq_parse(const char *buf, size_t len, size_t max, bool *head_only)
{
	const char *end = head_end(buf, len), *eol;
	struct request r;
	int status;

	*head_only = false;
	if (!end)
		return len >= max ? 431 : 0;
	eol = memchr(buf, '\n', (size_t)(end - buf));
	status = parse_request_line(buf, eol, &r);
	if (!status && !headers_are_valid(eol + 1, end))
		status = 400;
	return status ? status : route(&r, head_only);
}
