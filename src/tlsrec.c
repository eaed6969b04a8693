/* SPDX-License-Identifier: MIT */
/* Userspace TLS record layer (the kTLS equivalent without the kernel): one
 * keyed AEAD context per direction, nonces and AAD per RFC 5288/7905 (TLS
 * 1.2) and RFC 8446 5.2-5.3 (TLS 1.3), records opened and sealed in place in
 * the caller's buffers, TLS 1.3 KeyUpdate with the tracked traffic secrets. */
#include "tlsrec.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "ktls.h"
#include "log.h"

#define HS_NEW_SESSION_TICKET 4
#define HS_KEY_UPDATE 24
#define ALERT_UNEXPECTED_MESSAGE 10
#define ALERT_BAD_RECORD_MAC 20
#define ALERT_RECORD_OVERFLOW 22
#define ALERT_DECODE_ERROR 50
#define ALERT_PROTOCOL_VERSION 70

static const char *const aead_names[KTLS_CIPHER__COUNT] = {
	[KTLS_CIPHER_AES_128_GCM] = "AES-128-GCM",
	[KTLS_CIPHER_AES_256_GCM] = "AES-256-GCM",
	[KTLS_CIPHER_CHACHA20_POLY1305] = "ChaCha20-Poly1305",
};

/* Fetched once: an implicit fetch per context would cost a lookup per conn. */
static EVP_CIPHER *aeads[KTLS_CIPHER__COUNT];
static pthread_once_t aeads_once = PTHREAD_ONCE_INIT;

static void fetch_aeads(void)
{
	int i;

	for (i = 0; i < KTLS_CIPHER__COUNT; i++)
		aeads[i] = EVP_CIPHER_fetch(NULL, aead_names[i], NULL);
}

/* Refuses with @why and the alert a peer should get. Returns @err. */
static int refuse(struct tlsrec *r, int err, uint8_t alert, const char *why)
{
	r->why = why;
	r->alert = alert;
	return err;
}

static bool is_tls13(const struct tlsrec *r)
{
	return r->version == TLS1_3_VERSION;
}

/* TLS 1.2 AES-GCM carries 8 nonce bytes in the record; ChaCha and 1.3 do not. */
static bool has_explicit_nonce(const struct tlsrec *r)
{
	return !is_tls13(r) && r->cipher != KTLS_CIPHER_CHACHA20_POLY1305;
}

size_t tlsrec_hdr_len(const struct tlsrec *r)
{
	return has_explicit_nonce(r) ? TLSREC_HDR_MAX : TLSREC_HDR;
}

size_t tlsrec_tail_len(const struct tlsrec *r)
{
	return TLSREC_TAG + (is_tls13(r) ? 1 : 0);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* ---- keys ---- */

/* (Re)keys one direction: the key schedule is computed here, once per key. */
static int dir_key(struct tlsrec_dir *d, int cipher, const struct ktls_keys_dir *k, int enc)
{
	if (!d->aead)
		d->aead = EVP_CIPHER_CTX_new();
	ERR_clear_error();
	if (!d->aead || EVP_CipherInit_ex(d->aead, aeads[cipher], NULL, k->key, NULL, enc) != 1) {
		log_ssl_errors(LOG_ERROR, "tlsrec: cipher context");
		return d->aead ? -EPROTO : -ENOMEM;
	}
	memcpy(d->iv, k->iv, sizeof(d->iv));
	d->seq = k->seq;
	memcpy(d->secret, k->secret, sizeof(d->secret));
	d->secret_len = k->secret_len;
	return 0;
}

int tlsrec_setup(struct tlsrec *r, const struct ktls_keys *k)
{
	int ret;

	memset(r, 0, sizeof(*r));
	if (k->version != TLS1_2_VERSION && k->version != TLS1_3_VERSION)
		return refuse(r, -EOPNOTSUPP, ALERT_PROTOCOL_VERSION,
			      "only TLS 1.2 and 1.3 records are supported");
	if (k->cipher < 0 || k->cipher >= KTLS_CIPHER__COUNT)
		return refuse(r, -EOPNOTSUPP, 0, "only AES-GCM and ChaCha20-Poly1305 records");
	pthread_once(&aeads_once, fetch_aeads);
	if (!aeads[k->cipher])
		return refuse(r, -EOPNOTSUPP, 0, "OpenSSL lacks the cipher");
	r->version = (uint16_t)k->version;
	r->cipher = (uint8_t)k->cipher;
	r->flags = k->is_server ? TLSREC_F_SERVER : 0;
	ret = dir_key(&r->rx, k->cipher, &k->rx, 0);
	if (ret == 0)
		ret = dir_key(&r->tx, k->cipher, &k->tx, 1);
	if (ret < 0)
		tlsrec_free(r);
	return ret;
}

int tlsrec_init(struct tlsrec *r, struct ssl_st *ssl, struct ktls_status *st)
{
	struct ktls_keys k;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = ktls_export_keys(ssl, &k, st);
	if (ret == 0 && (ret = tlsrec_setup(r, &k)) < 0)
		snprintf(st->reason, sizeof(st->reason), "tlsrec: %s",
			 r->why ? r->why : "cipher context setup failed");
	OPENSSL_cleanse(&k, sizeof(k));
	return ret;
}

void tlsrec_free(struct tlsrec *r)
{
	EVP_CIPHER_CTX_free(r->rx.aead);
	EVP_CIPHER_CTX_free(r->tx.aead);
	OPENSSL_cleanse(r, sizeof(*r));
}

/* TLS 1.3 KeyUpdate of one direction: next secret, key, iv; seq 0. */
static int dir_update(struct tlsrec *r, struct tlsrec_dir *d, int enc)
{
	struct ktls_keys_dir k;
	int ret;

	memset(&k, 0, sizeof(k));
	memcpy(k.secret, d->secret, sizeof(k.secret));
	k.secret_len = d->secret_len;
	ret = ktls_key_update(&k, r->cipher);
	if (ret == 0)
		ret = dir_key(d, r->cipher, &k, enc);
	OPENSSL_cleanse(&k, sizeof(k));
	return ret < 0 ? refuse(r, ret, 0, "KeyUpdate: key derivation failed") : 0;
}

/* ---- AEAD ---- */

/* Nonce of record @seq: salt || explicit (1.2 GCM, @explicit given), else
 * iv XOR seq (RFC 7905 and RFC 8446 5.3). */
static void make_nonce(const struct tlsrec_dir *d, const uint8_t *explicit, uint8_t nonce[12])
{
	uint8_t s[8];
	int i;

	if (explicit) {
		memcpy(nonce, d->iv, 4);
		memcpy(nonce + 4, explicit, 8);
		return;
	}
	put_be64(s, d->seq);
	memcpy(nonce, d->iv, 12);
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= s[i];
}

/* TLS 1.2 AAD: seq_num || type || version || plaintext length. */
static void make_aad12(uint8_t aad[13], uint64_t seq, uint8_t type, size_t len)
{
	put_be64(aad, seq);
	aad[8] = type;
	aad[9] = 3;
	aad[10] = 3;
	aad[11] = (uint8_t)(len >> 8);
	aad[12] = (uint8_t)len;
}

/* Encrypts (@enc) or decrypts @len bytes from @in to @out (the same or
 * apart), then @more bytes at @out + @len in place (TLS 1.3's inner type
 * behind plaintext sealed from elsewhere); the tag is at @tag. 0, -EBADMSG
 * on a bad tag, -EPROTO on any other failure. */
static int aead_run(EVP_CIPHER_CTX *cx, const uint8_t *nonce, const uint8_t *aad, size_t alen,
		    const uint8_t *in, uint8_t *out, size_t len, size_t more, uint8_t *tag, int enc)
{
	int outl;

	/* the error queue is only touched on failure: the hot path stays lean */
	if (EVP_CipherInit_ex(cx, NULL, NULL, NULL, nonce, enc) != 1 ||
	    EVP_CipherUpdate(cx, NULL, &outl, aad, (int)alen) != 1 ||
	    (len && EVP_CipherUpdate(cx, out, &outl, in, (int)len) != 1) ||
	    (more && EVP_CipherUpdate(cx, out + len, &outl, out + len, (int)more) != 1) ||
	    (!enc && EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_AEAD_SET_TAG, TLSREC_TAG, tag) != 1))
		goto out_proto;
	if (EVP_CipherFinal_ex(cx, out + len + more, &outl) != 1) {
		if (enc)
			goto out_proto;
		ERR_clear_error();
		return -EBADMSG;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_AEAD_GET_TAG, TLSREC_TAG, tag) != 1)
		goto out_proto;
	return 0;

out_proto:
	log_ssl_errors(LOG_ERROR, "tlsrec: AEAD");
	return -EPROTO;
}

/* ---- sealing ---- */

static void put_header(uint8_t *buf, uint8_t type, size_t clen)
{
	buf[0] = type;
	buf[1] = 3;
	buf[2] = 3;
	buf[3] = (uint8_t)(clen >> 8);
	buf[4] = (uint8_t)clen;
}

/* Seals without policy checks (alerts and KeyUpdate use it too); the
 * plaintext is at @src, or already in place when @src is NULL. */
static int seal_record(struct tlsrec *r, uint8_t type, uint8_t *buf, const uint8_t *src,
		       size_t len)
{
	struct tlsrec_dir *d = &r->tx;
	size_t hdr = tlsrec_hdr_len(r), clen = hdr - TLSREC_HDR + len + tlsrec_tail_len(r);
	uint8_t nonce[12], aad[13], *aadp = aad, *pt = buf + hdr;
	size_t alen = sizeof(aad), more = 0;
	int ret;

	if (d->seq == UINT64_MAX)
		return refuse(r, -EOVERFLOW, 0, "TX record number would wrap");
	put_header(buf, is_tls13(r) ? KTLS_REC_DATA : type, clen);
	if (is_tls13(r)) {
		pt[len] = type;	/* TLSInnerPlaintext: content || type, no padding */
		more = 1;
		aadp = buf;
		alen = TLSREC_HDR;
	} else {
		make_aad12(aad, d->seq, type, len);
	}
	if (!src) {	/* in place: one pass over content and type */
		src = pt;
		len += more;
		more = 0;
	}
	if (has_explicit_nonce(r))
		put_be64(buf + TLSREC_HDR, d->seq);	/* explicit nonce = seq (RFC 5288 3) */
	make_nonce(d, has_explicit_nonce(r) ? buf + TLSREC_HDR : NULL, nonce);
	ret = aead_run(d->aead, nonce, aadp, alen, src, pt, len, more, pt + len + more, 1);
	if (ret < 0)
		return ret;
	d->seq++;
	return (int)(TLSREC_HDR + clen);
}

static int check_seal(struct tlsrec *r, uint8_t type, size_t len)
{
	if (r->flags & TLSREC_F_TX_DONE)
		return refuse(r, -EPIPE, 0, "sealing after our close_notify or alert");
	if (len > TLSREC_PLAIN_MAX)
		return refuse(r, -EMSGSIZE, 0, "plaintext over 2^14 bytes");
	if (type == KTLS_REC_DATA && (r->flags & TLSREC_F_KU_OWED))
		return refuse(r, -EINPROGRESS, 0, "a KeyUpdate is owed before data");
	return 0;
}

int tlsrec_seal(struct tlsrec *r, uint8_t type, uint8_t *buf, size_t len)
{
	int ret = check_seal(r, type, len);

	return ret < 0 ? ret : seal_record(r, type, buf, NULL, len);
}

int tlsrec_seal_from(struct tlsrec *r, uint8_t type, uint8_t *buf, const uint8_t *src, size_t len)
{
	int ret = check_seal(r, type, len);

	return ret < 0 ? ret : seal_record(r, type, buf, src, len);
}

/* Room check shared by the control records we produce. */
static uint8_t *ctrl_body(struct tlsrec *r, uint8_t *buf, size_t cap, size_t len)
{
	if (cap < tlsrec_hdr_len(r) + len + tlsrec_tail_len(r))
		return NULL;
	return buf + tlsrec_hdr_len(r);
}

int tlsrec_seal_alert(struct tlsrec *r, uint8_t level, uint8_t desc, uint8_t *buf, size_t cap)
{
	uint8_t *body = ctrl_body(r, buf, cap, 2);
	int ret;

	if (r->flags & TLSREC_F_TX_DONE)
		return refuse(r, -EPIPE, 0, "sealing after our close_notify or alert");
	if (!body)
		return -ENOSPC;
	body[0] = level;
	body[1] = desc;
	ret = seal_record(r, KTLS_REC_ALERT, buf, NULL, 2);
	if (ret > 0)
		r->flags |= TLSREC_F_TX_DONE;
	return ret;
}

int tlsrec_seal_key_update(struct tlsrec *r, bool request, uint8_t *buf, size_t cap)
{
	uint8_t *body = ctrl_body(r, buf, cap, 5);
	int n, ret;

	if (!is_tls13(r))
		return refuse(r, -EOPNOTSUPP, 0, "KeyUpdate exists only in TLS 1.3");
	if (r->flags & TLSREC_F_TX_DONE)
		return refuse(r, -EPIPE, 0, "sealing after our close_notify or alert");
	if (!body)
		return -ENOSPC;
	memcpy(body, (const uint8_t[]){ HS_KEY_UPDATE, 0, 0, 1, request }, 5);
	n = seal_record(r, KTLS_REC_HANDSHAKE, buf, NULL, 5);
	if (n < 0)
		return n;
	ret = dir_update(r, &r->tx, 1);
	if (ret < 0)
		return ret;
	r->flags &= (uint8_t)~TLSREC_F_KU_OWED;
	return n;
}

/* ---- opening ---- */

/* Ciphertext length of the record whose header is at @buf, or -EBADMSG. */
static int check_header(struct tlsrec *r, const uint8_t *buf)
{
	size_t clen = (size_t)buf[3] << 8 | buf[4];
	size_t min = tlsrec_hdr_len(r) - TLSREC_HDR + tlsrec_tail_len(r);

	if (r->flags & TLSREC_F_RX_DONE)
		return refuse(r, -EBADMSG, ALERT_UNEXPECTED_MESSAGE, "record after close_notify");
	if (buf[1] != 3 || buf[2] != 3)
		return refuse(r, -EBADMSG, ALERT_PROTOCOL_VERSION, "record version is not 3,3");
	if (is_tls13(r) ? buf[0] != KTLS_REC_DATA
			: buf[0] < KTLS_REC_ALERT || buf[0] > KTLS_REC_DATA)
		return refuse(r, -EBADMSG, ALERT_UNEXPECTED_MESSAGE, "unexpected record type");
	if (clen < min)
		return refuse(r, -EBADMSG, ALERT_DECODE_ERROR, "record shorter than its tag");
	/* 1.3: the inner plaintext (content, type, padding) is at most 2^14 + 1,
	 * and min counts its type byte */
	if (clen > TLSREC_CIPHER_MAX || clen - min > TLSREC_PLAIN_MAX)
		return refuse(r, -EBADMSG, ALERT_RECORD_OVERFLOW, "record overflow (over 2^14)");
	return (int)clen;
}

/* TLS 1.3: strips the zero padding; the last non-zero byte is the type. */
static int strip_inner(struct tlsrec *r, struct tlsrec_msg *m)
{
	while (m->len && !m->data[m->len - 1])
		m->len--;
	if (!m->len)
		return refuse(r, -EBADMSG, ALERT_UNEXPECTED_MESSAGE, "no inner content type");
	m->type = m->data[--m->len];
	if (m->type < KTLS_REC_ALERT || m->type > KTLS_REC_DATA)
		return refuse(r, -EBADMSG, ALERT_UNEXPECTED_MESSAGE, "unexpected inner type");
	return 0;
}

/* Opens the record at @buf into @out (NULL: in place). */
static int open_record(struct tlsrec *r, uint8_t *buf, size_t len, uint8_t *out,
		       struct tlsrec_msg *m)
{
	struct tlsrec_dir *d = &r->rx;
	size_t hdr = tlsrec_hdr_len(r), plen;
	uint8_t nonce[12], aad[13], *aadp = aad;
	int clen, ret;

	if (len < TLSREC_HDR)
		return -EAGAIN;
	clen = check_header(r, buf);
	if (clen < 0)
		return clen;
	if (len < TLSREC_HDR + (size_t)clen)
		return -EAGAIN;
	if (d->seq == UINT64_MAX)
		return refuse(r, -EBADMSG, 0, "RX record number would wrap");
	plen = TLSREC_HDR + (size_t)clen - hdr - TLSREC_TAG;
	if (is_tls13(r))
		aadp = buf;
	else
		make_aad12(aad, d->seq, buf[0], plen);
	make_nonce(d, has_explicit_nonce(r) ? buf + TLSREC_HDR : NULL, nonce);
	out = out ? out : buf + hdr;
	ret = aead_run(d->aead, nonce, aadp, is_tls13(r) ? TLSREC_HDR : sizeof(aad), buf + hdr,
		       out, plen, 0, buf + hdr + plen, 0);
	if (ret == -EBADMSG)
		return refuse(r, ret, ALERT_BAD_RECORD_MAC, "bad record tag (bad_record_mac)");
	if (ret < 0)
		return ret;
	m->data = out;
	m->len = (uint32_t)plen;
	m->type = buf[0];
	if (is_tls13(r) && (ret = strip_inner(r, m)) < 0)
		return ret;
	d->seq++;
	return TLSREC_HDR + clen;
}

int tlsrec_open(struct tlsrec *r, uint8_t *buf, size_t len, struct tlsrec_msg *m)
{
	return open_record(r, buf, len, NULL, m);
}

int tlsrec_open_to(struct tlsrec *r, uint8_t *buf, size_t len, uint8_t *out,
		   struct tlsrec_msg *m)
{
	return open_record(r, buf, len, out, m);
}

/* ---- control records ---- */

static int unexpected(struct tlsrec *r, const char *why)
{
	refuse(r, 0, ALERT_UNEXPECTED_MESSAGE, why);
	return KTLS_CTRL_UNEXPECTED;
}

static int on_key_update(struct tlsrec *r, uint8_t request)
{
	int ret = dir_update(r, &r->rx, 0);

	if (ret < 0)
		return ret;
	if (request && !(r->flags & TLSREC_F_TX_DONE))
		r->flags |= TLSREC_F_KU_OWED;
	return KTLS_CTRL_KEY_UPDATE;
}

/* TLS 1.3 post-handshake messages, whole inside this record (OpenSSL never
 * splits a ticket; a split one is refused rather than buffered). */
static int on_handshake(struct tlsrec *r, const uint8_t *p, size_t len)
{
	int res = unexpected(r, "empty handshake record");
	size_t off = 0, mlen;

	if (!is_tls13(r))
		return unexpected(r, "handshake record after a TLS 1.2 handshake (renegotiation)");
	while (off < len) {
		if (len - off < 4)
			return unexpected(r, "handshake message split across records");
		mlen = (size_t)p[off + 1] << 16 | (size_t)p[off + 2] << 8 | p[off + 3];
		if (mlen > len - off - 4)
			return unexpected(r, "handshake message split across records");
		if (p[off] == HS_KEY_UPDATE) {
			if (mlen != 1 || p[off + 4] > 1 || off + 5 != len)
				return unexpected(r, "malformed KeyUpdate or not last in its record");
			return on_key_update(r, p[off + 4]);
		}
		if (p[off] != HS_NEW_SESSION_TICKET || (r->flags & TLSREC_F_SERVER))
			return unexpected(r, "unexpected post-handshake message");
		res = KTLS_CTRL_SESSION_TICKET;
		off += 4 + mlen;
	}
	return res;
}

int tlsrec_ctrl(struct tlsrec *r, const struct tlsrec_msg *m)
{
	if (m->type == KTLS_REC_HANDSHAKE)
		return on_handshake(r, m->data, m->len);
	if (m->type != KTLS_REC_ALERT)
		return unexpected(r, "not a control record");
	if (m->len != 2)
		return unexpected(r, "alert record is not 2 bytes");
	r->flags |= TLSREC_F_RX_DONE;
	return m->data[1] == 0 ? KTLS_CTRL_CLOSE_NOTIFY : KTLS_CTRL_ALERT;
}
