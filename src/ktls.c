/* SPDX-License-Identifier: MIT */
/* The only kTLS module: probes the kernel, tracks keys and record numbers
 * through OpenSSL's keylog and message callbacks, derives the traffic keys
 * itself (any BIO works, TLS 1.3 RX included on OpenSSL 3.0), installs them
 * with setsockopt(SOL_TLS), and handles control records on offloaded sockets. */
#include "ktls.h"
#include "log.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/tls.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define TLS12_RANDOM_LEN 32
#define TLS_HS_FINISHED 20
#define TLS_HS_KEY_UPDATE 24

static int real_setsockopt(int fd, int lvl, int opt, const void *val, socklen_t len)
{
	return setsockopt(fd, lvl, opt, val, len);
}

int (*ktls_setsockopt)(int, int, int, const void *, socklen_t) = real_setsockopt;
ssize_t (*ktls_recvmsg)(int, struct msghdr *, int) = recvmsg;
ssize_t (*ktls_sendmsg)(int, const struct msghdr *, int) = sendmsg;
const char *ktls_ulp_path = "/proc/sys/net/ipv4/tcp_available_ulp";

/* Per cipher: what the kernel calls it and the sizes the key schedule needs. */
struct cipher_desc {
	int nid;			/* OpenSSL cipher NID */
	unsigned short kernel;		/* TLS_CIPHER_* */
	unsigned char key_len;
	unsigned char fixed_iv_len;	/* TLS 1.2 implicit IV from the key block */
	unsigned char info_len;		/* sizeof the tls12_crypto_info_* */
	const char *name;
	const char *module;		/* what to modprobe when the kernel lacks it */
};

static const struct cipher_desc ciphers[KTLS_CIPHER__COUNT] = {
	[KTLS_CIPHER_AES_128_GCM] = { NID_aes_128_gcm, TLS_CIPHER_AES_GCM_128, 16, 4,
				      sizeof(struct tls12_crypto_info_aes_gcm_128),
				      "AES-128-GCM", "gcm" },
	[KTLS_CIPHER_AES_256_GCM] = { NID_aes_256_gcm, TLS_CIPHER_AES_GCM_256, 32, 4,
				      sizeof(struct tls12_crypto_info_aes_gcm_256),
				      "AES-256-GCM", "gcm" },
	[KTLS_CIPHER_CHACHA20_POLY1305] = { NID_chacha20_poly1305, TLS_CIPHER_CHACHA20_POLY1305,
					    32, 12,
					    sizeof(struct tls12_crypto_info_chacha20_poly1305),
					    "CHACHA20-POLY1305", "chacha20poly1305" },
};

union crypto_info {
	struct tls_crypto_info base;
	struct tls12_crypto_info_aes_gcm_128 g128;
	struct tls12_crypto_info_aes_gcm_256 g256;
	struct tls12_crypto_info_chacha20_poly1305 cc;
};

/* Key material of one direction, as the record layer uses it. */
struct dir_keys {
	uint8_t key[32];
	uint8_t iv[12];		/* TLS 1.3: write_iv; TLS 1.2: implicit IV (4 or 12) */
	uint64_t seq;		/* next record number */
};

static const char *const why_names[KTLS_WHY__COUNT] = {
	[KTLS_WHY_NONE] = "offloaded",
	[KTLS_WHY_NO_ULP] = "kernel has no tls ULP",
	[KTLS_WHY_CIPHER] = "cipher not offloadable",
	[KTLS_WHY_KERNEL_CIPHER] = "kernel lacks the cipher",
	[KTLS_WHY_VERSION] = "protocol version not offloadable",
	[KTLS_WHY_PENDING] = "OpenSSL holds buffered bytes",
	[KTLS_WHY_NO_KEYS] = "session keys not captured",
	[KTLS_WHY_REKEYED] = "KeyUpdate before offload",
	[KTLS_WHY_PAIRED] = "kept with RX in userspace",
	[KTLS_WHY_ERROR] = "setsockopt failed",
};

static const char *const ctrl_names[KTLS_CTRL__COUNT] = {
	[KTLS_CTRL_CLOSE_NOTIFY] = "close_notify",
	[KTLS_CTRL_ALERT] = "alert",
	[KTLS_CTRL_SESSION_TICKET] = "NewSessionTicket",
	[KTLS_CTRL_KEY_UPDATE] = "KeyUpdate",
	[KTLS_CTRL_UNEXPECTED] = "unexpected record",
};

const char *ktls_why_str(enum ktls_why why)
{
	return (unsigned int)why < KTLS_WHY__COUNT ? why_names[why] : "?";
}

const char *ktls_cipher_name(int cipher)
{
	return cipher >= 0 && cipher < KTLS_CIPHER__COUNT ? ciphers[cipher].name : "unsupported";
}

const char *ktls_ctrl_str(int ctrl)
{
	return ctrl >= 0 && ctrl < KTLS_CTRL__COUNT ? ctrl_names[ctrl] : "?";
}

/* ---- key schedule (pure: testable against RFC 8448) ---- */

/* HkdfLabel of RFC 8446 7.1 with an empty context; returns its length. */
static size_t build_hkdf_label(uint8_t *out, size_t cap, const char *label, size_t out_len)
{
	size_t llen = strlen(label);

	if (4 + 6 + llen > cap || 6 + llen > 255)
		return 0;
	out[0] = (uint8_t)(out_len >> 8);
	out[1] = (uint8_t)out_len;
	out[2] = (uint8_t)(6 + llen);
	memcpy(out + 3, "tls13 ", 6);
	memcpy(out + 9, label, llen);
	out[9 + llen] = 0;	/* context: empty */
	return 10 + llen;
}

/* Runs the OpenSSL KDF @alg with @params into @out. 0 or -EPROTO (logged). */
static int kdf_run(const char *alg, const OSSL_PARAM *params, uint8_t *out, size_t len)
{
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx = NULL;
	int ret = -EPROTO;

	ERR_clear_error();
	kdf = EVP_KDF_fetch(NULL, alg, NULL);
	if (kdf)
		kctx = EVP_KDF_CTX_new(kdf);
	if (kctx && EVP_KDF_derive(kctx, out, len, params) == 1)
		ret = 0;
	else
		log_ssl_errors(LOG_ERROR, "ktls: key derivation");
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ret;
}

/* HKDF-Expand-Label(secret, label, "", len) with digest @md. 0 or -errno. */
static int hkdf_expand_label(const char *md, const uint8_t *secret, size_t slen,
			     const char *label, uint8_t *out, size_t len)
{
	uint8_t info[64];
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	size_t ilen = build_hkdf_label(info, sizeof(info), label, len);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0),
		OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, slen),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, ilen),
		OSSL_PARAM_construct_end(),
	};

	if (!ilen)
		return -EINVAL;
	return kdf_run("HKDF", params, out, len);
}

/* TLS 1.3 write key and IV of a traffic secret (RFC 8446 7.3). */
static int derive_tls13(const char *md, const uint8_t *secret, size_t slen,
			const struct cipher_desc *cd, struct dir_keys *k)
{
	int ret;

	ret = hkdf_expand_label(md, secret, slen, "key", k->key, cd->key_len);
	if (ret < 0)
		return ret;
	return hkdf_expand_label(md, secret, slen, "iv", k->iv, sizeof(k->iv));
}

/* TLS 1.2 AEAD key block (RFC 5246 6.3): client key, server key, client IV,
 * server IV. Fills @cli and @srv. 0 or -errno. */
static int derive_tls12(const char *md, const uint8_t *master, size_t mlen,
			const uint8_t *client_random, const uint8_t *server_random,
			const struct cipher_desc *cd, struct dir_keys *cli, struct dir_keys *srv)
{
	static const char label[] = "key expansion";
	uint8_t seed[sizeof(label) - 1 + 2 * TLS12_RANDOM_LEN];
	uint8_t block[2 * 32 + 2 * 12];
	size_t kl = cd->key_len, il = cd->fixed_iv_len;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)master, mlen),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof(seed)),
		OSSL_PARAM_construct_end(),
	};
	int ret;

	memcpy(seed, label, sizeof(label) - 1);
	memcpy(seed + sizeof(label) - 1, server_random, TLS12_RANDOM_LEN);
	memcpy(seed + sizeof(label) - 1 + TLS12_RANDOM_LEN, client_random, TLS12_RANDOM_LEN);
	ret = kdf_run("TLS1-PRF", params, block, 2 * (kl + il));
	if (ret == 0) {
		memcpy(cli->key, block, kl);
		memcpy(srv->key, block + kl, kl);
		memcpy(cli->iv, block + 2 * kl, il);
		memcpy(srv->iv, block + 2 * kl + il, il);
	}
	OPENSSL_cleanse(block, sizeof(block));
	return ret;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* GCM: salt = first 4 IV bytes; TLS 1.3 puts the other 8 in iv, TLS 1.2 uses
 * iv as the explicit nonce, which we make the record number (RFC 5288 3). */
static void fill_gcm(uint8_t *key, size_t klen, uint8_t salt[4], uint8_t iv[8], uint8_t seq[8],
		     int version, const struct dir_keys *k)
{
	memcpy(key, k->key, klen);
	memcpy(salt, k->iv, 4);
	if (version == TLS1_3_VERSION)
		memcpy(iv, k->iv + 4, 8);
	else
		put_be64(iv, k->seq);
	put_be64(seq, k->seq);
}

/* Fills the kernel's tls12_crypto_info_* for one direction; returns its size. */
static socklen_t build_crypto_info(union crypto_info *ci, const struct cipher_desc *cd,
				   int version, const struct dir_keys *k)
{
	memset(ci, 0, sizeof(*ci));
	ci->base.version = version == TLS1_3_VERSION ? TLS_1_3_VERSION : TLS_1_2_VERSION;
	ci->base.cipher_type = cd->kernel;
	if (cd->kernel == TLS_CIPHER_AES_GCM_128) {
		fill_gcm(ci->g128.key, sizeof(ci->g128.key), ci->g128.salt, ci->g128.iv,
			 ci->g128.rec_seq, version, k);
	} else if (cd->kernel == TLS_CIPHER_AES_GCM_256) {
		fill_gcm(ci->g256.key, sizeof(ci->g256.key), ci->g256.salt, ci->g256.iv,
			 ci->g256.rec_seq, version, k);
	} else {	/* ChaCha20-Poly1305: no salt, nonce = iv ^ seq in both versions */
		memcpy(ci->cc.key, k->key, sizeof(ci->cc.key));
		memcpy(ci->cc.iv, k->iv, sizeof(ci->cc.iv));
		put_be64(ci->cc.rec_seq, k->seq);
	}
	return cd->info_len;
}

/* ---- tracking through OpenSSL callbacks ---- */

static int track_idx = -1;
static pthread_once_t track_once = PTHREAD_ONCE_INIT;

static void make_track_idx(void)
{
	track_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static struct ktls_track *track_of(const SSL *ssl)
{
	return track_idx < 0 ? NULL : SSL_get_ex_data(ssl, track_idx);
}

/* Decodes the hex secret at the end of a keylog line into @d. */
static void store_secret(struct ktls_dir *d, const char *hex)
{
	size_t n = 0;

	if (OPENSSL_hexstr2buf_ex(d->secret, sizeof(d->secret), &n, hex, '\0') == 1)
		d->secret_len = (uint8_t)n;
}

/* "LABEL <client_random> <secret>": keeps the first application secrets. */
static void on_keylog(const SSL *ssl, const char *line)
{
	struct ktls_track *t = track_of(ssl);
	const char *secret = strrchr(line, ' ');
	bool client;

	if (!t || !secret)
		return;
	if (!strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24))
		client = true;
	else if (!strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24))
		client = false;
	else
		return;
	/* the client's secret protects what the server reads, and vice versa */
	store_secret(client == t->is_server ? &t->rd : &t->wr, secret + 1);
}

/* Record headers: in TLS 1.2 a ChangeCipherSpec starts the epoch (its
 * Finished is record 0); in TLS 1.3 CCS records are unprotected and skipped. */
static void on_record(struct ktls_dir *d, const uint8_t *hdr, int tls13)
{
	if (hdr[0] == SSL3_RT_CHANGE_CIPHER_SPEC) {
		if (!tls13) {
			d->keyed = true;
			d->seq = 0;
		}
		return;
	}
	if (d->keyed)
		d->seq++;
}

/* TLS 1.3 handshake messages that change a direction's key: after Finished
 * the application key starts at record 0; after KeyUpdate our secret is stale. */
static void on_handshake(struct ktls_dir *d, uint8_t type)
{
	if (type == TLS_HS_FINISHED && !d->keyed) {
		d->keyed = true;
		d->seq = 0;
	} else if (type == TLS_HS_KEY_UPDATE) {
		d->rekeyed = true;
	}
}

static void on_msg(int write_p, int version, int content_type, const void *buf, size_t len,
		   SSL *ssl, void *arg)
{
	struct ktls_track *t = track_of(ssl);
	struct ktls_dir *d;
	int tls13 = SSL_version(ssl) == TLS1_3_VERSION;

	(void)version;
	(void)arg;
	if (!t || len < 1)
		return;
	d = write_p ? &t->wr : &t->rd;
	if (content_type == SSL3_RT_HEADER && len >= 5)
		on_record(d, buf, tls13);
	else if (content_type == SSL3_RT_HANDSHAKE && tls13)
		on_handshake(d, *(const uint8_t *)buf);
}

int ktls_ctx_prepare(struct ssl_ctx_st *ctx)
{
	pthread_once(&track_once, make_track_idx);
	if (track_idx < 0) {
		log_ssl_errors(LOG_ERROR, "ktls: SSL ex_data index");
		return -EPROTO;
	}
	SSL_CTX_set_keylog_callback(ctx, on_keylog);
	SSL_CTX_set_msg_callback(ctx, on_msg);
	/* we install the keys; OpenSSL's own kTLS (also set by an openssl.cnf
	 * "Options = KTLS") would take TLS_TX first and make ours fail */
	SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_KTLS);
	return 0;
}

int ktls_track_attach(struct ssl_st *ssl, struct ktls_track *trk)
{
	memset(trk, 0, sizeof(*trk));
	trk->is_server = SSL_is_server(ssl);
	pthread_once(&track_once, make_track_idx);
	if (track_idx < 0 || SSL_set_ex_data(ssl, track_idx, trk) != 1)
		return -EPROTO;
	return 0;
}

void ktls_track_wipe(struct ktls_track *trk)
{
	OPENSSL_cleanse(trk, sizeof(*trk));
}

/* ---- offload decisions ---- */

static int cipher_of(const SSL *ssl)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	int nid = c ? SSL_CIPHER_get_cipher_nid(c) : NID_undef;
	int i;

	for (i = 0; i < KTLS_CIPHER__COUNT; i++)
		if (ciphers[i].nid == nid)
			return i;
	return -1;
}

/* Keeps the first failure: "what: detail". */
static void set_reason(struct ktls_status *st, const char *what, const char *detail)
{
	if (!st->reason[0])
		snprintf(st->reason, sizeof(st->reason), "%s: %s", what, detail);
}

/* Both directions stay in userspace for @why. Returns -EOPNOTSUPP. */
static int refuse(struct ktls_status *st, enum ktls_why why, const char *detail)
{
	st->rx_why = why;
	st->tx_why = why;
	set_reason(st, ktls_why_str(why), detail);
	return -EOPNOTSUPP;
}

/* RX cannot go for @why; TX stays with it (see ktls_offload()). */
static int refuse_rx(struct ktls_status *st, enum ktls_why why, const char *detail)
{
	refuse(st, why, detail);
	st->tx_why = KTLS_WHY_PAIRED;
	return -EOPNOTSUPP;
}

/* Bytes OpenSSL has taken off the socket (or was handed) but not delivered. */
static bool rx_is_pending(SSL *ssl)
{
	BIO *rbio = SSL_get_rbio(ssl);

	return SSL_has_pending(ssl) || (rbio && BIO_ctrl_pending(rbio) > 0);
}

/* Records OpenSSL produced that have not reached the socket yet. */
static bool tx_is_pending(SSL *ssl)
{
	BIO *wbio = SSL_get_wbio(ssl);

	return SSL_want_write(ssl) || (wbio && BIO_ctrl_wpending(wbio) > 0);
}

/* The session and its captured keys, before any check on buffered bytes. */
static int check_keys(SSL *ssl, const struct ktls_track *t, struct ktls_status *st)
{
	st->version = SSL_version(ssl);
	st->cipher = cipher_of(ssl);
	if (!SSL_is_init_finished(ssl))
		return refuse(st, KTLS_WHY_PENDING, "handshake not finished");
	if (st->version != TLS1_2_VERSION && st->version != TLS1_3_VERSION)
		return refuse(st, KTLS_WHY_VERSION, SSL_get_version(ssl));
	if (st->cipher < 0)
		return refuse(st, KTLS_WHY_CIPHER, SSL_get_cipher_name(ssl));
	if (!t || !t->rd.keyed || !t->wr.keyed)
		return refuse(st, KTLS_WHY_NO_KEYS, "ktls_track_attach() before the handshake?");
	if (st->version == TLS1_3_VERSION && (!t->rd.secret_len || !t->wr.secret_len))
		return refuse(st, KTLS_WHY_NO_KEYS, "no traffic secret from the keylog callback");
	if (t->rd.rekeyed || t->wr.rekeyed)
		return refuse(st, KTLS_WHY_REKEYED, "keys changed after the handshake");
	return 0;
}

/* Everything that can be decided without touching the socket. */
static int check_session(SSL *ssl, const struct ktls_track *t, struct ktls_status *st)
{
	int ret = check_keys(ssl, t, st);

	if (ret < 0)
		return ret;
	if (rx_is_pending(ssl))
		return refuse_rx(st, KTLS_WHY_PENDING, "unread bytes in OpenSSL's read buffer");
	if (tx_is_pending(ssl))
		return refuse(st, KTLS_WHY_PENDING, "unsent bytes in OpenSSL's write buffer");
	return 0;
}

static const char *md_name(SSL *ssl)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	const EVP_MD *md = c ? SSL_CIPHER_get_handshake_digest(c) : NULL;

	return md ? EVP_MD_get0_name(md) : "SHA256";
}

static int derive_tls12_ssl(SSL *ssl, const struct cipher_desc *cd, bool server,
			    struct dir_keys *rx, struct dir_keys *tx)
{
	uint8_t master[SSL_MAX_MASTER_KEY_LENGTH];
	uint8_t cr[TLS12_RANDOM_LEN], sr[TLS12_RANDOM_LEN];
	size_t mlen;
	int ret;

	mlen = SSL_SESSION_get_master_key(SSL_get_session(ssl), master, sizeof(master));
	if (SSL_get_client_random(ssl, cr, sizeof(cr)) != sizeof(cr) ||
	    SSL_get_server_random(ssl, sr, sizeof(sr)) != sizeof(sr) || !mlen)
		return -EPROTO;
	ret = derive_tls12(md_name(ssl), master, mlen, cr, sr, cd, server ? rx : tx,
			   server ? tx : rx);
	OPENSSL_cleanse(master, sizeof(master));
	return ret;
}

/* Key, IV and next record number for both directions. 0 or -errno. */
static int derive_keys(SSL *ssl, const struct ktls_track *t, const struct cipher_desc *cd,
		       int version, struct dir_keys *rx, struct dir_keys *tx)
{
	const char *md = md_name(ssl);
	int ret;

	rx->seq = t->rd.seq;
	tx->seq = t->wr.seq;
	if (version == TLS1_2_VERSION)
		return derive_tls12_ssl(ssl, cd, t->is_server, rx, tx);
	ret = derive_tls13(md, t->rd.secret, t->rd.secret_len, cd, rx);
	if (ret < 0)
		return ret;
	return derive_tls13(md, t->wr.secret, t->wr.secret_len, cd, tx);
}

/* ENOENT/ENOPKG: the crypto API found no implementation to load. */
static enum ktls_why why_of_errno(int err)
{
	return err == ENOENT || err == ENOPKG ? KTLS_WHY_KERNEL_CIPHER : KTLS_WHY_ERROR;
}

/* setsockopt(SOL_TLS, TLS_TX/TLS_RX) for one direction. 0 or -errno. */
static int install_dir(int fd, int opt, const struct cipher_desc *cd, int version,
		       const struct dir_keys *k)
{
	union crypto_info ci;
	socklen_t len = build_crypto_info(&ci, cd, version, k);
	int ret = ktls_setsockopt(fd, SOL_TLS, opt, &ci, len);

	OPENSSL_cleanse(&ci, sizeof(ci));
	return ret < 0 ? -errno : 0;
}

static int attach_ulp(int fd)
{
	if (ktls_setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Installs RX, then TX; fills the status of each. */
static int install(int fd, struct ktls_status *st, const struct cipher_desc *cd,
		   const struct dir_keys *rx, const struct dir_keys *tx)
{
	int ret = attach_ulp(fd);

	if (ret == -ENOENT)
		return refuse(st, KTLS_WHY_NO_ULP, "TCP_ULP \"tls\" refused: modprobe tls");
	if (ret < 0)
		return refuse(st, KTLS_WHY_ERROR, strerror(-ret));
	st->rx_seq = rx->seq;
	st->tx_seq = tx->seq;
	ret = install_dir(fd, TLS_RX, cd, st->version, rx);
	if (ret < 0)
		return refuse_rx(st, why_of_errno(-ret), strerror(-ret));
	st->rx = true;
	ret = install_dir(fd, TLS_TX, cd, st->version, tx);
	if (ret < 0) {
		st->tx_why = why_of_errno(-ret);
		set_reason(st, "TLS_TX", strerror(-ret));
		return -EOPNOTSUPP;
	}
	st->tx = true;
	return 0;
}

int ktls_check(struct ssl_st *ssl, struct ktls_status *st)
{
	memset(st, 0, sizeof(*st));
	return check_session(ssl, track_of(ssl), st);
}

int ktls_offload(struct ssl_st *ssl, int fd, struct ktls_status *st)
{
	const struct ktls_track *t = track_of(ssl);
	struct dir_keys rx, tx;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = check_session(ssl, t, st);
	if (ret < 0)
		return ret;
	ret = derive_keys(ssl, t, &ciphers[st->cipher], st->version, &rx, &tx);
	if (ret < 0)
		ret = refuse(st, KTLS_WHY_NO_KEYS, "key derivation failed");
	else
		ret = install(fd, st, &ciphers[st->cipher], &rx, &tx);
	OPENSSL_cleanse(&rx, sizeof(rx));
	OPENSSL_cleanse(&tx, sizeof(tx));
	return ret;
}

/* ---- keys for a userspace record layer ---- */

static void export_dir(struct ktls_keys_dir *out, const struct dir_keys *k,
		       const struct ktls_dir *d)
{
	memcpy(out->key, k->key, sizeof(out->key));
	memcpy(out->iv, k->iv, sizeof(out->iv));
	out->seq = k->seq;
	memcpy(out->secret, d->secret, d->secret_len);
	out->secret_len = d->secret_len;
}

int ktls_export_keys(struct ssl_st *ssl, struct ktls_keys *keys, struct ktls_status *st)
{
	const struct ktls_track *t = track_of(ssl);
	struct dir_keys rx, tx;
	int ret;

	memset(st, 0, sizeof(*st));
	memset(keys, 0, sizeof(*keys));
	ret = check_keys(ssl, t, st);
	if (ret < 0)
		return ret;
	/* bytes in the BIOs are the caller's; only OpenSSL's own buffers count */
	if (SSL_has_pending(ssl))
		return refuse_rx(st, KTLS_WHY_PENDING, "a record held inside OpenSSL");
	if (SSL_want_write(ssl))
		return refuse(st, KTLS_WHY_PENDING, "unsent bytes in OpenSSL's write buffer");
	ret = derive_keys(ssl, t, &ciphers[st->cipher], st->version, &rx, &tx);
	if (ret < 0) {
		ret = refuse(st, KTLS_WHY_NO_KEYS, "key derivation failed");
	} else {
		export_dir(&keys->rx, &rx, &t->rd);
		export_dir(&keys->tx, &tx, &t->wr);
		keys->version = st->version;
		keys->cipher = st->cipher;
		keys->is_server = t->is_server;
	}
	OPENSSL_cleanse(&rx, sizeof(rx));
	OPENSSL_cleanse(&tx, sizeof(tx));
	return ret;
}

int ktls_key_update(struct ktls_keys_dir *d, int cipher)
{
	const char *md = d->secret_len == 48 ? "SHA384" : "SHA256";
	uint8_t next[KTLS_SECRET_MAX];
	struct dir_keys k = { .seq = 0 };
	int ret;

	if (cipher < 0 || cipher >= KTLS_CIPHER__COUNT ||
	    (d->secret_len != 32 && d->secret_len != 48))
		return -EINVAL;
	ret = hkdf_expand_label(md, d->secret, d->secret_len, "traffic upd", next, d->secret_len);
	if (ret == 0)
		ret = derive_tls13(md, next, d->secret_len, &ciphers[cipher], &k);
	if (ret == 0) {
		memcpy(d->secret, next, d->secret_len);
		memcpy(d->key, k.key, sizeof(d->key));
		memcpy(d->iv, k.iv, sizeof(d->iv));
		d->seq = 0;
	}
	OPENSSL_cleanse(next, sizeof(next));
	OPENSSL_cleanse(&k, sizeof(k));
	return ret;
}

/* ---- start-up and refusal logging ---- */

int ktls_setup(enum feature_mode mode, struct ktls_caps *caps)
{
	int ret;

	if (mode == FEAT_OFF) {
		memset(caps, 0, sizeof(*caps));
		snprintf(caps->reason, sizeof(caps->reason), "gateway.ktls is off");
		return 0;
	}
	ret = ktls_probe(caps);
	if (ret < 0 && mode == FEAT_ON) {
		log_error("gateway.ktls: on, but kernel TLS is unusable: %s", caps->reason);
		return ret;
	}
	if (ret < 0) {
		log_info("ktls: kernel TLS unused, userspace TLS for every connection: %s",
			 caps->reason);
		return 0;
	}
	if (caps->reason[0])
		log_info("ktls: offload on, except: %s", caps->reason);
	return 1;
}

void ktls_note_refusal(const struct ktls_status *st)
{
	static _Atomic bool seen[KTLS_WHY__COUNT][2];
	enum ktls_why why = st->rx_why != KTLS_WHY_NONE ? st->rx_why : st->tx_why;
	bool rx = st->rx_why != KTLS_WHY_NONE;

	if ((unsigned int)why >= KTLS_WHY__COUNT || why == KTLS_WHY_NONE ||
	    atomic_exchange(&seen[why][rx], true))
		return;
	log_info("ktls: %s stays in userspace (%s): %s; logged once per reason",
		 rx ? "connection" : "TX", ktls_why_str(why), st->reason);
}

/* ---- probe ---- */

/* A connected loopback TCP pair; fds[0] is the connecting side. 0 or -errno. */
static int tcp_pair(int fds[2])
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t slen = sizeof(sa);
	int lfd, ret = 0;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 1) < 0 || getsockname(lfd, (struct sockaddr *)&sa, &slen) < 0 ||
	    connect(fds[0], (struct sockaddr *)&sa, sizeof(sa)) < 0)
		ret = -errno;
	fds[1] = ret ? -1 : accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (!ret && fds[1] < 0)
		ret = -errno;
	if (ret && fds[0] >= 0)
		close(fds[0]);
	close(lfd);
	return ret;
}

/* Installs dummy keys for @cd both ways on a fresh pair: bit set per success. */
static int probe_cipher(int i, struct ktls_caps *caps)
{
	struct dir_keys k = { .seq = 0 };
	int fds[2] = { -1, -1 }, ret;

	ret = tcp_pair(fds);
	if (ret < 0)
		return ret;
	ret = attach_ulp(fds[0]);
	if (ret == 0) {
		caps->ulp = true;
		if (install_dir(fds[0], TLS_TX, &ciphers[i], TLS1_3_VERSION, &k) == 0)
			caps->tx_ciphers |= 1u << i;
		if (install_dir(fds[0], TLS_RX, &ciphers[i], TLS1_3_VERSION, &k) == 0)
			caps->rx_ciphers |= 1u << i;
	}
	close(fds[0]);
	close(fds[1]);
	return ret;
}

/* Does the kernel list "tls" among its available ULPs? */
static bool ulp_is_listed(void)
{
	char line[256] = "";
	FILE *f = fopen(ktls_ulp_path, "re");

	if (!f)
		return false;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	return strstr(line, "tls");
}

static void missing_ciphers(struct ktls_caps *caps)
{
	unsigned int both = caps->tx_ciphers & caps->rx_ciphers;
	size_t n = 0;
	int i;

	for (i = 0; i < KTLS_CIPHER__COUNT && n < sizeof(caps->reason); i++)
		if (!(both & (1u << i)))
			n += (size_t)snprintf(caps->reason + n, sizeof(caps->reason) - n,
					      "%skernel lacks %s for kTLS: modprobe %s",
					      n ? "; " : "", ciphers[i].name, ciphers[i].module);
}

int ktls_probe(struct ktls_caps *caps)
{
	int i, ret;

	memset(caps, 0, sizeof(*caps));
	for (i = 0; i < KTLS_CIPHER__COUNT; i++) {
		ret = probe_cipher(i, caps);
		if (ret == -ENOENT || ret == -EOPNOTSUPP || ret == -ENOPROTOOPT) {
			snprintf(caps->reason, sizeof(caps->reason),
				 "tls module not loaded (TCP_ULP \"tls\": %s%s): modprobe tls",
				 strerror(-ret),
				 ulp_is_listed() ? "" : ", not in tcp_available_ulp");
			return -ENOENT;
		}
		if (ret < 0) {
			snprintf(caps->reason, sizeof(caps->reason), "probe socket: %s",
				 strerror(-ret));
			return ret;
		}
	}
	missing_ciphers(caps);
	return caps->tx_ciphers & caps->rx_ciphers ? 0 : -EOPNOTSUPP;
}
