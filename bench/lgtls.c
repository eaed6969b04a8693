/* SPDX-License-Identifier: MIT */
/* loadgen's OpenSSL client side: one SSL_CTX per run with real server
 * verification (CA file + expected name, both required unless --insecure),
 * version and cipher choice, optional client certificate, and session
 * tickets kept per connection slot through the new-session callback. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lg.h"

char lg_proto[32], lg_cipher[64];
static int noted;

void lgtls_errors(const char *what)
{
	char buf[256];
	unsigned long e;

	while ((e = ERR_get_error())) {
		ERR_error_string_n(e, buf, sizeof(buf));
		fprintf(stderr, "loadgen: %s: %s\n", what, buf);
	}
}

/* A ticket arrived (TLS 1.3: after the handshake): keep the newest, and
 * only in the resume workload, so that `connect` measures full handshakes. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct lg_conn *c = SSL_get_app_data(ssl);

	if (!c || c->th->o->wl != WL_RESUME)
		return 0;
	SSL_SESSION_free(c->sess);
	c->sess = sess;
	return 1;	/* we keep the reference */
}

static int set_versions(SSL_CTX *ctx, int ver)
{
	int v = ver == 12 ? TLS1_2_VERSION : ver == 13 ? TLS1_3_VERSION : 0;

	if (!v)
		return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ? 0 : -EINVAL;
	if (!SSL_CTX_set_min_proto_version(ctx, v) || !SSL_CTX_set_max_proto_version(ctx, v))
		return -EINVAL;
	return 0;
}

static int set_ciphers(SSL_CTX *ctx, const struct lg_opts *o)
{
	if (o->ciphers && !SSL_CTX_set_cipher_list(ctx, o->ciphers))
		return -EINVAL;
	if (o->ciphersuites && !SSL_CTX_set_ciphersuites(ctx, o->ciphersuites))
		return -EINVAL;
	if (o->groups && !SSL_CTX_set1_groups_list(ctx, o->groups))
		return -EINVAL;
	return 0;
}

static int set_verify(SSL_CTX *ctx, const struct lg_opts *o)
{
	if (o->insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	if (!o->ca || !o->name) {
		fprintf(stderr, "loadgen: TLS needs --ca FILE and --name NAME (or --insecure)\n");
		return -EINVAL;
	}
	if (!SSL_CTX_load_verify_locations(ctx, o->ca, NULL))
		return -EINVAL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return 0;
}

static int set_client_cert(SSL_CTX *ctx, const struct lg_opts *o)
{
	if (!o->cert)
		return 0;
	if (!SSL_CTX_use_certificate_chain_file(ctx, o->cert) ||
	    !SSL_CTX_use_PrivateKey_file(ctx, o->key ? o->key : o->cert, SSL_FILETYPE_PEM) ||
	    !SSL_CTX_check_private_key(ctx))
		return -EINVAL;
	return 0;
}

struct ssl_ctx_st *lgtls_ctx_new(const struct lg_opts *o)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		goto out_err;
	if (set_versions(ctx, o->tls_ver) || set_ciphers(ctx, o) || set_verify(ctx, o) ||
	    set_client_cert(ctx, o))
		goto out_free;
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
						    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, on_new_session);
	return ctx;

out_free:
	SSL_CTX_free(ctx);
out_err:
	lgtls_errors("TLS client context");
	return NULL;
}

void lgtls_ctx_free(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

static int set_peer_name(SSL *ssl, const char *name)
{
	unsigned char ip[16];
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

	if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(vp, name) ? 0 : -EINVAL;
	if (!SSL_set_tlsext_host_name(ssl, name) || !SSL_set1_host(ssl, name))
		return -EINVAL;
	return 0;
}

struct ssl_st *lgtls_new(struct ssl_ctx_st *ctx, const struct lg_opts *o, struct lg_conn *c)
{
	SSL *ssl;

	ERR_clear_error();
	ssl = SSL_new(ctx);
	if (!ssl)
		goto out_err;
	if (!SSL_set_fd(ssl, c->fd))
		goto out_free;
	if (o->name && set_peer_name(ssl, o->name))
		goto out_free;
	if (c->sess && !SSL_set_session(ssl, c->sess))
		goto out_free;
	SSL_set_app_data(ssl, c);
	SSL_set_connect_state(ssl);
	return ssl;

out_free:
	SSL_free(ssl);
out_err:
	lgtls_errors("SSL_new");
	return NULL;
}

void lgtls_free(struct lg_conn *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
}

void lgtls_forget(struct lg_conn *c)
{
	SSL_SESSION_free(c->sess);
	c->sess = NULL;
}

/* Maps an SSL_get_error() code to the loadgen convention. */
static long ssl_result(struct lg_conn *c, int n, unsigned int *want, const char *what)
{
	int why = SSL_get_error(c->ssl, n);

	switch (why) {
	case SSL_ERROR_WANT_READ:
		*want = EPOLLIN;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want = EPOLLOUT;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (!ERR_peek_error())
			return errno ? -errno : -EPIPE;
		/* fall through */
	default:
		lgtls_errors(what);
		return -EPROTO;
	}
}

int lgtls_handshake(struct lg_conn *c, unsigned int *want)
{
	int n;
	long ret;

	ERR_clear_error();
	errno = 0;
	n = SSL_do_handshake(c->ssl);
	if (n == 1)
		return 0;
	ret = ssl_result(c, n, want, "handshake");
	return ret == 0 ? -EPIPE : (int)ret;
}

long lgtls_read(struct lg_conn *c, void *buf, size_t n, unsigned int *want)
{
	size_t got = 0;

	ERR_clear_error();
	errno = 0;
	if (SSL_read_ex(c->ssl, buf, n, &got))
		return (long)got;
	return ssl_result(c, 0, want, "read");
}

long lgtls_write(struct lg_conn *c, const void *buf, size_t n, unsigned int *want)
{
	size_t put = 0;

	ERR_clear_error();
	errno = 0;
	if (SSL_write_ex(c->ssl, buf, n, &put))
		return (long)put;
	return ssl_result(c, 0, want, "write");
}

void lgtls_note(struct lg_conn *c)
{
	if (__atomic_exchange_n(&noted, 1, __ATOMIC_ACQ_REL))
		return;
	snprintf(lg_proto, sizeof(lg_proto), "%s", SSL_get_version(c->ssl));
	snprintf(lg_cipher, sizeof(lg_cipher), "%s", SSL_get_cipher_name(c->ssl));
}

int lgtls_is_resumed(const struct lg_conn *c)
{
	return SSL_session_reused(c->ssl);
}

void lgtls_shutdown(struct lg_conn *c)
{
	ERR_clear_error();
	if (SSL_shutdown(c->ssl) < 0)
		ERR_clear_error();
}
