/* SPDX-License-Identifier: MIT */
/* Typed scalar readers for the config: booleans, bounded integers, durations,
 * strings and paths, addresses ("a.b.c.d:port", "name:port", "[v6]:port"), TLS mode and
 * version. Each reports a positioned error and returns -EINVAL on bad input. */
#include "config_priv.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <limits.h>
#include <stdio.h>
#include <strings.h>

int cfg_read_bool(struct loader *ld, const struct cfgnode *n, bool *out)
{
	if (!cfg_want(ld, n, CFGNODE_SCALAR))
		return -EINVAL;
	if (!strcasecmp(n->value, "true") || !strcasecmp(n->value, "false")) {
		*out = !strcasecmp(n->value, "true");
		return 0;
	}
	cfg_err(ld, n, "expected true or false, got '%s'", n->value);
	return -EINVAL;
}

/* Decimal digits only: no sign, no spaces, no hex. */
static int parse_ulong(const char *s, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (ULONG_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*out = v;
	return 0;
}

int cfg_read_uint(struct loader *ld, const struct cfgnode *n, unsigned long min,
		  unsigned long max, unsigned int *out)
{
	unsigned long v = 0;
	int ret;

	if (!cfg_want(ld, n, CFGNODE_SCALAR))
		return -EINVAL;
	ret = parse_ulong(n->value, &v);
	if (ret == -EINVAL) {
		cfg_err(ld, n, "expected a whole number, got '%s'", n->value);
		return ret;
	}
	if (ret < 0 || v < min || v > max) {
		cfg_err(ld, n, "must be between %lu and %lu, got %s", min, max, n->value);
		return -ERANGE;
	}
	*out = (unsigned int)v;
	return 0;
}

int cfg_parse_duration(const char *s, unsigned int *ms, const char **why)
{
	static const struct {
		const char *suffix;
		unsigned long mult;
	} units[] = { { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	char digits[24];
	size_t nd = strspn(s, "0123456789");
	unsigned long v;
	size_t i;

	*why = "expected a number with an optional unit ms, s, m or h (\"10s\", \"500ms\")";
	if (nd == 0 || nd >= sizeof(digits))
		return nd ? -ERANGE : -EINVAL;
	memcpy(digits, s, nd);
	digits[nd] = 0;
	for (i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(s + nd, units[i].suffix))
			continue;
		if (parse_ulong(digits, &v) < 0 || v > UINT_MAX / units[i].mult) {
			*why = "too large";
			return -ERANGE;
		}
		*ms = (unsigned int)(v * units[i].mult);
		return 0;
	}
	return -EINVAL;
}

int cfg_read_duration(struct loader *ld, const struct cfgnode *n, unsigned int *ms)
{
	const char *why;

	if (!cfg_want(ld, n, CFGNODE_SCALAR))
		return -EINVAL;
	if (cfg_parse_duration(n->value, ms, &why) == 0)
		return 0;
	cfg_err(ld, n, "invalid duration '%s': %s", n->value, why);
	return -EINVAL;
}

int cfg_read_string(struct loader *ld, const struct cfgnode *n, char **out)
{
	if (!cfg_want(ld, n, CFGNODE_SCALAR))
		return -EINVAL;
	free(*out);
	*out = strdup(n->value);
	return *out ? 0 : -ENOMEM;
}

/* Relative paths resolve against the config file's directory. */
int cfg_read_path(struct loader *ld, const struct cfgnode *n, char **out)
{
	char *s = NULL;
	int ret;

	ret = cfg_read_string(ld, n, &s);
	if (ret < 0)
		return ret;
	if (s[0] != '/') {
		free(*out);
		ret = asprintf(out, "%s/%s", ld->c->dir, s);
		free(s);
		if (ret < 0) {
			*out = NULL;
			return -ENOMEM;
		}
		return 0;
	}
	free(*out);
	*out = s;
	return 0;
}

static bool lookups_on = true;

void config_set_name_lookups(bool on)
{
	lookups_on = on;
}

/* A DNS-like name: letters, digits, '-' and '.', with a letter somewhere
 * (so a mistyped IPv4 address is reported as one, not looked up). */
static bool is_host_name(const char *h)
{
	bool letter = false;

	for (; *h; h++) {
		if (isalpha((unsigned char)*h))
			letter = true;
		else if (!isdigit((unsigned char)*h) && *h != '-' && *h != '.')
			return false;
	}
	return letter;
}

/* The first IPv4 address of @h, else its first IPv6 one: a container's
 * IPv6 is often unrouted while its IPv4 works. */
static int resolve_name(const char *h, struct endpoint *ep, const char **why)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai, *pick = NULL;
	static __thread char text[160];
	int ret;

	ret = lookups_on ? getaddrinfo(h, NULL, &hints, &res) : EAI_NONAME;
	if (ret) {
		snprintf(text, sizeof(text), "cannot resolve host name '%s': %s", h,
			 lookups_on ? gai_strerror(ret) : "name lookups are off");
		*why = text;
		return -EINVAL;
	}
	for (ai = res; ai && !pick; ai = ai->ai_next)
		if (ai->ai_family == AF_INET)
			pick = ai;
	if (!pick)
		pick = res;
	memcpy(&ep->addr, pick->ai_addr, pick->ai_addrlen);
	ep->addrlen = pick->ai_addrlen;
	freeaddrinfo(res);
	snprintf(ep->name, sizeof(ep->name), "%s", h);
	return 0;
}

/* Numeric IPv4, "localhost", [IPv6], or a host name resolved now. */
static int parse_host(const char *h, bool v6, struct endpoint *ep, const char **why)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ep->addr;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ep->addr;

	if (v6) {
		*why = "bad IPv6 address";
		s6->sin6_family = AF_INET6;
		ep->addrlen = sizeof(*s6);
		return inet_pton(AF_INET6, h, &s6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	if (strchr(h, ':')) {
		*why = "write IPv6 addresses in brackets, e.g. [::1]:8443";
		return -EINVAL;
	}
	*why = !*h ? "missing host" : "bad IPv4 address (expected a.b.c.d or a host name)";
	s4->sin_family = AF_INET;
	ep->addrlen = sizeof(*s4);
	if (!strcmp(h, "localhost"))
		h = "127.0.0.1";
	if (inet_pton(AF_INET, h, &s4->sin_addr) == 1)
		return 0;
	return is_host_name(h) ? resolve_name(h, ep, why) : -EINVAL;
}

static void endpoint_text(struct endpoint *ep, unsigned int port)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ep->addr.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ep->addr)->sin6_addr, host,
			  sizeof(host));
		snprintf(ep->text, sizeof(ep->text), "[%s]:%u", host, port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ep->addr)->sin_addr, host,
			  sizeof(host));
		snprintf(ep->text, sizeof(ep->text), "%s:%u", host, port);
	}
}

int cfg_parse_endpoint(const char *s, struct endpoint *ep, const char **why)
{
	char host[CFG_ADDR_TEXT_MAX];
	const char *colon, *h = s;
	unsigned long port;
	size_t hl;
	bool v6 = s[0] == '[';

	memset(&ep->addr, 0, sizeof(ep->addr));
	ep->name[0] = 0;
	*why = "expected host:port or [IPv6]:port";
	colon = v6 ? strstr(s, "]:") : strrchr(s, ':');
	if (!colon)
		return -EINVAL;
	if (v6)
		h = s + 1;
	else if (memchr(s, ':', (size_t)(colon - s)) && s[0] != '[') {
		*why = "write IPv6 addresses in brackets, e.g. [::1]:8443";
		return -EINVAL;
	}
	hl = (size_t)(colon - h);
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	if (parse_host(host, v6, ep, why) < 0)
		return -EINVAL;
	colon += v6 ? 2 : 1;
	if (parse_ulong(colon, &port) < 0 || port < 1 || port > 65535) {
		*why = "port must be a number from 1 to 65535";
		return -EINVAL;
	}
	if (ep->addr.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ep->addr)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&ep->addr)->sin_port = htons((uint16_t)port);
	endpoint_text(ep, (unsigned int)port);
	return 0;
}

int cfg_read_endpoint(struct loader *ld, const struct cfgnode *n, struct endpoint *ep)
{
	const char *why;

	if (!cfg_want(ld, n, CFGNODE_SCALAR))
		return -EINVAL;
	if (cfg_parse_endpoint(n->value, ep, &why) < 0) {
		cfg_err(ld, n, "invalid address '%s': %s", n->value, why);
		return -EINVAL;
	}
	ep->pos = n->pos;
	return 0;
}

int cfg_read_tls_mode(struct loader *ld, const struct cfgnode *n, enum tls_mode *out)
{
	if (!cfg_want(ld, n, CFGNODE_SCALAR))
		return -EINVAL;
	if (n->len == 1 && n->value[0] >= '0' && n->value[0] <= '2') {
		*out = (enum tls_mode)(n->value[0] - '0');
		return 0;
	}
	cfg_err(ld, n, "must be 0 (plain), 1 (one-way TLS) or 2 (mutual TLS), got '%s'",
		n->value);
	return -EINVAL;
}

int cfg_read_min_version(struct loader *ld, const struct cfgnode *n, int *out)
{
	if (!cfg_want(ld, n, CFGNODE_SCALAR))
		return -EINVAL;
	if (!strcmp(n->value, "1.2") || !strcmp(n->value, "1.3")) {
		/* TLS1_2_VERSION / TLS1_3_VERSION, without including OpenSSL */
		*out = n->value[2] == '2' ? 0x0303 : 0x0304;
		return 0;
	}
	cfg_err(ld, n, "must be \"1.2\" or \"1.3\", got '%s'", n->value);
	return -EINVAL;
}
