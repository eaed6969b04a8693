/* SPDX-License-Identifier: MIT */
/* Certificate, key, CA and CRL checks, run once the tree has loaded without
 * error: only what the listeners' TLS modes and internal TLS actually need
 * is required, so a plain milvus.yaml with stale cert paths still loads. */
#include "cert.h"
#include "config_priv.h"

#include <errno.h>
#include <sys/stat.h>
#include <time.h>

#define EXPIRY_WARN_DAYS 30

/* The first listener using at least @mode, or -1. */
static int first_with_mode(const struct loader *ld, enum tls_mode mode)
{
	unsigned int i;

	for (i = 0; i < ld->c->n_listeners; i++)
		if (ld->c->listeners[i].tls_mode >= mode)
			return (int)i;
	return -1;
}

static int first_with_internal_tls(const struct loader *ld)
{
	unsigned int i;

	for (i = 0; i < ld->c->n_listeners; i++)
		if (ld->c->listeners[i].internal_tls)
			return (int)i;
	return -1;
}

/* False (after reporting it) when a file @key needs is not configured. */
static bool required(struct loader *ld, const char *path, const char *key, struct cfg_pos why,
		     const char *what, const char *name)
{
	if (path)
		return true;
	diag_error(ld->d, why, key, "missing (required: listener '%s' %s)", name, what);
	return false;
}

static void check_expiry(struct loader *ld, const struct cert_info *ci, const char *path,
			 struct cfg_pos pos)
{
	long days = cert_days_left(ci, time(NULL));

	if (ci->not_after <= (int64_t)time(NULL))
		diag_error(ld->d, pos, "tls.serverPemPath", "certificate '%s' expired on %s",
			   path, ci->not_after_text);
	else if (days < EXPIRY_WARN_DAYS)
		diag_warn(ld->d, pos, "tls.serverPemPath",
			  "certificate '%s' expires in %ld days (%s)", path, days,
			  ci->not_after_text);
}

/* The key must exist and, unless allowed, not be readable by group/other. */
static int check_key_perms(struct loader *ld, const char *path, struct cfg_pos pos)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		diag_error(ld->d, pos, "tls.serverKeyPath", "cannot read '%s': %s", path,
			   strerror(errno));
		return -errno;
	}
	if (!(st.st_mode & 077) || ld->c->allow_insecure_key_perms)
		return 0;
	diag_error(ld->d, pos, "tls.serverKeyPath",
		   "private key '%s' has mode %04o and is readable by group/other; run "
		   "'chmod 600 %s' (or set gateway.allowInsecureKeyPerms: true)",
		   path, (unsigned int)(st.st_mode & 07777), path);
	return -EACCES;
}

static void check_server_files(struct loader *ld, int li)
{
	const struct tls_files *t = &ld->c->tls;
	struct cfg_pos why = ld->src[li].mode_pos;
	const char *name = ld->c->listeners[li].name;
	char err[CERT_ERR_MAX];
	struct cert_info ci;
	bool cert_ok = false;
	int ret;

	if (required(ld, t->server_pem, "tls.serverPemPath", why,
		     "uses TLS", name)) {
		ret = cert_inspect(t->server_pem, &ci, err);
		if (ret < 0)
			diag_error(ld->d, t->server_pem_pos, "tls.serverPemPath", "%s", err);
		else
			check_expiry(ld, &ci, t->server_pem, t->server_pem_pos);
		cert_ok = ret == 0;
	}
	if (!required(ld, t->server_key, "tls.serverKeyPath", why, "uses TLS",
		      name))
		return;
	if (check_key_perms(ld, t->server_key, t->server_key_pos) < 0 || !cert_ok)
		return;
	if (cert_key_matches(t->server_pem, t->server_key, err) < 0)
		diag_error(ld->d, t->server_key_pos, "tls.serverKeyPath", "%s", err);
}

static void check_ca(struct loader *ld, const char *path, struct cfg_pos pos, const char *key)
{
	char err[CERT_ERR_MAX];
	unsigned int n;

	if (cert_count_ca(path, &n, err) < 0)
		diag_error(ld->d, pos, key, "%s", err);
}

static void check_crl(struct loader *ld)
{
	char err[CERT_ERR_MAX];
	unsigned int n;

	if (cert_check_crl(ld->c->tls.crl_pem, &n, err) < 0)
		diag_error(ld->d, ld->c->tls.crl_pem_pos, "tls.crlPemPath", "%s", err);
}

/* An upstream of @l written as an IP: without internaltls.sni there would
 * be no name to check its certificate against. */
static bool has_numeric_upstream(const struct listener_cfg *l)
{
	unsigned int i;

	if (!l->upstream.name[0])
		return true;
	for (i = 0; i < l->n_alpn; i++)
		if (l->alpn[i].has_upstream && !l->alpn[i].upstream.name[0])
			return true;
	return false;
}

static void check_internal(struct loader *ld, int li)
{
	const struct tls_files *t = &ld->c->internaltls;
	struct cfg_pos why = ld->src[li].itls_pos;
	const char *name = ld->c->listeners[li].name;
	unsigned int i;

	if (required(ld, t->ca_pem, "internaltls.caPemPath", why,
		     "has internal TLS on", name))
		check_ca(ld, t->ca_pem, t->ca_pem_pos, "internaltls.caPemPath");
	for (i = (unsigned int)li; i < ld->c->n_listeners; i++) {
		const struct listener_cfg *l = &ld->c->listeners[i];

		if (l->internal_tls && has_numeric_upstream(l)) {
			required(ld, ld->c->internaltls_sni, "internaltls.sni",
				 ld->src[i].itls_pos, "has internal TLS on", l->name);
			return;
		}
	}
}

void cfg_check_files(struct loader *ld)
{
	int li;

	li = first_with_mode(ld, TLS_MODE_ONEWAY);
	if (li >= 0) {
		check_server_files(ld, li);
		if (ld->c->tls.crl_pem)
			check_crl(ld);
	}
	li = first_with_mode(ld, TLS_MODE_MUTUAL);
	if (li >= 0 && required(ld, ld->c->tls.ca_pem, "tls.caPemPath", ld->src[li].mode_pos,
				"uses tlsMode 2", ld->c->listeners[li].name))
		check_ca(ld, ld->c->tls.ca_pem, ld->c->tls.ca_pem_pos, "tls.caPemPath");
	li = first_with_internal_tls(ld);
	if (li >= 0)
		check_internal(ld, li);
}
