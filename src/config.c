/* SPDX-License-Identifier: MIT */
/* milvus.yaml superset -> struct config: file reading, positioned messages,
 * the Milvus keys the gateway shares (tls.*, internaltls.*, common.security.*,
 * proxy ports) and typo warnings. Scalar readers are config_value.c, the
 * gateway: section config_gateway.c, certificate checks config_files.c. */
#include "config_priv.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <unistd.h>

#define CONFIG_FILE_MAX CFGTREE_INPUT_MAX

static void vreport(struct loader *ld, bool warn, struct cfg_pos pos, const char *key,
		    const char *fmt, va_list ap) __printf(5, 0);

static void vreport(struct loader *ld, bool warn, struct cfg_pos pos, const char *key,
		    const char *fmt, va_list ap)
{
	char reason[768];

	vsnprintf(reason, sizeof(reason), fmt, ap);
	if (warn)
		diag_warn(ld->d, pos, key, "%s", reason);
	else
		diag_error(ld->d, pos, key, "%s", reason);
}

void cfg_err(struct loader *ld, const struct cfgnode *n, const char *fmt, ...)
{
	char path[CFG_PATH_TEXT];
	va_list ap;

	cfgtree_path(n, path, sizeof(path));
	va_start(ap, fmt);
	vreport(ld, false, n->pos, path, fmt, ap);
	va_end(ap);
}

void cfg_warn(struct loader *ld, const struct cfgnode *n, const char *fmt, ...)
{
	char path[CFG_PATH_TEXT];
	va_list ap;

	cfgtree_path(n, path, sizeof(path));
	va_start(ap, fmt);
	vreport(ld, true, n->pos, path, fmt, ap);
	va_end(ap);
}

void cfg_err_missing(struct loader *ld, const struct cfgnode *parent, const char *key,
		     const char *fmt, ...)
{
	char path[CFG_PATH_TEXT];
	size_t n;
	va_list ap;

	cfgtree_path(parent, path, sizeof(path));
	n = strlen(path);
	snprintf(path + n, sizeof(path) - n, "%s%s", n ? "." : "", key);
	va_start(ap, fmt);
	vreport(ld, false, parent->pos, path, fmt, ap);
	va_end(ap);
}

const struct cfgnode *cfg_get(const struct cfgnode *map, const char *key)
{
	const struct cfgnode *n = cfgtree_get(map, key);

	return cfgtree_is_null(n) ? NULL : n;
}

bool cfg_want(struct loader *ld, const struct cfgnode *n, enum cfgnode_type t)
{
	if (n->type != t) {
		cfg_err(ld, n, "expected a %s, got a %s", cfgtree_type_name(t),
			cfgtree_type_name(n->type));
		return false;
	}
	/* readers treat values as C strings: "80\0junk" must not read as "80" */
	if (t == CFGNODE_SCALAR && strlen(n->value) != n->len) {
		cfg_err(ld, n, "contains a NUL byte");
		return false;
	}
	return true;
}

static unsigned int min3(unsigned int a, unsigned int b, unsigned int c)
{
	unsigned int m = a < b ? a : b;

	return m < c ? m : c;
}

static void lower(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
}

/* Case-insensitive edit distance counting a swap of neighbours as one edit
 * (optimal string alignment), so "ktsl" is one step from "ktls". */
static unsigned int distance(const char *a0, const char *b0)
{
	unsigned int m[33][33], i, j;
	size_t la = strlen(a0), lb = strlen(b0);
	char a[33], b[33];

	if (la >= ARRAY_SIZE(m) || lb >= ARRAY_SIZE(m))
		return 99;
	lower(a, a0, la);
	lower(b, b0, lb);
	for (i = 0; i <= la; i++)
		m[i][0] = i;
	for (j = 0; j <= lb; j++)
		m[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			m[i][j] = min3(m[i - 1][j] + 1, m[i][j - 1] + 1,
				       m[i - 1][j - 1] + (a[i - 1] != b[j - 1]));
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    m[i - 2][j - 2] + 1 < m[i][j])
				m[i][j] = m[i - 2][j - 2] + 1;
		}
	}
	return m[la][lb];
}

static bool in_list(const char *k, const char *const *list)
{
	for (; list && *list; list++)
		if (!strcmp(k, *list))
			return true;
	return false;
}

/* The closest of @known to @k, when close enough to be a typo. */
static const char *near_miss(const char *k, const char *const *known)
{
	const char *best = NULL;
	unsigned int d, best_d = 99, limit = strlen(k) < 6 ? 1 : 2;

	for (; *known; known++) {
		d = distance(k, *known);
		if (d <= limit && d < best_d) {
			best = *known;
			best_d = d;
		}
	}
	return best;
}

static void report_key(struct loader *ld, const struct cfgnode *c, const char *hint,
		       bool strict)
{
	char path[CFG_PATH_TEXT];

	cfgtree_path(c, path, sizeof(path));
	if (strict && hint)
		diag_error(ld->d, c->key_pos, path, "unknown key; did you mean '%s'?", hint);
	else if (strict)
		diag_error(ld->d, c->key_pos, path, "unknown key");
	else
		diag_warn(ld->d, c->key_pos, path, "unknown key ignored; did you mean '%s'?",
			  hint);
}

void cfg_check_keys(struct loader *ld, const struct cfgnode *map, const char *const *known,
		    const char *const *also, bool strict)
{
	const struct cfgnode *c;
	const char *hint;

	for (c = map->first; c; c = c->next) {
		if (in_list(c->key, known) || in_list(c->key, also))
			continue;
		hint = near_miss(c->key, known);
		if (strict || hint)
			report_key(ld, c, hint, strict);
	}
}

/* A section that must be a mapping when present; NULL when absent. */
static const struct cfgnode *section(struct loader *ld, const struct cfgnode *map,
				     const char *key)
{
	const struct cfgnode *n = cfg_get(map, key);

	if (!n || !cfg_want(ld, n, CFGNODE_MAP))
		return NULL;
	return n;
}

static void load_tls_files(struct loader *ld, const struct cfgnode *sec, struct tls_files *f,
			   bool with_crl)
{
	static const struct {
		const char *key;
		size_t path_off, pos_off;
	} keys[] = {
		{ "serverPemPath", offsetof(struct tls_files, server_pem),
		  offsetof(struct tls_files, server_pem_pos) },
		{ "serverKeyPath", offsetof(struct tls_files, server_key),
		  offsetof(struct tls_files, server_key_pos) },
		{ "caPemPath", offsetof(struct tls_files, ca_pem),
		  offsetof(struct tls_files, ca_pem_pos) },
		{ "crlPemPath", offsetof(struct tls_files, crl_pem),
		  offsetof(struct tls_files, crl_pem_pos) },
	};
	const struct cfgnode *n;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(keys) - !with_crl; i++) {
		n = cfg_get(sec, keys[i].key);
		if (!n || cfg_read_path(ld, n, (char **)((char *)f + keys[i].path_off)) < 0)
			continue;
		*(struct cfg_pos *)((char *)f + keys[i].pos_off) = n->pos;
	}
}

static void load_tls(struct loader *ld)
{
	static const char *const known[] = { "serverPemPath", "serverKeyPath", "caPemPath",
					     "minVersion", "crlPemPath", NULL };
	const struct cfgnode *sec = section(ld, ld->root, "tls"), *n;

	if (!sec)
		return;
	cfg_check_keys(ld, sec, known, NULL, false);
	load_tls_files(ld, sec, &ld->c->tls, true);
	n = cfg_get(sec, "minVersion");
	if (n && cfg_read_min_version(ld, n, &ld->c->min_version) < 0)
		ld->c->min_version = 0;
}

static void load_internaltls(struct loader *ld)
{
	static const char *const known[] = { "serverPemPath", "serverKeyPath", "caPemPath",
					     "sni", NULL };
	const struct cfgnode *sec = section(ld, ld->root, "internaltls"), *n;

	if (!sec)
		return;
	cfg_check_keys(ld, sec, known, NULL, false);
	load_tls_files(ld, sec, &ld->c->internaltls, false);
	n = cfg_get(sec, "sni");
	if (n && cfg_read_string(ld, n, &ld->c->internaltls_sni) < 0)
		return;
}

static void load_security(struct loader *ld)
{
	static const char *const known[] = { "tlsMode", "internaltlsEnabled", NULL };
	static const char *const also[] = { "authorizationEnabled", "superUsers",
					     "defaultRootPassword", "rootShouldBindRole",
					     "enablePublicPrivilege", "rbac", NULL };
	const struct cfgnode *sec = section(ld, section(ld, ld->root, "common"), "security");
	const struct cfgnode *n;

	if (!sec)
		return;
	cfg_check_keys(ld, sec, known, also, false);
	n = cfg_get(sec, "tlsMode");
	if (n && cfg_read_tls_mode(ld, n, &ld->c->tls_mode) == 0)
		ld->mode_pos = n->pos;
	n = cfg_get(sec, "internaltlsEnabled");
	if (n && cfg_read_bool(ld, n, &ld->c->internaltls_enabled) == 0)
		ld->itls_pos = n->pos;
}

static void load_proxy(struct loader *ld)
{
	const struct cfgnode *sec = section(ld, ld->root, "proxy"), *n;

	n = cfg_get(sec, "port");
	if (n && cfg_read_uint(ld, n, 1, 65535, &ld->c->proxy_port) < 0)
		return;
	n = cfg_get(section(ld, sec, "http"), "port");
	if (n && cfg_read_uint(ld, n, 1, 65535, &ld->c->proxy_http_port) < 0)
		return;
}

/* Top-level keys close to ours are likely typos; other Milvus sections and
 * the user's own keys are ignored. */
static void check_top_keys(struct loader *ld)
{
	static const char *const known[] = { "gateway", "tls", "internaltls", "common",
					     "proxy", NULL };
	static const char *const milvus[] = { "etcd", "metastore", "tikv", "localStorage",
		"minio", "mq", "pulsar", "kafka", "rocksmq", "natsmq", "woodpecker",
		"rootCoord", "queryCoord", "queryNode", "indexCoord", "indexNode", "dataCoord",
		"dataNode", "mixCoord", "streamingNode", "streaming", "msgChannel", "log",
		"grpc", "quotaAndLimits", "trace", "gpu", "knowhere", "function", "credential",
		"hookConfig", "autoIndex", "tracing", NULL };

	cfg_check_keys(ld, ld->root, known, milvus, false);
}

static void set_defaults(struct config *c)
{
	c->proxy_port = 19530;
	c->proxy_http_port = 8080;
	c->handshake_timeout_ms = 10000;
	c->connect_timeout_ms = 2000;
	c->idle_timeout_ms = 300000;
	c->drain_timeout_ms = 30000;
	c->max_conns = 10000;
	c->log_level = LOG_INFO;
	c->access_log = true;
	c->ktls = FEAT_AUTO;
	c->bpf = FEAT_AUTO;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->dir);
	free(c->listeners);
	free(c->user);
	free(c->tls.server_pem);
	free(c->tls.server_key);
	free(c->tls.ca_pem);
	free(c->tls.crl_pem);
	free(c->internaltls.server_pem);
	free(c->internaltls.server_key);
	free(c->internaltls.ca_pem);
	free(c->internaltls.crl_pem);
	free(c->internaltls_sni);
	free(c);
}

static char *absolute_dir(const char *dir)
{
	char cwd[PATH_MAX];
	char *out = NULL;

	if (dir[0] == '/')
		return strdup(dir);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	while (dir[0] == '.' && dir[1] == '/')
		dir += 2;
	if (!strcmp(dir, ".") || !dir[0])
		return strdup(cwd);
	if (asprintf(&out, "%s/%s", cwd, dir) < 0)
		return NULL;
	return out;
}

static void load_tree(struct loader *ld)
{
	check_top_keys(ld);
	load_security(ld);
	load_proxy(ld);
	load_tls(ld);
	load_internaltls(ld);
	cfg_load_gateway(ld);
	cfg_check_files(ld);
}

struct config *config_load_buffer(const char *name, const char *dir, const char *buf,
				  size_t len, struct diag *d)
{
	struct loader ld = { .d = d };
	unsigned int errors0 = d->n_errors;
	struct cfgnode *root;
	struct config *c;

	d->file = name;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	set_defaults(c);
	c->path = strdup(name);
	c->dir = absolute_dir(dir);
	root = (c->path && c->dir) ? cfgtree_parse(buf, len, d) : NULL;
	if (!root)
		goto out_free;
	if (root->type != CFGNODE_MAP) {
		diag_error(d, root->pos, NULL,
			   "expected a mapping at the top of the file, got a %s",
			   cfgtree_type_name(root->type));
		goto out_tree;
	}
	ld.c = c;
	ld.root = root;
	ld.errors0 = errors0;
	load_tree(&ld);
out_tree:
	cfgtree_free(root);
	if (d->n_errors == errors0)
		return c;
out_free:
	if (d->n_errors == errors0)
		diag_error(d, (struct cfg_pos){ 0, 0 }, NULL, "out of memory");
	config_free(c);
	return NULL;
}

/* Reads @path whole; NULL with the reason added to @d. */
static char *read_all(const char *path, size_t *len, struct diag *d)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (!f) {
		diag_error(d, (struct cfg_pos){ 0, 0 }, NULL, "cannot read: %s", strerror(errno));
		return NULL;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	*len = buf ? fread(buf, 1, CONFIG_FILE_MAX + 1, f) : 0;
	if (!buf || ferror(f) || *len > CONFIG_FILE_MAX) {
		diag_error(d, (struct cfg_pos){ 0, 0 }, NULL, "cannot read: %s",
			   !buf ? "out of memory" : ferror(f) ? strerror(EIO) : "file too large");
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

struct config *config_load(const char *path, struct diag *d)
{
	struct config *c = NULL;
	char *copy, *buf;
	size_t len;

	d->file = path;
	buf = read_all(path, &len, d);
	copy = strdup(path);
	if (buf && copy)
		c = config_load_buffer(path, dirname(copy), buf, len, d);
	free(copy);
	free(buf);
	return c;
}

const char *config_tls_mode_name(enum tls_mode m)
{
	static const char *const names[TLS_MODE__COUNT] = {
		[TLS_MODE_PLAIN] = "0 (plain)",
		[TLS_MODE_ONEWAY] = "1 (one-way TLS)",
		[TLS_MODE_MUTUAL] = "2 (mutual TLS)",
	};

	return (unsigned int)m < TLS_MODE__COUNT ? names[m] : "?";
}
