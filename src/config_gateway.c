/* SPDX-License-Identifier: MIT */
/* The gateway: section. Global settings, then each listener (bind, upstream,
 * TLS mode and version, ALPN routes, internal TLS), then cross-listener
 * rules: unique names, no overlapping binds, no listener forwarding to
 * itself. Unknown keys here are errors. */
#include "config_priv.h"
#include "log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>

#define WORKERS_MAX 256
/* Tickets live up to two periods; TLS 1.3 caps a ticket at 7 days. */
#define TICKET_ROTATION_MIN_MS 1000u
#define TICKET_ROTATION_MAX_MS (72u * 3600 * 1000)
#define RELOAD_DEBOUNCE_MAX_MS 60000u
#define CONNS_MAX 10000000ul
#define SESSION_TICKETS_MAX 8

static const char *const gateway_keys[] = {
	"listeners", "metrics", "ktls", "bpf", "workers", "handshakeTimeout", "connectTimeout",
	"idleTimeout", "drainTimeout", "maxConnections", "logLevel", "accessLog", "user",
	"allowInsecureKeyPerms", "ticketRotation", "sessionTickets", "reloadDebounce", NULL
};

static const char *const listener_keys[] = {
	"name", "bind", "upstream", "milvus", "tlsMode", "minVersion", "alpn", "alpnUpstreams",
	"internaltlsEnabled", "maxConnections", NULL
};

static void read_name(struct loader *ld, const struct cfgnode *n, struct listener_cfg *l)
{
	size_t i;

	if (!cfg_want(ld, n, CFGNODE_SCALAR))
		return;
	for (i = 0; i < n->len; i++)
		if (!isalnum((unsigned char)n->value[i]) && !strchr("_.-", n->value[i]))
			break;
	if (n->len == 0 || n->len >= CFG_NAME_MAX || i < n->len) {
		cfg_err(ld, n, "must be 1 to %d characters from A-Z a-z 0-9 _ . -, got '%s'",
			CFG_NAME_MAX - 1, n->value);
		return;
	}
	memcpy(l->name, n->value, n->len + 1);
}

/* milvus: grpc|rest gives a default upstream of 127.0.0.1:<proxy port>. */
static void read_upstream(struct loader *ld, const struct cfgnode *map, struct listener_cfg *l)
{
	const struct cfgnode *up = cfg_get(map, "upstream"), *mv = cfg_get(map, "milvus");
	unsigned int port = 0;
	const char *why;
	char text[32];

	if (mv && cfg_want(ld, mv, CFGNODE_SCALAR)) {
		if (!strcmp(mv->value, "grpc"))
			port = ld->c->proxy_port;
		else if (!strcmp(mv->value, "rest"))
			port = ld->c->proxy_http_port;
		else
			cfg_err(ld, mv, "must be grpc or rest, got '%s'", mv->value);
	}
	if (up) {
		if (cfg_read_endpoint(ld, up, &l->upstream) == 0)
			l->upstream.pos = up->pos;
		return;
	}
	if (!port) {
		if (!mv)
			cfg_err_missing(ld, map, "upstream",
					"missing (required unless milvus: grpc|rest is set)");
		return;
	}
	snprintf(text, sizeof(text), "127.0.0.1:%u", port);
	if (cfg_parse_endpoint(text, &l->upstream, &why) == 0)
		l->upstream.pos = mv->pos;
}

static bool alpn_is_valid(const struct cfgnode *n)
{
	size_t i;

	if (n->len < 1 || n->len >= CFG_ALPN_PROTO_MAX)
		return false;
	for (i = 0; i < n->len; i++)
		if (n->value[i] < 0x21 || n->value[i] > 0x7e)
			return false;
	return true;
}

static int find_alpn(const struct listener_cfg *l, const char *proto)
{
	unsigned int i;

	for (i = 0; i < l->n_alpn; i++)
		if (!strcmp(l->alpn[i].proto, proto))
			return (int)i;
	return -1;
}

static void add_alpn(struct listener_cfg *l, const char *proto)
{
	snprintf(l->alpn[l->n_alpn].proto, CFG_ALPN_PROTO_MAX, "%s", proto);
	l->n_alpn++;
}

static void read_alpn(struct loader *ld, const struct cfgnode *map, struct listener_cfg *l)
{
	const struct cfgnode *seq = cfg_get(map, "alpn"), *p;

	if (!seq) {
		add_alpn(l, "http/1.1");
		add_alpn(l, "h2");
		return;
	}
	if (!cfg_want(ld, seq, CFGNODE_SEQ))
		return;
	if (seq->n_children == 0 || seq->n_children > CFG_ALPN_MAX) {
		cfg_err(ld, seq, "must list 1 to %d protocols, got %u", CFG_ALPN_MAX,
			seq->n_children);
		return;
	}
	for (p = seq->first; p; p = p->next) {
		if (!cfg_want(ld, p, CFGNODE_SCALAR))
			continue;
		if (!alpn_is_valid(p))
			cfg_err(ld, p, "protocol names are 1 to %d printable characters, got '%s'",
				CFG_ALPN_PROTO_MAX - 1, p->value);
		else if (find_alpn(l, p->value) >= 0)
			cfg_err(ld, p, "duplicate protocol '%s'", p->value);
		else
			add_alpn(l, p->value);
	}
}

static void read_alpn_upstreams(struct loader *ld, const struct cfgnode *map,
				struct listener_cfg *l)
{
	const struct cfgnode *m = cfg_get(map, "alpnUpstreams"), *p;
	char path[CFG_PATH_TEXT];
	int i;

	if (!m || !cfg_want(ld, m, CFGNODE_MAP))
		return;
	if (l->tls_mode == TLS_MODE_PLAIN)
		cfg_err(ld, m, "needs TLS (ALPN is negotiated in the handshake) but this "
			       "listener has tlsMode 0");
	for (p = m->first; p; p = p->next) {
		i = find_alpn(l, p->key);
		if (i < 0) {
			cfgtree_path(p, path, sizeof(path));
			diag_error(ld->d, p->key_pos, path, "protocol '%s' is not in alpn",
				   p->key);
			continue;
		}
		if (cfg_read_endpoint(ld, p, &l->alpn[i].upstream) == 0)
			l->alpn[i].has_upstream = true;
	}
}

/* True when a connection to @b could land on a socket bound to @a. */
static bool ep_overlaps(const struct endpoint *a, const struct endpoint *b)
{
	const struct sockaddr_in *a4 = (const void *)&a->addr, *b4 = (const void *)&b->addr;
	const struct sockaddr_in6 *a6 = (const void *)&a->addr, *b6 = (const void *)&b->addr;

	if (a->addr.ss_family != b->addr.ss_family)
		return false;
	if (a->addr.ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       (a4->sin_addr.s_addr == b4->sin_addr.s_addr ||
			a4->sin_addr.s_addr == htonl(INADDR_ANY) ||
			b4->sin_addr.s_addr == htonl(INADDR_ANY));
	return a6->sin6_port == b6->sin6_port &&
	       (IN6_ARE_ADDR_EQUAL(&a6->sin6_addr, &b6->sin6_addr) ||
		IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) ||
		IN6_IS_ADDR_UNSPECIFIED(&b6->sin6_addr));
}

/* A loop: the upstream is the bind address itself, or the bind is a wildcard
 * and the upstream a loopback or unspecified address on the same port. A
 * remote host on the same port is not one (it cannot be known statically). */
static bool ep_is_loop(const struct endpoint *bind, const struct endpoint *up)
{
	const struct sockaddr_in *b4 = (const void *)&bind->addr, *u4 = (const void *)&up->addr;
	const struct sockaddr_in6 *b6 = (const void *)&bind->addr, *u6 = (const void *)&up->addr;

	if (bind->addr.ss_family != up->addr.ss_family)
		return false;
	if (bind->addr.ss_family == AF_INET)
		return b4->sin_port == u4->sin_port &&
		       (b4->sin_addr.s_addr == u4->sin_addr.s_addr ||
			u4->sin_addr.s_addr == htonl(INADDR_ANY) ||
			(b4->sin_addr.s_addr == htonl(INADDR_ANY) &&
			 (ntohl(u4->sin_addr.s_addr) >> 24) == 127));
	return b6->sin6_port == u6->sin6_port &&
	       (IN6_ARE_ADDR_EQUAL(&b6->sin6_addr, &u6->sin6_addr) ||
		IN6_IS_ADDR_UNSPECIFIED(&u6->sin6_addr) ||
		(IN6_IS_ADDR_UNSPECIFIED(&b6->sin6_addr) && IN6_IS_ADDR_LOOPBACK(&u6->sin6_addr)));
}

static void check_loops(struct loader *ld, const struct cfgnode *map, struct listener_cfg *l)
{
	const struct cfgnode *m = cfg_get(map, "alpnUpstreams"), *up = cfg_get(map, "upstream");
	unsigned int i;

	if (l->upstream.addrlen && ep_is_loop(&l->bind, &l->upstream))
		cfg_err(ld, up ? up : cfg_get(map, "milvus"),
			"%s is this listener's own bind address (a loop)", l->upstream.text);
	for (i = 0; i < l->n_alpn; i++)
		if (l->alpn[i].has_upstream && ep_is_loop(&l->bind, &l->alpn[i].upstream))
			cfg_err(ld, cfgtree_get(m, l->alpn[i].proto),
				"%s is this listener's own bind address (a loop)",
				l->alpn[i].upstream.text);
}

static int default_min_version(const struct config *c, enum tls_mode m)
{
	if (m == TLS_MODE_PLAIN)
		return 0;
	if (c->min_version)
		return c->min_version;
	return m == TLS_MODE_MUTUAL ? 0x0304 : 0x0303;
}

static void read_mode(struct loader *ld, const struct cfgnode *map, struct listener_cfg *l,
		      struct lst_src *src)
{
	const struct cfgnode *n = cfg_get(map, "tlsMode");

	l->tls_mode = ld->c->tls_mode;
	src->mode_pos = ld->mode_pos;
	if (n && cfg_read_tls_mode(ld, n, &l->tls_mode) == 0)
		src->mode_pos = n->pos;
	/* listener minVersion, else tls.minVersion, else 1.3 for mTLS, 1.2 */
	n = cfg_get(map, "minVersion");
	if (!n || cfg_read_min_version(ld, n, &l->min_version) < 0)
		l->min_version = default_min_version(ld->c, l->tls_mode);
	l->internal_tls = ld->c->internaltls_enabled;
	src->itls_pos = ld->itls_pos;
	n = cfg_get(map, "internaltlsEnabled");
	if (n && cfg_read_bool(ld, n, &l->internal_tls) == 0)
		src->itls_pos = n->pos;
}

static void load_listener(struct loader *ld, const struct cfgnode *map, unsigned int i)
{
	struct listener_cfg *l = &ld->c->listeners[i];
	const struct cfgnode *n;

	ld->src[i].node = map;
	l->pos = map->pos;
	if (!cfg_want(ld, map, CFGNODE_MAP))
		return;
	cfg_check_keys(ld, map, listener_keys, NULL, true);
	n = cfg_get(map, "name");
	if (n)
		read_name(ld, n, l);
	else
		cfg_err_missing(ld, map, "name", "missing (required)");
	n = cfg_get(map, "bind");
	if (!n)
		cfg_err_missing(ld, map, "bind", "missing (required)");
	else if (cfg_read_endpoint(ld, n, &l->bind) < 0)
		l->bind.addrlen = 0;
	read_mode(ld, map, l, &ld->src[i]);
	read_upstream(ld, map, l);
	read_alpn(ld, map, l);
	read_alpn_upstreams(ld, map, l);
	n = cfg_get(map, "maxConnections");
	if (n && cfg_read_uint(ld, n, 0, CONNS_MAX, &l->max_conns) < 0)
		l->max_conns = 0;
	if (l->bind.addrlen)
		check_loops(ld, map, l);
}

static void check_names(struct loader *ld)
{
	const struct listener_cfg *ls = ld->c->listeners;
	unsigned int i, j;

	for (i = 1; i < ld->c->n_listeners; i++)
		for (j = 0; j < i && ls[i].name[0]; j++)
			if (!strcmp(ls[i].name, ls[j].name)) {
				cfg_err(ld, cfg_get(ld->src[i].node, "name"),
					"duplicate listener name '%s' (first at line %d:%d)",
					ls[i].name, ls[j].pos.line, ls[j].pos.col);
				break;
			}
}

static void check_binds(struct loader *ld)
{
	const struct listener_cfg *ls = ld->c->listeners;
	unsigned int i, j;

	for (i = 0; i < ld->c->n_listeners; i++) {
		for (j = 0; j < i && ls[i].bind.addrlen; j++) {
			if (!ls[j].bind.addrlen || !ep_overlaps(&ls[i].bind, &ls[j].bind))
				continue;
			cfg_err(ld, cfg_get(ld->src[i].node, "bind"),
				"%s overlaps gateway.listeners[%u].bind %s (line %d:%d)",
				ls[i].bind.text, j, ls[j].bind.text, ls[j].bind.pos.line,
				ls[j].bind.pos.col);
			break;
		}
		if (ld->c->has_metrics && ls[i].bind.addrlen &&
		    ep_overlaps(&ls[i].bind, &ld->c->metrics))
			diag_error(ld->d, ld->c->metrics.pos, "gateway.metrics",
				   "%s overlaps gateway.listeners[%u].bind %s (line %d:%d)",
				   ld->c->metrics.text, i, ls[i].bind.text, ls[i].bind.pos.line,
				   ls[i].bind.pos.col);
	}
}

static void load_listeners(struct loader *ld, const struct cfgnode *gw)
{
	const struct cfgnode *seq = cfg_get(gw, "listeners"), *n;
	unsigned int i = 0;

	if (!seq) {
		cfg_err_missing(ld, gw, "listeners", "missing (required: at least one listener)");
		return;
	}
	if (!cfg_want(ld, seq, CFGNODE_SEQ))
		return;
	if (seq->n_children < 1 || seq->n_children > CFG_LISTENERS_MAX) {
		cfg_err(ld, seq, "must list 1 to %d listeners, got %u", CFG_LISTENERS_MAX,
			seq->n_children);
		return;
	}
	ld->c->listeners = calloc(seq->n_children, sizeof(*ld->c->listeners));
	if (!ld->c->listeners) {
		cfg_err(ld, seq, "out of memory");
		return;
	}
	ld->c->n_listeners = seq->n_children;
	for (n = seq->first; n; n = n->next)
		load_listener(ld, n, i++);
	check_names(ld);
	check_binds(ld);
}

static void read_feature(struct loader *ld, const struct cfgnode *gw, const char *key,
			 enum feature_mode *out)
{
	static const char *const names[FEAT__COUNT] = { "auto", "on", "off" };
	const struct cfgnode *n = cfg_get(gw, key);
	unsigned int i;

	if (!n || !cfg_want(ld, n, CFGNODE_SCALAR))
		return;
	for (i = 0; i < FEAT__COUNT; i++)
		if (!strcmp(n->value, names[i])) {
			*out = (enum feature_mode)i;
			return;
		}
	cfg_err(ld, n, "must be auto, on or off, got '%s'", n->value);
}

static void read_duration_key(struct loader *ld, const struct cfgnode *gw, const char *key,
			      unsigned int *ms)
{
	const struct cfgnode *n = cfg_get(gw, key);
	unsigned int v;

	if (n && cfg_read_duration(ld, n, &v) == 0)
		*ms = v;
}

/* A duration key that must lie in [@min, @max] ms. */
static void read_duration_range(struct loader *ld, const struct cfgnode *gw, const char *key,
				unsigned int min, unsigned int max, unsigned int *ms)
{
	const struct cfgnode *n = cfg_get(gw, key);
	unsigned int v;

	if (!n || cfg_read_duration(ld, n, &v) < 0)
		return;
	if (v < min || v > max)
		cfg_err(ld, n, "must be between %ums and %ums, got '%s'", min, max, n->value);
	else
		*ms = v;
}

static void read_bool_key(struct loader *ld, const struct cfgnode *gw, const char *key,
			  bool *out)
{
	const struct cfgnode *n = cfg_get(gw, key);
	bool v;

	if (n && cfg_read_bool(ld, n, &v) == 0)
		*out = v;
}

static void read_globals(struct loader *ld, const struct cfgnode *gw)
{
	struct config *c = ld->c;
	const struct cfgnode *n;
	unsigned int v;
	int lvl;

	n = cfg_get(gw, "metrics");
	if (n && cfg_read_endpoint(ld, n, &c->metrics) == 0)
		c->has_metrics = true;
	read_feature(ld, gw, "ktls", &c->ktls);
	read_feature(ld, gw, "bpf", &c->bpf);
	n = cfg_get(gw, "workers");
	if (n && cfg_read_uint(ld, n, 0, WORKERS_MAX, &v) == 0)
		c->workers = v;
	read_duration_key(ld, gw, "handshakeTimeout", &c->handshake_timeout_ms);
	read_duration_key(ld, gw, "connectTimeout", &c->connect_timeout_ms);
	read_duration_key(ld, gw, "idleTimeout", &c->idle_timeout_ms);
	read_duration_key(ld, gw, "drainTimeout", &c->drain_timeout_ms);
	c->ticket_rotation_ms = 3600000;
	read_duration_range(ld, gw, "ticketRotation", TICKET_ROTATION_MIN_MS,
			    TICKET_ROTATION_MAX_MS, &c->ticket_rotation_ms);
	/* One ticket per full handshake: each costs a session encode, decode
	 * (the client certificate too, in mutual TLS) and encryption, and a
	 * resumption brings a fresh one (tickets.c). */
	c->session_tickets = 1;
	n = cfg_get(gw, "sessionTickets");
	if (n && cfg_read_uint(ld, n, 0, SESSION_TICKETS_MAX, &v) == 0)
		c->session_tickets = v;
	c->reload_debounce_ms = 250;
	read_duration_range(ld, gw, "reloadDebounce", 0, RELOAD_DEBOUNCE_MAX_MS,
			    &c->reload_debounce_ms);
	n = cfg_get(gw, "maxConnections");
	if (n && cfg_read_uint(ld, n, 1, CONNS_MAX, &v) == 0)
		c->max_conns = v;
	n = cfg_get(gw, "logLevel");
	if (n && cfg_want(ld, n, CFGNODE_SCALAR)) {
		lvl = log_level_parse(n->value);
		if (lvl < 0)
			cfg_err(ld, n, "must be error, warn, info or debug, got '%s'", n->value);
		else
			c->log_level = lvl;
	}
	read_bool_key(ld, gw, "accessLog", &c->access_log);
	read_bool_key(ld, gw, "allowInsecureKeyPerms", &c->allow_insecure_key_perms);
	n = cfg_get(gw, "user");
	if (n && cfg_read_string(ld, n, &c->user) < 0)
		return;
}

void cfg_load_gateway(struct loader *ld)
{
	const struct cfgnode *gw = cfg_get(ld->root, "gateway");

	if (!gw) {
		diag_error(ld->d, (struct cfg_pos){ 0, 0 }, "gateway",
			   "missing (required: the gateway section with its listeners)");
		return;
	}
	if (!cfg_want(ld, gw, CFGNODE_MAP))
		return;
	ld->gateway_pos = gw->pos;
	cfg_check_keys(ld, gw, gateway_keys, NULL, true);
	/* globals first: the metrics address takes part in the bind checks */
	read_globals(ld, gw);
	load_listeners(ld, gw);
}
