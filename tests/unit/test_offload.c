/* SPDX-License-Identifier: MIT */
/* offload.c without a kernel: the start-up decision per gateway.ktls, the
 * userspace verdicts and their access-log text, and what each control record
 * on an offloaded RX does to the conn (through ktls.c's syscall seams). */
#include "t.h"

#include <errno.h>
#include <linux/tls.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "conn.h"
#include "ktls.h"
#include "offload.h"
#include "worker.h"

#define S(x) CONN_ST_##x

struct fixture {
	struct gateway gw;
	struct config cfg;
	struct worker *w;
	struct lsock ls;
	struct listener_cfg lc;
	struct conn *c;
};

static void setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->gw.cfg = &f->cfg;
	f->w = calloc(1, sizeof(*f->w));
	f->w->gw = &f->gw;
	f->w->cfg = &f->cfg;
	snprintf(f->lc.name, sizeof(f->lc.name), "t");
	f->ls = (struct lsock){ .cfg = &f->lc, .w = f->w };
	f->c = conn_get(f->w);
	f->c->ls = &f->ls;
}

static void teardown(struct fixture *f)
{
	unsigned int i;

	f->c->state = S(CLOSING);
	for (i = 0; i < f->w->pool.n_chunks; i++)
		free(f->w->pool.chunks[i]);
	free(f->w->pool.chunks);
	free(f->w);
}

static int no_ulp(int fd, int lvl, int opt, const void *v, socklen_t n)
{
	(void)fd, (void)lvl, (void)opt, (void)v, (void)n;
	errno = ENOENT;
	return -1;
}

TEST(setup_follows_gateway_ktls)
{
	struct fixture f;

	setup(&f);
	ktls_setsockopt = no_ulp;
	ktls_ulp_path = "/nonexistent";
	f.cfg.ktls = FEAT_ON;
	EXPECT(offload_setup(&f.gw) < 0);	/* on: refuse to start */
	f.cfg.ktls = FEAT_AUTO;
	EXPECT_EQ(offload_setup(&f.gw), 0);
	EXPECT(!f.gw.ktls);
	EXPECT_STR_EQ(f.gw.ktls_off, "tls module not loaded");
	f.cfg.ktls = FEAT_OFF;
	EXPECT_EQ(offload_setup(&f.gw), 0);
	EXPECT_STR_EQ(f.gw.ktls_off, "gateway.ktls is off");
	teardown(&f);
}

TEST(userspace_verdicts_reach_the_access_text)
{
	struct fixture f;
	char buf[96];

	setup(&f);
	f.gw.ktls_off = "tls module not loaded";
	EXPECT_EQ(offload_try(f.c), 0);		/* plaintext conn: nothing to say */
	offload_describe(f.c, buf, sizeof(buf));
	EXPECT_STR_EQ(buf, "");
	f.c->side[SIDE_CLIENT].ssl = (struct ssl_st *)&f;	/* never dereferenced */
	EXPECT_EQ(offload_try(f.c), 0);		/* kTLS unusable: userspace */
	EXPECT(!(f.c->flags & CONN_F_KTLS));
	offload_describe(f.c, buf, sizeof(buf));
	EXPECT_STR_EQ(buf, " ktls=\"tls module not loaded\"");
	f.c->ktls_side = SIDE_UPSTREAM;
	f.c->ktls_why = KTLS_WHY_PENDING;
	offload_describe(f.c, buf, sizeof(buf));
	EXPECT_STR_EQ(buf, " ktls=\"upstream: OpenSSL holds buffered bytes\"");
	f.c->flags |= CONN_F_KTLS;
	f.c->side[SIDE_CLIENT].flags |= SIDE_F_KTLS;
	f.c->side[SIDE_UPSTREAM].flags |= SIDE_F_KTLS;
	offload_describe(f.c, buf, sizeof(buf));
	EXPECT_STR_EQ(buf, " ktls=\"client:tx+rx upstream:tx+rx\"");
	f.c->side[SIDE_CLIENT].ssl = NULL;
	teardown(&f);
}

/* ---- control records through the recvmsg/sendmsg seams ---- */

static uint8_t rec_type;
static uint8_t rec[16];
static size_t rec_len;
static int sent_alerts;

static ssize_t fake_recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct cmsghdr *cm = CMSG_FIRSTHDR(msg);

	(void)fd, (void)flags;
	memcpy(msg->msg_iov[0].iov_base, rec, rec_len);
	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_GET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(cm) = rec_type;
	msg->msg_controllen = CMSG_SPACE(1);
	return (ssize_t)rec_len;
}

static ssize_t fake_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	(void)fd, (void)flags;
	sent_alerts++;
	return (ssize_t)msg->msg_iov[0].iov_len;
}

/* An offloaded TLS 1.3 conn in RELAY_SPLICE that receives @type/@bytes. */
static int feed(struct fixture *f, uint8_t type, const uint8_t *bytes, size_t n)
{
	int s;

	setup(f);
	for (s = 0; s < SIDE__COUNT; s++) {
		f->c->side[s].fd = 100 + s;	/* only the seams see it */
		f->c->side[s].flags |= SIDE_F_KTLS;
		f->c->ktls_ver[s] = 0x0304;
	}
	f->c->flags |= CONN_F_KTLS;
	f->c->state = S(RELAY_SPLICE);
	ktls_recvmsg = fake_recvmsg;
	ktls_sendmsg = fake_sendmsg;
	rec_type = type;
	memcpy(rec, bytes, n);
	rec_len = n;
	sent_alerts = 0;
	return offload_ctrl(f->c, SIDE_CLIENT);
}

static void unfeed(struct fixture *f)
{
	int s;

	for (s = 0; s < SIDE__COUNT; s++)
		f->c->side[s].fd = -1;
	teardown(f);
}

TEST(close_notify_is_an_orderly_eof)
{
	struct fixture f;

	EXPECT_EQ(feed(&f, KTLS_REC_ALERT, (const uint8_t[]){ 1, 0 }, 2), OFFLOAD_CTRL_EOF);
	EXPECT_EQ(f.c->state, S(RELAY_SPLICE));	/* back from the RELAY_CTRL detour */
	EXPECT_EQ(sent_alerts, 0);
	unfeed(&f);
}

TEST(session_ticket_is_consumed)
{
	struct fixture f;

	EXPECT_EQ(feed(&f, KTLS_REC_HANDSHAKE, (const uint8_t[]){ 4, 0, 0, 2, 9, 9 }, 6),
		  OFFLOAD_CTRL_REARM);
	EXPECT_EQ(f.c->state, S(RELAY_SPLICE));
	EXPECT(!f.c->end);
	unfeed(&f);
}

TEST(fatal_alert_closes_the_conn)
{
	struct fixture f;

	EXPECT_EQ(feed(&f, KTLS_REC_ALERT, (const uint8_t[]){ 2, 40 }, 2), OFFLOAD_CTRL_CLOSED);
	EXPECT_EQ(f.c->state, S(CLOSING));
	EXPECT_STR_EQ(f.c->end, "TLS alert from peer");
	unfeed(&f);
}

TEST(key_update_closes_cleanly_with_close_notify_both_ways)
{
	struct fixture f;

	EXPECT_EQ(feed(&f, KTLS_REC_HANDSHAKE, (const uint8_t[]){ 24, 0, 0, 1, 0 }, 5),
		  OFFLOAD_CTRL_CLOSED);
	EXPECT_EQ(f.c->state, S(CLOSING));
	EXPECT_STR_CONTAINS(f.c->end, "KeyUpdate");
	EXPECT_EQ(sent_alerts, 2);	/* close_notify to the client and to the upstream */
	unfeed(&f);
}

TEST(other_handshake_record_is_unexpected)
{
	struct fixture f;
	int ret;

	ret = feed(&f, KTLS_REC_HANDSHAKE, (const uint8_t[]){ 1, 0, 0, 0 }, 4);
	EXPECT_EQ(ret, OFFLOAD_CTRL_CLOSED);
	EXPECT_STR_EQ(f.c->end, "unexpected TLS record");
	unfeed(&f);
}
