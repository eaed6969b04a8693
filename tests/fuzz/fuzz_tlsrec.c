/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a script of records sealed by one tlsrec and opened by
 * its mirror, with optional corruption and split delivery. Byte 0 picks
 * version, cipher and role; then per record: type, length (2 bytes),
 * corruption byte, split byte, content. Sealed records must open to exactly
 * what was sealed; anything else must be refused, never crash. */
#include "tlsrec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OP_KEY_UPDATE 0xff	/* record type meaning "seal a KeyUpdate" */

static uint8_t buf[TLSREC_HDR_MAX + TLSREC_PLAIN_MAX + 1 + TLSREC_TAIL_MAX];

static void keys_for(struct ktls_keys *k, uint8_t sel, bool mirror)
{
	struct ktls_keys_dir *a = mirror ? &k->tx : &k->rx, *b = mirror ? &k->rx : &k->tx;

	memset(k, 0, sizeof(*k));
	k->version = sel & 1 ? 0x0304 : 0x0303;
	k->cipher = (sel >> 1) % KTLS_CIPHER__COUNT;
	k->is_server = !!(sel & 8) != mirror;
	memset(a->key, 0x11, sizeof(a->key));
	memset(b->key, 0x22, sizeof(b->key));
	memset(a->iv, 0x33, sizeof(a->iv));
	memset(b->iv, 0x44, sizeof(b->iv));
	a->seq = b->seq = sel >> 4;
	a->secret_len = b->secret_len = k->version == 0x0304 ? (sel & 16 ? 48 : 32) : 0;
	memset(a->secret, 0x55, sizeof(a->secret));
	memset(b->secret, 0x66, sizeof(b->secret));
}

/* Seals one scripted record with @tx; its length, or <= 0 when refused. */
static int seal_one(struct tlsrec *tx, uint8_t type, const uint8_t *pt, size_t len)
{
	if (type == OP_KEY_UPDATE)
		return tlsrec_seal_key_update(tx, len & 1, buf, sizeof(buf));
	memcpy(buf + tlsrec_hdr_len(tx), pt, len);
	return tlsrec_seal(tx, type, buf, len);
}

/* While both ends agree on keys and record numbers (nothing corrupted or
 * refused yet), each record must open to exactly what was sealed. */
static bool in_sync;

/* Opens the record of @rl bytes in buf, first cut at @cut/256 of it. @pt:
 * the sealed content (NULL for our KeyUpdate); @bad: it was corrupted. */
static void open_one(struct tlsrec *rx, int rl, uint8_t type, const uint8_t *pt, size_t len,
		     uint8_t cut, bool bad)
{
	struct tlsrec_msg m;
	int res, ctrl = -1;

	res = tlsrec_open(rx, buf, (size_t)rl * cut / 256, &m);	/* partial */
	BUG_ON(res > 0 || (res != -EAGAIN && res != -EBADMSG));
	res = tlsrec_open(rx, buf, (size_t)rl, &m);
	/* a corrupted length can make the record look incomplete */
	BUG_ON(res != rl && res != -EBADMSG && !(bad && res == -EAGAIN));
	BUG_ON(bad && res > 0);		/* a changed byte never gets through */
	if (in_sync && type >= KTLS_REC_ALERT && type <= KTLS_REC_DATA)
		BUG_ON(!bad && (res != rl || m.type != type || m.len != len ||
				(pt && memcmp(m.data, pt, len))));
	if (res > 0) {
		BUG_ON(m.data < buf || m.data + m.len > buf + rl);
		if (m.type != KTLS_REC_DATA)
			ctrl = tlsrec_ctrl(rx, &m);
	}
	/* what desynchronises the ends: a refused record (tx counted it), a
	 * KeyUpdate on one end only, the end of RX */
	if (res < 0 || (ctrl == KTLS_CTRL_KEY_UPDATE) != !pt || (rx->flags & TLSREC_F_RX_DONE))
		in_sync = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlsrec tx, rx;
	struct ktls_keys k;
	size_t off = 1, len;
	uint8_t type, bad;
	int rl;

	if (size < 1)
		return 0;
	in_sync = true;
	keys_for(&k, data[0], false);
	BUG_ON(tlsrec_setup(&rx, &k) < 0);
	keys_for(&k, data[0], true);
	BUG_ON(tlsrec_setup(&tx, &k) < 0);
	while (off + 5 <= size) {
		type = data[off];
		len = ((size_t)data[off + 1] << 8 | data[off + 2]) % (TLSREC_PLAIN_MAX + 2);
		bad = data[off + 3];
		off += 5;
		len = len < size - off ? len : size - off;
		rl = seal_one(&tx, type, data + off, len);
		if (rl > 0) {
			if (bad)
				buf[bad % rl] ^= bad;
			if (type == OP_KEY_UPDATE)
				open_one(&rx, rl, KTLS_REC_HANDSHAKE, NULL, 5, data[off - 1], bad);
			else
				open_one(&rx, rl, type, data + off, len, data[off - 1], bad);
			if (type < KTLS_REC_ALERT || type > KTLS_REC_DATA)
				in_sync = false;	/* 1.2 refuses it; 1.3 misreads it */
		}
		off += len;
	}
	tlsrec_free(&tx);
	tlsrec_free(&rx);
	return 0;
}
