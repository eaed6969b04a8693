/* SPDX-License-Identifier: MIT */
/* Userspace payload path and the socket I/O of every buffered side. Each
 * side has an rx and a tx buffer that exist only while they hold bytes
 * (bufpool.h): a recv on an empty side takes a ring buffer when data comes,
 * tx gets one on its first write. A TLS side's records are opened in rx and
 * sealed in tx by tlsrec.c (recside.c), or, where it refused the session, by
 * OpenSSL through tlsio.c's BIO. A side is read only while its rx has room,
 * and rx drains only as fast as the other side's tx empties: that is the
 * backpressure. */
#include "relay.h"

#include <errno.h>
#include <sys/socket.h>

#include "bufpool.h"
#include "conn.h"
#include "loop.h"
#include "recside.h"
#include "tls.h"
#include "worker.h"

#define CHUNK 16384u			/* plaintext per TLS record written */
#define MIN_PLAIN 256u			/* less room than this for SSL_read: wait */

/* relay_arm_recv() compacts rx when less than a quarter is free, so a
 * partial record always ends up with room to complete in rx. */
_Static_assert(BUF_SIZE / 4 >= TLSREC_RECORD_MAX, "rx must hold a whole TLS record");

static struct op *recv_op(struct conn *c, int s)
{
	return &c->ops[SLOT_RECV_C + s];
}

static struct op *send_op(struct conn *c, int s)
{
	return &c->ops[SLOT_SEND_C + s];
}

void relay_release_buffers(struct conn *c)
{
	unsigned int i;

	for (i = 0; i < SIDE__COUNT; i++) {
		bufpool_drop(c->side[i].pool, &c->side[i].rx);
		bufpool_drop(c->side[i].pool, &c->side[i].tx);
	}
}

void relay_drop_idle(struct conn *c)
{
	unsigned int i;

	for (i = 0; i < SIDE__COUNT; i++) {
		if (!recv_op(c, (int)i)->armed)
			bufpool_drop_if_empty(c->side[i].pool, &c->side[i].rx);
		if (!send_op(c, (int)i)->armed)
			bufpool_drop_if_empty(c->side[i].pool, &c->side[i].tx);
	}
}

/* Moves the unread bytes to the front; only while no op targets @b. */
static void buf_compact(struct buf *b)
{
	uint32_t n = b->tail - b->head;

	if (!b->head)
		return;
	if (n)
		memmove(b->base, b->base + b->head, n);
	b->head = 0;
	b->tail = n;
}

/* A recv that waits in a buffer of its own: no ring, or the ring ran dry. */
static int arm_recv_pool(struct conn *c, int s)
{
	struct side *sd = &c->side[s];
	int ret = bufpool_want(sd->pool, &sd->rx);

	if (ret < 0)
		return ret;
	return loop_recv(&c->w->loop, recv_op(c, s), sd->fd, sd->rx.base + sd->rx.tail,
			 sd->rx.cap - sd->rx.tail);
}

int relay_arm_recv(struct conn *c, int s)
{
	struct side *sd = &c->side[s];

	if (recv_op(c, s)->armed)
		return 0;
	bufpool_drop_if_empty(sd->pool, &sd->rx);
	if (sd->flags & (SIDE_F_FIN | SIDE_F_EOF))
		return 0;
	/* Empty: the kernel picks a ring buffer when data arrives, so an idle
	 * side pins no memory. */
	if (!sd->rx.base && bufpool_has_ring(sd->pool))
		return loop_recv_select(&c->w->loop, recv_op(c, s), sd->fd, BUF_SIZE,
					&sd->pool->ring);
	/* A partial record waits in rx: recv the rest behind it, keeping recvs
	 * large by moving a small tail of unread bytes to the front. */
	if (sd->rx.head && sd->rx.cap - sd->rx.tail < sd->rx.cap / 4)
		buf_compact(&sd->rx);
	if (sd->rx.base && sd->rx.tail == sd->rx.cap)
		return 0;	/* full: the other side must drain first */
	return arm_recv_pool(c, s);
}

int relay_flush(struct conn *c, int s)
{
	struct side *sd = &c->side[s];

	if (send_op(c, s)->armed)
		return 0;
	if (sd->tx.tail == sd->tx.head) {
		bufpool_drop_if_empty(sd->pool, &sd->tx);
		return 0;
	}
	sd->sending = sd->tx.tail - sd->tx.head;
	return loop_send(&c->w->loop, send_op(c, s), sd->fd, sd->tx.base + sd->tx.head,
			 sd->sending);
}

bool relay_is_tx_empty(const struct conn *c, int s)
{
	return c->side[s].tx.head == c->side[s].tx.tail;
}

/* No buffer yet: a whole one comes with the first write. */
static uint32_t tx_room(const struct side *sd)
{
	return sd->tx.base ? sd->tx.cap - sd->tx.tail : BUF_SIZE;
}

/* Where up to *@cap bytes of plaintext for side @b go: its tx (plaintext
 * side), its tx past a record header (tlsrec side, sealed in place), or the
 * worker's scratch (OpenSSL copies it into a record). *@cap 0: no room. */
static int dst_window(struct conn *c, int b, uint8_t **p, uint32_t *cap)
{
	struct side *dst = &c->side[b];
	uint32_t room;
	int ret;

	if (recside_is_rec(c, b))
		return recside_window(c, b, p, cap);
	if (dst->ssl) {
		room = tx_room(dst);
		room = room > TLS_RECORD_OVERHEAD ? room - TLS_RECORD_OVERHEAD : 0;
		*p = c->w->scratch;
		*cap = room < CHUNK ? room : CHUNK;
		return 0;
	}
	ret = bufpool_want(dst->pool, &dst->tx);
	if (ret < 0)
		return ret;
	*p = dst->tx.base + dst->tx.tail;
	*cap = dst->tx.cap - dst->tx.tail;
	return 0;
}

/* The @n bytes at @p (dst_window()'s, or any for OpenSSL) go to side @b. */
static int dst_commit(struct conn *c, int b, const uint8_t *p, uint32_t n)
{
	int w;

	if (recside_is_rec(c, b))
		return recside_seal(c, b, NULL, n);
	if (c->side[b].ssl) {
		w = tls_write(c, b, p, n);
		if (w < 0)
			return w;
		BUG_ON((uint32_t)w != n);
		return 0;
	}
	c->side[b].tx.tail += n;
	return 0;
}

/* @len bytes at @data to side @b, whose window @p holds that many. */
static int dst_put(struct conn *c, int b, const uint8_t *data, uint32_t len, uint8_t *p)
{
	if (recside_is_rec(c, b))	/* encrypted while copied: one pass */
		return recside_seal(c, b, data, len);
	if (c->side[b].ssl)
		return dst_commit(c, b, data, len);	/* OpenSSL reads @data itself */
	memcpy(p, data, len);
	return dst_commit(c, b, p, len);
}

/* OpenSSL source: SSL_read straight into the destination's window. */
static int move_from_tls(struct conn *c, int a, int b)
{
	uint32_t cap;
	uint8_t *p;
	int n, ret;

	for (;;) {
		ret = dst_window(c, b, &p, &cap);
		if (ret < 0)
			return ret;
		if (cap < MIN_PLAIN)
			return 0;	/* the send in flight makes room */
		n = tls_read(c, a, p, cap);
		if (n > 0) {
			ret = dst_commit(c, b, p, (uint32_t)n);
			if (ret < 0)
				return ret;
			c->payload[a] += (uint64_t)n;
			continue;
		}
		if (n == 0)
			c->side[a].flags |= SIDE_F_EOF;
		return n == -EAGAIN ? 0 : n;
	}
}

/* tlsrec source: each whole record in rx is opened, but only once the
 * destination has room for all it can hold (an opened record cannot be
 * closed again). Into a plaintext side it is decrypted straight into tx;
 * otherwise in place, then sealed from there into a tlsrec side's tx (or
 * handed to OpenSSL): the bytes are touched once either way.
 * -ECANCELED: the conn is ending. */
static int move_from_rec(struct conn *c, int a, int b)
{
	bool direct = !c->side[b].ssl && !recside_is_rec(c, b);
	struct side *src = &c->side[a];
	struct tlsrec_msg m;
	uint8_t *p = NULL;
	uint32_t cap;
	int bound, ret;

	while (!(src->flags & SIDE_F_EOF) && (bound = recside_peek(c, a)) >= 0) {
		ret = dst_window(c, b, &p, &cap);
		if (ret < 0)
			return ret;
		/* + 1: decrypted out of place, TLS 1.3's inner type lands there too */
		if (cap < (uint32_t)bound + (direct ? 1 : 0))
			return 0;	/* the send in flight makes room */
		ret = recside_open(c, a, direct ? p : NULL, &m);
		if (ret < 0)
			return ret;
		if (m.type != KTLS_REC_DATA) {
			ret = recside_ctrl(c, a, &m);
			if (ret == RECSIDE_EOF)
				src->flags |= SIDE_F_EOF;
			if (ret < 0 || ret == RECSIDE_ENDED)
				return ret < 0 ? ret : -ECANCELED;
			continue;
		}
		if (direct)
			ret = dst_commit(c, b, m.data, m.len);
		else if (m.len)
			ret = dst_put(c, b, m.data, m.len, p);
		if (ret < 0)
			return ret;
		c->payload[a] += m.len;
	}
	/* FIN without close_notify (or inside a record): an end all the same,
	 * as OpenSSL's SSL_OP_IGNORE_UNEXPECTED_EOF has it */
	if ((src->flags & SIDE_F_FIN) && recside_peek(c, a) == -EAGAIN)
		src->flags |= SIDE_F_EOF;
	return 0;
}

/* Plaintext source into a TLS destination, in full records while there
 * are bytes for them: a short record only ends what rx holds. */
static int move_from_plain(struct conn *c, int a, int b)
{
	struct side *src = &c->side[a];
	uint32_t len, cap;
	uint8_t *p;
	int ret;

	while (src->rx.tail > src->rx.head) {
		len = src->rx.tail - src->rx.head;
		len = len < CHUNK ? len : CHUNK;
		ret = dst_window(c, b, &p, &cap);
		if (ret < 0)
			return ret;
		if (cap < len)
			break;	/* the send in flight makes room */
		ret = dst_put(c, b, src->rx.base + src->rx.head, len, p);
		if (ret < 0)
			return ret;
		src->rx.head += len;
		c->payload[a] += (uint64_t)len;
	}
	if ((src->flags & SIDE_F_FIN) && src->rx.tail == src->rx.head)
		src->flags |= SIDE_F_EOF;
	return 0;
}

/* Half-close: once side @a's input has ended and all of it reached @b's tx,
 * queue close_notify (TLS) and shut @b's write side after tx drains. */
static int propagate_eof(struct conn *c, int a, int b)
{
	struct side *dst = &c->side[b];
	int ret = 0;

	if (!(c->side[a].flags & SIDE_F_EOF) || (dst->flags & SIDE_F_SHUT_WANTED))
		return 0;
	if (recside_is_rec(c, b))
		ret = recside_close_notify(c, b);
	else if (dst->ssl)
		ret = tls_shutdown(c, b);
	if (ret == -ENOSPC)
		return 0;	/* tx full: after the send in flight */
	if (ret < 0 && ret != -EPIPE)
		return ret;
	dst->flags |= SIDE_F_SHUT_WANTED;
	return 0;
}

static int shut_if_drained(struct conn *c, int s)
{
	struct side *sd = &c->side[s];

	if (!(sd->flags & SIDE_F_SHUT_WANTED) || (sd->flags & SIDE_F_SHUT_DONE) ||
	    !relay_is_tx_empty(c, s) || send_op(c, s)->armed)
		return 0;
	sd->flags |= SIDE_F_SHUT_DONE;
	if (shutdown(sd->fd, SHUT_WR) < 0 && errno != ENOTCONN)
		return -errno;
	return 0;
}

static int pump_dir(struct conn *c, int a, int b)
{
	int ret;

	if (recside_is_rec(c, a))
		ret = move_from_rec(c, a, b);
	else if (c->side[a].ssl)
		ret = move_from_tls(c, a, b);
	else
		ret = move_from_plain(c, a, b);
	if (ret < 0)
		return ret;
	ret = propagate_eof(c, a, b);
	if (ret < 0)
		return ret;
	ret = relay_flush(c, b);
	if (ret < 0)
		return ret;
	ret = shut_if_drained(c, b);
	if (ret < 0)
		return ret;
	return relay_arm_recv(c, a);
}

int relay_pump(struct conn *c)
{
	int ret;

	ret = pump_dir(c, SIDE_CLIENT, SIDE_UPSTREAM);
	if (ret >= 0)
		ret = pump_dir(c, SIDE_UPSTREAM, SIDE_CLIENT);
	if (ret == -ECANCELED)
		return 0;	/* a record ended the conn: it drains or closes */
	if (ret < 0)
		return ret;
	/* OpenSSL or tlsrec may have queued bytes of their own (a KeyUpdate answer). */
	ret = relay_flush(c, SIDE_CLIENT);
	if (ret >= 0)
		ret = relay_flush(c, SIDE_UPSTREAM);
	if (ret < 0)
		return ret;
	if ((c->side[SIDE_CLIENT].flags & SIDE_F_SHUT_DONE) &&
	    (c->side[SIDE_UPSTREAM].flags & SIDE_F_SHUT_DONE))
		conn_close(c, "closed by peers");
	return 0;
}

int relay_on_recv(struct op *op, int res, unsigned int cqe_flags)
{
	struct conn *c = op->conn;
	struct side *sd = &c->side[op->idx];
	int bid = loop_cqe_buf_id(cqe_flags);

	if (bid >= 0)
		bufpool_adopt(sd->pool, &sd->rx, (unsigned int)bid);
	if (res == -ENOBUFS) {
		/* Ring dry (its buffers all taken, by this batch of completions
		 * or by sides whose bytes wait): nothing was read. */
		conn_log(c, LOG_DEBUG, "recv: buffer ring empty, waiting in a pool buffer");
		return arm_recv_pool(c, op->idx);
	}
	if (res < 0)
		return res;
	if (res == 0)
		sd->flags |= SIDE_F_FIN;
	sd->rx.tail += (uint32_t)res;
	sd->bytes_in += (uint64_t)res;
	c->t_last = c->w->loop.now_ms;
	return conn_step(c);
}

int relay_on_send(struct op *op, int res, unsigned int cqe_flags)
{
	struct conn *c = op->conn;
	struct side *sd = &c->side[op->idx];

	(void)cqe_flags;
	sd->sending = 0;
	if (res < 0)
		return res;
	sd->tx.head += (uint32_t)res;
	sd->bytes_out += (uint64_t)res;
	c->t_last = c->w->loop.now_ms;
	buf_compact(&sd->tx);
	bufpool_drop_if_empty(sd->pool, &sd->tx);
	if (c->state == CONN_ST_RELAY_USER || c->state == CONN_ST_DRAIN)
		return conn_step(c);
	/* Handshakes: finish the flight, then let OpenSSL continue. */
	if (!relay_is_tx_empty(c, op->idx))
		return relay_flush(c, op->idx);
	return conn_step(c);
}

void relay_on_recv_closed(struct op *op, unsigned int cqe_flags)
{
	struct side *sd = &op->conn->side[op->idx];
	int bid = loop_cqe_buf_id(cqe_flags);

	/* Kept until the conn's release gives every buffer back. */
	if (bid >= 0)
		bufpool_adopt(sd->pool, &sd->rx, (unsigned int)bid);
}
