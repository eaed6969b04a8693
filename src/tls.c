/* SPDX-License-Identifier: MIT */
/* OpenSSL for the data plane, part 1: contexts per listener (server) and
 * for the internal TLS leg (client), ALPN by server preference, refusal
 * reasons, plaintext sniffing. Per-connection I/O is in tlsio.c. */
#include "tls.h"

#include <errno.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "certcache.h"
#include "conn.h"
#include "log.h"
#include "worker.h"

#define HTTP_400_BODY "This port expects TLS: connect with https:// (or a TLS client), not plain HTTP.\n"
#define STR_(x) #x
#define STR(x) STR_(x)
#define HTTP_400_LEN 80
_Static_assert(sizeof(HTTP_400_BODY) - 1 == HTTP_400_LEN, "Content-Length of the 400 body");

const char tls_http_400[] = "HTTP/1.1 400 Bad Request\r\n"
			    "Content-Type: text/plain\r\n"
			    "Content-Length: " STR(HTTP_400_LEN) "\r\n"
			    "Connection: close\r\n\r\n" HTTP_400_BODY;

static const char *const default_alpn[] = { "http/1.1", "h2" };

/* ---- refusal reasons ---- */

static const char *const fail_names[TLS_FAIL__COUNT] = {
	[TLS_FAIL_NONE] = "none",
	[TLS_FAIL_NO_CERT] = "no client certificate",
	[TLS_FAIL_UNKNOWN_CA] = "unknown CA",
	[TLS_FAIL_EXPIRED] = "certificate expired",
	[TLS_FAIL_WRONG_PURPOSE] = "wrong certificate purpose",
	[TLS_FAIL_REVOKED] = "certificate revoked",
	[TLS_FAIL_BAD_CERT] = "bad certificate",
	[TLS_FAIL_PROTOCOL_VERSION] = "protocol version",
	[TLS_FAIL_NO_SHARED_CIPHER] = "no shared cipher",
	[TLS_FAIL_NOT_TLS] = "not TLS",
	[TLS_FAIL_PEER_CLOSED] = "peer closed during handshake",
	[TLS_FAIL_UPSTREAM_CERT] = "upstream certificate refused",
	[TLS_FAIL_OTHER] = "handshake failed",
};

static const char *const fail_texts[TLS_FAIL__COUNT] = {
	[TLS_FAIL_NONE] = "no failure",
	[TLS_FAIL_NO_CERT] = "no cert: the client sent no certificate and tlsMode 2 requires one",
	[TLS_FAIL_UNKNOWN_CA] =
		"unknown CA: the client certificate does not chain to a CA in tls.caPemPath",
	[TLS_FAIL_EXPIRED] = "expired: the client certificate is expired or not yet valid",
	[TLS_FAIL_WRONG_PURPOSE] =
		("wrong purpose: the client certificate has extendedKeyUsage serverAuth only, "
		 "without clientAuth (as the documented gen.sh makes it); Milvus/Go refuse it "
		 "too; make a client certificate with `ktlsgw cert gen`"),
	[TLS_FAIL_REVOKED] = "revoked: the client certificate is revoked (listed in tls.crlPemPath)",
	[TLS_FAIL_BAD_CERT] = "bad certificate: the client certificate failed verification",
	[TLS_FAIL_PROTOCOL_VERSION] =
		"protocol version: no TLS version in common (the listener's minVersion)",
	[TLS_FAIL_NO_SHARED_CIPHER] = "no shared cipher: no cipher suite in common",
	[TLS_FAIL_NOT_TLS] = "not TLS: the first bytes are not a TLS handshake record",
	[TLS_FAIL_PEER_CLOSED] = "peer closed during the handshake (truncated ClientHello?)",
	[TLS_FAIL_UPSTREAM_CERT] =
		("upstream certificate refused (check internaltls.caPemPath and internaltls.sni)"),
	[TLS_FAIL_OTHER] = "handshake failed",
};

const char *tls_fail_name(enum tls_fail f)
{
	return (unsigned int)f < TLS_FAIL__COUNT ? fail_names[f] : "?";
}

const char *tls_fail_text(enum tls_fail f)
{
	return (unsigned int)f < TLS_FAIL__COUNT ? fail_texts[f] : "?";
}

static enum tls_fail classify_verify(long verify_err)
{
	switch (verify_err) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		return TLS_FAIL_UNKNOWN_CA;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return TLS_FAIL_EXPIRED;
	case X509_V_ERR_INVALID_PURPOSE:
		return TLS_FAIL_WRONG_PURPOSE;
	case X509_V_ERR_CERT_REVOKED:
		return TLS_FAIL_REVOKED;
	default:
		return TLS_FAIL_BAD_CERT;
	}
}

enum tls_fail tls_classify(int reason, long verify_err)
{
	switch (reason) {
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
		return classify_verify(verify_err);
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		return TLS_FAIL_NO_CERT;
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_NO_PROTOCOLS_AVAILABLE:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		return TLS_FAIL_PROTOCOL_VERSION;
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_SHARED_GROUPS:
	case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
		return TLS_FAIL_NO_SHARED_CIPHER;
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
	case SSL_R_UNKNOWN_PROTOCOL:
	case SSL_R_RECORD_LENGTH_MISMATCH:
		return TLS_FAIL_NOT_TLS;
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		return TLS_FAIL_PEER_CLOSED;
	default:
		return verify_err != X509_V_OK ? classify_verify(verify_err) : TLS_FAIL_OTHER;
	}
}

/* ---- plaintext sniffing ---- */

enum tls_sniff tls_sniff(const unsigned char *p, size_t n)
{
	static const char *const methods[] = { "GET ",	   "POST ",    "PUT ",	 "HEAD ",
					       "DELETE ",  "OPTIONS ", "PATCH ", "CONNECT ",
					       "TRACE ",   "PRI " };
	bool prefix = false;
	size_t i, m;

	if (!n)
		return SNIFF_MORE;
	if (p[0] == 0x16)
		return SNIFF_TLS;
	for (i = 0; i < ARRAY_SIZE(methods); i++) {
		m = strlen(methods[i]);
		if (!memcmp(p, methods[i], n < m ? n : m)) {
			if (n >= m)
				return SNIFF_HTTP;
			prefix = true;
		}
	}
	return prefix ? SNIFF_MORE : SNIFF_OTHER;
}

/* ---- ALPN ---- */

int tls_alpn_pick(const struct listener_cfg *lc, const unsigned char *in, unsigned int inlen)
{
	unsigned int n = lc->n_alpn ? lc->n_alpn : ARRAY_SIZE(default_alpn);
	unsigned int i, off;
	const char *proto;
	size_t plen;

	for (i = 0; i < n && i < CFG_ALPN_MAX; i++) {
		proto = lc->n_alpn ? lc->alpn[i].proto : default_alpn[i];
		plen = strlen(proto);
		for (off = 0; off < inlen; off += 1u + in[off]) {
			if (in[off] == plen && off + 1 + plen <= inlen &&
			    !memcmp(in + off + 1, proto, plen))
				return (int)off;
		}
	}
	return -1;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	int off = tls_alpn_pick(arg, in, inlen);

	(void)ssl;
	if (off < 0)
		return SSL_TLSEXT_ERR_NOACK;	/* proceed without ALPN */
	*out = in + off + 1;
	*outlen = in[off];
	return SSL_TLSEXT_ERR_OK;
}

void tls_alpn(const struct conn *c, int s, char *out, size_t len)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;

	out[0] = 0;
	if (!c->side[s].ssl)
		return;
	SSL_get0_alpn_selected(c->side[s].ssl, &p, &n);
	if (p && n < len) {
		memcpy(out, p, n);
		out[n] = 0;
	}
}

/* ---- contexts ---- */

static int listener_min_version(const struct config *cfg, const struct listener_cfg *lc)
{
	if (lc->min_version)
		return lc->min_version;
	if (cfg->min_version)
		return cfg->min_version;
	return lc->tls_mode == TLS_MODE_MUTUAL ? TLS1_3_VERSION : TLS1_2_VERSION;
}

/* Records the first verification error of a chain for the refusal reason. */
static int verify_cb(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct conn *c = ssl ? SSL_get_app_data(ssl) : NULL;

	if (!ok && c && !c->verify_err)
		c->verify_err = X509_STORE_CTX_get_error(store);
	return ok;
}

static int ctx_fail(SSL_CTX *ctx, const char *what, const char *name)
{
	char errs[512];

	log_ssl_drain(errs, sizeof(errs));
	log_error("listener %s: %s: %s", name, what, errs[0] ? errs : "unknown error");
	SSL_CTX_free(ctx);
	return -EPROTO;
}

static int ctx_mutual(SSL_CTX *ctx, const struct config *cfg)
{
	STACK_OF(X509_NAME) *names;

	if (!cfg->tls.ca_pem || SSL_CTX_load_verify_locations(ctx, cfg->tls.ca_pem, NULL) != 1)
		return -EPROTO;
	names = SSL_load_client_CA_file(cfg->tls.ca_pem);
	if (names)
		SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	/* The leaf must allow clientAuth, as Go's crypto/tls demands. */
	X509_VERIFY_PARAM_set_purpose(SSL_CTX_get0_param(ctx), X509_PURPOSE_SSL_CLIENT);
	return 0;
}

/* tls.crlPemPath: checked for the client's leaf certificate (CRL_CHECK; the
 * CAs' own revocation would need their issuers' CRLs too: CRL_CHECK_ALL). */
static int ctx_crl(SSL_CTX *ctx, const char *path)
{
	X509_LOOKUP *lu = X509_STORE_add_lookup(SSL_CTX_get_cert_store(ctx), X509_LOOKUP_file());

	if (!lu || X509_load_crl_file(lu, path, X509_FILETYPE_PEM) <= 0)
		return -EPROTO;
	X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_CRL_CHECK);
	return 0;
}

/* Without a chain in tls.serverPemPath OpenSSL builds one from the verify
 * store for every handshake (in tlsMode 2 the store holds tls.caPemPath:
 * an issuer lookup and a signature check per handshake). The same chain,
 * built once: as OpenSSL does per handshake, as far as it goes, errors
 * ignored. */
static int ctx_prebuild_chain(SSL_CTX *ctx)
{
	STACK_OF(X509) *chain = NULL;

	if (SSL_CTX_get0_chain_certs(ctx, &chain) != 1)
		return -EPROTO;
	if (chain && sk_X509_num(chain) > 0)
		return 0;	/* the PEM's own chain is sent, never an auto chain */
	if (SSL_CTX_build_cert_chain(ctx, SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR |
						  SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR) <= 0)
		return -EPROTO;
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	return 0;
}

static const long ctx_options = SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
				SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION;

struct ssl_ctx_st *tls_ctx_server(const struct config *cfg, const struct listener_cfg *lc)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return ctx_fail(NULL, "SSL_CTX_new", lc->name), NULL;
	SSL_CTX_set_options(ctx, ctx_options);
	SSL_CTX_set_min_proto_version(ctx, listener_min_version(cfg, lc));
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)lc->name, strlen(lc->name));
	if (!cfg->tls.server_pem || !cfg->tls.server_key ||
	    SSL_CTX_use_certificate_chain_file(ctx, cfg->tls.server_pem) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->tls.server_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		return ctx_fail(ctx, "server certificate/key", lc->name), NULL;
	if (lc->tls_mode == TLS_MODE_MUTUAL && ctx_mutual(ctx, cfg) < 0)
		return ctx_fail(ctx, "tls.caPemPath", lc->name), NULL;
	if (lc->tls_mode == TLS_MODE_MUTUAL && cfg->tls.crl_pem && ctx_crl(ctx, cfg->tls.crl_pem) < 0)
		return ctx_fail(ctx, "tls.crlPemPath", lc->name), NULL;
	if (ctx_prebuild_chain(ctx) < 0)
		return ctx_fail(ctx, "server certificate chain", lc->name), NULL;
	/* Last: the cache reads the CRLs' windows and relies on a store that
	 * no longer changes. */
	if (lc->tls_mode == TLS_MODE_MUTUAL && certcache_install(ctx) < 0)
		return ctx_fail(ctx, "client certificate cache", lc->name), NULL;
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, (void *)lc);
	SSL_CTX_set_num_tickets(ctx, cfg->session_tickets);
	return ctx;
}

struct ssl_ctx_st *tls_ctx_upstream(const struct config *cfg)
{
	const char *ca = cfg->internaltls.ca_pem ? cfg->internaltls.ca_pem : cfg->tls.ca_pem;
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return ctx_fail(NULL, "SSL_CTX_new", "internaltls"), NULL;
	SSL_CTX_set_options(ctx, ctx_options & ~SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (!ca || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		return ctx_fail(ctx, "internaltls.caPemPath", "internaltls"), NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	return ctx;
}

void tls_ctx_free(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

