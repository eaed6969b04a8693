/* SPDX-License-Identifier: MIT */
/* The names of `ktlsgw cert`: the CN (a DNS name or an IP address, always
 * also a SAN) and --san lists "DNS:x,IP:y". Pure parsing, no OpenSSL, so the
 * unit tests drive it with tables. */
#include "certgen.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <strings.h>

static bool label_is_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

/* RFC 1123 host name, optionally "*." first; an all-digit last label is
 * refused so that a mistyped IPv4 address is not taken for a name. */
static bool dns_name_is_valid(const char *s)
{
	size_t len = strlen(s), n;
	const char *dot;

	if (len == 0 || len > 253)
		return false;
	if (!strncmp(s, "*.", 2))
		s += 2;
	for (;;) {
		dot = strchr(s, '.');
		n = dot ? (size_t)(dot - s) : strlen(s);
		if (!label_is_ok(s, n))
			return false;
		if (!dot)
			return strspn(s, "0123456789") != n;
		s = dot + 1;
	}
}

int certgen_ip_canonical(const char *s, char *out, size_t len)
{
	unsigned char bin[16];

	if (inet_pton(AF_INET, s, bin) == 1)
		return inet_ntop(AF_INET, bin, out, (socklen_t)len) ? 0 : -EINVAL;
	if (inet_pton(AF_INET6, s, bin) == 1)
		return inet_ntop(AF_INET6, bin, out, (socklen_t)len) ? 0 : -EINVAL;
	return -EINVAL;
}

bool certgen_san_is_equal(const struct certgen_san *a, enum certgen_san_kind kind, const char *v)
{
	return a->kind == kind && !strcasecmp(a->value, v);
}

static int bad(char *err, size_t len, int ret, const char *fmt, ...) __printf(4, 5);

static int bad(char *err, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return ret;
}

/* Kind and value of "DNS:name" / "IP:addr" in @ent; NULL, or why not. */
static const char *san_classify(const char *ent, enum certgen_san_kind *kind, char *val, size_t len)
{
	if (!strncasecmp(ent, "DNS:", 4)) {
		*kind = CERTGEN_SAN_DNS;
		if (!dns_name_is_valid(ent + 4) || strlen(ent + 4) >= len)
			return "not a valid DNS name";
		memcpy(val, ent + 4, strlen(ent + 4) + 1);
		return NULL;
	}
	if (!strncasecmp(ent, "IP:", 3)) {
		*kind = CERTGEN_SAN_IP;
		return certgen_ip_canonical(ent + 3, val, len) ? "not an IPv4 or IPv6 address"
							       : NULL;
	}
	return "expected DNS:name or IP:address";
}

/* Parses one entry of @n bytes at @tok and adds it unless already there. */
static int san_parse_one(struct certgen_opts *o, const char *tok, size_t n, char *err, size_t len)
{
	char ent[CERTGEN_SAN_VALUE_MAX + 8], val[CERTGEN_SAN_VALUE_MAX];
	enum certgen_san_kind kind;
	const char *why;
	unsigned int i;

	if (n == 0)
		return bad(err, len, -EINVAL, "empty entry");
	if (n >= sizeof(ent))
		return bad(err, len, -EINVAL, "entry longer than %zu characters", sizeof(ent) - 1);
	memcpy(ent, tok, n);
	ent[n] = 0;
	why = san_classify(ent, &kind, val, sizeof(val));
	if (why)
		return bad(err, len, -EINVAL, "'%s': %s", ent, why);
	for (i = 0; i < o->n_san; i++)
		if (certgen_san_is_equal(&o->san[i], kind, val))
			return 0;
	if (o->n_san >= CERTGEN_SAN_MAX)
		return bad(err, len, -E2BIG, "more than %d entries", CERTGEN_SAN_MAX);
	o->san[o->n_san].kind = kind;
	memcpy(o->san[o->n_san].value, val, sizeof(val));
	o->n_san++;
	return 0;
}

int certgen_add_sans(struct certgen_opts *o, const char *list, char *err, size_t len)
{
	unsigned int saved = o->n_san;
	const char *comma;
	int ret;

	for (;;) {
		comma = strchr(list, ',');
		ret = san_parse_one(o, list, comma ? (size_t)(comma - list) : strlen(list), err,
				    len);
		if (ret < 0) {
			o->n_san = saved;
			return ret;
		}
		if (!comma)
			return 0;
		list = comma + 1;
	}
}

int certgen_set_cn(struct certgen_opts *o, const char *cn, char *err, size_t len)
{
	char ip[CERTGEN_SAN_VALUE_MAX];

	if (!cn[0] || strlen(cn) > CERTGEN_CN_MAX)
		return bad(err, len, -EINVAL, "'%s': must have 1 to %d characters", cn,
			   CERTGEN_CN_MAX);
	if (!certgen_ip_canonical(cn, ip, sizeof(ip)))
		o->cn_kind = CERTGEN_SAN_IP;
	else if (dns_name_is_valid(cn))
		o->cn_kind = CERTGEN_SAN_DNS;
	else
		return bad(err, len, -EINVAL,
			   "'%s': neither a DNS name nor an IP address (the CN is also a "
			   "subjectAltName)",
			   cn);
	memcpy(o->cn, cn, strlen(cn) + 1);
	return 0;
}

void certgen_opts_init(struct certgen_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->dir = ".";
	snprintf(o->cn, sizeof(o->cn), "localhost");
	o->cn_kind = CERTGEN_SAN_DNS;
	o->days = CERTGEN_LEAF_DAYS;
	o->key_type = CERTGEN_KEY_EC;
	o->bits = 2048;
}
