/* SPDX-License-Identifier: MIT */
/* OpenSSL for the data plane, part 2: per-connection sessions over a BIO
 * on a conn side's buffers (the ring does all socket I/O), the handshake
 * step with refusal logging, record read/write, close_notify, session info. */
#include "tls.h"

#include <errno.h>
#include <pthread.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bufpool.h"
#include "conn.h"
#include "log.h"
#include "offload.h"
#include "relay.h"
#include "worker.h"

/* ---- BIO over a side's buffers ---- */

static BIO_METHOD *side_method;
static pthread_once_t side_method_once = PTHREAD_ONCE_INIT;

static int side_bio_read(BIO *b, char *out, int len)
{
	struct side *sd = BIO_get_data(b);
	uint32_t n = sd->rx.tail - sd->rx.head;

	BIO_clear_retry_flags(b);
	if (!n) {
		if (sd->flags & SIDE_F_FIN)
			return 0;
		BIO_set_retry_read(b);
		return -1;
	}
	n = n < (uint32_t)len ? n : (uint32_t)len;
	memcpy(out, sd->rx.base + sd->rx.head, n);
	sd->rx.head += n;
	return (int)n;
}

/* A side's tx gets its buffer when OpenSSL first writes to it. */
static int side_bio_write(BIO *b, const char *in, int len)
{
	struct side *sd = BIO_get_data(b);
	uint32_t n;

	BIO_clear_retry_flags(b);
	if (bufpool_want(sd->pool, &sd->tx) < 0)
		return -1;
	n = sd->tx.cap - sd->tx.tail;
	if (!n) {
		BIO_set_retry_write(b);
		return -1;
	}
	n = n < (uint32_t)len ? n : (uint32_t)len;
	memcpy(sd->tx.base + sd->tx.tail, in, n);
	sd->tx.tail += n;
	return (int)n;
}

static long side_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct side *sd = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return (sd->flags & SIDE_F_FIN) && sd->rx.head == sd->rx.tail;
	case BIO_CTRL_PENDING:
		return sd->rx.tail - sd->rx.head;
	case BIO_CTRL_WPENDING:
		return sd->tx.tail - sd->tx.head;
	default:
		return 0;
	}
}

static void side_method_init(void)
{
	side_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ktlsgw side");
	BUG_ON(!side_method);
	BIO_meth_set_read(side_method, side_bio_read);
	BIO_meth_set_write(side_method, side_bio_write);
	BIO_meth_set_ctrl(side_method, side_bio_ctrl);
}

/* ---- per conn ---- */

/* Internal TLS: SNI and name check against internaltls.sni (or else the
 * upstream's host name as written, or its IP), ALPN = what the client negotiated. */
static int setup_upstream(struct conn *c, SSL *ssl)
{
	const char *sni = c->w->cfg->internaltls_sni;
	unsigned char wire[CFG_ALPN_PROTO_MAX + 1];
	size_t n = strlen(c->alpn);
	char host[CFG_ADDR_TEXT_MAX];
	const char *colon;

	if (n) {
		wire[0] = (unsigned char)n;
		memcpy(wire + 1, c->alpn, n);
		if (SSL_set_alpn_protos(ssl, wire, (unsigned int)n + 1))
			return -EPROTO;
	}
	if (!(sni && sni[0]) && c->up->name[0])
		sni = c->up->name;	/* an upstream written as a name: check that name */
	if (sni && sni[0]) {
		if (SSL_set_tlsext_host_name(ssl, sni) != 1 || SSL_set1_host(ssl, sni) != 1)
			return -EPROTO;
		return 0;
	}
	/* "1.2.3.4:5" or "[::1]:5" -> the IP the certificate must name */
	colon = strrchr(c->up->text, ':');
	n = colon ? (size_t)(colon - c->up->text) : 0;
	if (c->up->text[0] == '[')
		snprintf(host, sizeof(host), "%.*s", (int)(n > 2 ? n - 2 : 0), c->up->text + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)n, c->up->text);
	return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 ? 0 : -EPROTO;
}

int tls_attach(struct conn *c, int s, struct ssl_ctx_st *ctx)
{
	SSL *ssl;
	BIO *bio;

	pthread_once(&side_method_once, side_method_init);
	ERR_clear_error();
	ssl = SSL_new(ctx);
	bio = BIO_new(side_method);
	if (!ssl || !bio)
		goto out_free;
	BIO_set_data(bio, &c->side[s]);
	BIO_set_init(bio, 1);
	SSL_set_bio(ssl, bio, bio);
	bio = NULL;
	SSL_set_app_data(ssl, c);
	/* An idle session holds no record buffers (OpenSSL frees them once
	 * empty), as an idle side holds none of ours. */
	SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
	if (offload_track(c, s, ssl) < 0)
		goto out_free;
	if (s == SIDE_CLIENT)
		SSL_set_accept_state(ssl);
	else if (SSL_set_connect_state(ssl), setup_upstream(c, ssl) < 0)
		goto out_free;
	c->side[s].ssl = ssl;
	return 0;

out_free:
	BIO_free(bio);
	SSL_free(ssl);
	log_ssl_errors(LOG_ERROR, "cannot set up a TLS session");
	return -EPROTO;
}

void tls_detach(struct conn *c, int s)
{
	SSL_free(c->side[s].ssl);
	c->side[s].ssl = NULL;
}

/* A decision of ours (certificate, version, cipher), not broken input. */
static bool tls_is_refusal(enum tls_fail f)
{
	return f != TLS_FAIL_NOT_TLS && f != TLS_FAIL_PEER_CLOSED && f != TLS_FAIL_OTHER;
}

static void handshake_failed(struct conn *c, int s, int why)
{
	unsigned long e = ERR_peek_error();
	char errs[512];
	long verify = c->verify_err ? c->verify_err : SSL_get_verify_result(c->side[s].ssl);

	c->fail = tls_classify(e ? ERR_GET_REASON(e) : 0, verify);
	/* EOF inside the handshake (IGNORE_UNEXPECTED_EOF reports it as a close) */
	if (!e && (why == SSL_ERROR_SYSCALL || why == SSL_ERROR_ZERO_RETURN))
		c->fail = TLS_FAIL_PEER_CLOSED;
	if (s == SIDE_UPSTREAM && (c->fail <= TLS_FAIL_BAD_CERT && c->fail != TLS_FAIL_NONE))
		c->fail = TLS_FAIL_UPSTREAM_CERT;
	c->end = tls_fail_name(c->fail);
	log_ssl_drain(errs, sizeof(errs));
	conn_log_rl(c, RL_HANDSHAKE, LOG_WARN, "%s TLS handshake %s: %s [verify=%ld openssl: %s]",
		    s == SIDE_CLIENT ? "client" : "upstream", tls_is_refusal(c->fail) ? "refused" : "failed",
		    tls_fail_text(c->fail), verify, errs[0] ? errs : "-");
}

int tls_handshake_step(struct conn *c, int s)
{
	SSL *ssl = c->side[s].ssl;
	int n, why, ret;

	ERR_clear_error();
	n = SSL_do_handshake(ssl);
	why = n == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, n);
	ret = relay_flush(c, s);	/* our flight, or the alert of a refusal */
	if (ret < 0)
		return ret;
	if (why == SSL_ERROR_NONE)
		return 0;
	if (why == SSL_ERROR_WANT_READ) {
		ret = relay_arm_recv(c, s);
		return ret < 0 ? ret : -EAGAIN;
	}
	if (why == SSL_ERROR_WANT_WRITE)
		return -EAGAIN;
	handshake_failed(c, s, why);
	return -EPROTO;
}

static int io_error(struct conn *c, int s, const char *what)
{
	char errs[512];

	log_ssl_drain(errs, sizeof(errs));
	conn_log(c, LOG_INFO, "%s side: TLS %s failed: %s", s == SIDE_CLIENT ? "client" : "upstream",
		 what, errs[0] ? errs : "-");
	c->end = "TLS record error";
	return -EPROTO;
}

int tls_read(struct conn *c, int s, void *buf, size_t len)
{
	SSL *ssl = c->side[s].ssl;
	int n, why;

	ERR_clear_error();
	n = SSL_read(ssl, buf, (int)len);
	if (n > 0)
		return n;
	why = SSL_get_error(ssl, n);
	if (why == SSL_ERROR_WANT_READ || why == SSL_ERROR_WANT_WRITE)
		return -EAGAIN;
	if (why == SSL_ERROR_ZERO_RETURN)
		return 0;
	return io_error(c, s, "read");
}

int tls_write(struct conn *c, int s, const void *buf, size_t len)
{
	SSL *ssl = c->side[s].ssl;
	int n, why;

	ERR_clear_error();
	n = SSL_write(ssl, buf, (int)len);
	if (n > 0)
		return n;
	why = SSL_get_error(ssl, n);
	if (why == SSL_ERROR_WANT_WRITE || why == SSL_ERROR_WANT_READ)
		return -EAGAIN;
	return io_error(c, s, "write");
}

int tls_shutdown(struct conn *c, int s)
{
	ERR_clear_error();
	if (SSL_shutdown(c->side[s].ssl) < 0)
		ERR_clear_error();	/* close_notify is best effort; FIN follows anyway */
	return 0;
}

void tls_info(const struct conn *c, int s, struct tls_info *ti)
{
	SSL *ssl = c->side[s].ssl;
	X509 *peer = SSL_get0_peer_certificate(ssl);
	BIO *mem;
	int n;

	if (!SSL_is_init_finished(ssl))
		return;	/* no session: the caller's "-" stay */
	snprintf(ti->version, sizeof(ti->version), "%s", SSL_get_version(ssl));
	snprintf(ti->cipher, sizeof(ti->cipher), "%s", SSL_get_cipher_name(ssl));
	ti->subject[0] = 0;
	if (!peer || !(mem = BIO_new(BIO_s_mem())))
		return;
	X509_NAME_print_ex(mem, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
	n = BIO_read(mem, ti->subject, sizeof(ti->subject) - 1);
	ti->subject[n > 0 ? n : 0] = 0;
	BIO_free(mem);
}
