/* SPDX-License-Identifier: MIT */
/* Control records of an offloaded kTLS socket: read one record with its type
 * (TLS_GET_RECORD_TYPE), classify what it means for the relay, and send a
 * close_notify through kTLS TX. Split from ktls.c, which keeps the keys. */
#include "ktls.h"

#include <errno.h>
#include <string.h>
#include <linux/tls.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define TLS_HS_NEW_SESSION_TICKET 4
#define TLS_HS_KEY_UPDATE 24
#define TLS1_3_VERSION 0x0304

ssize_t ktls_recv_record(int fd, uint8_t *type, void *buf, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint8_t))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm;
	ssize_t n;

	n = ktls_recvmsg(fd, &msg, 0);
	if (n < 0)
		return -errno;
	*type = KTLS_REC_DATA;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_TLS && cm->cmsg_type == TLS_GET_RECORD_TYPE)
			*type = *CMSG_DATA(cm);
	return n;
}

/* TLS 1.3 post-handshake messages: all tickets -> consume; any KeyUpdate wins. */
static int classify_handshake(const uint8_t *buf, size_t len)
{
	int res = KTLS_CTRL_UNEXPECTED;
	size_t off = 0, mlen;

	while (off + 4 <= len) {
		mlen = (size_t)buf[off + 1] << 16 | (size_t)buf[off + 2] << 8 | buf[off + 3];
		if (buf[off] == TLS_HS_KEY_UPDATE)
			return KTLS_CTRL_KEY_UPDATE;
		if (buf[off] != TLS_HS_NEW_SESSION_TICKET)
			return KTLS_CTRL_UNEXPECTED;
		res = KTLS_CTRL_SESSION_TICKET;
		off += 4 + mlen;
	}
	return off == len ? res : KTLS_CTRL_UNEXPECTED;
}

int ktls_ctrl_classify(int version, uint8_t type, const uint8_t *buf, size_t len)
{
	if (type == KTLS_REC_ALERT)
		return len == 2 && buf[1] == 0 ? KTLS_CTRL_CLOSE_NOTIFY : KTLS_CTRL_ALERT;
	if (type == KTLS_REC_HANDSHAKE && version == TLS1_3_VERSION)
		return classify_handshake(buf, len);
	return KTLS_CTRL_UNEXPECTED;
}

int ktls_send_close_notify(int fd)
{
	static const uint8_t alert[2] = { 1, 0 };	/* warning, close_notify */
	union {
		char buf[CMSG_SPACE(sizeof(uint8_t))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)alert, .iov_len = sizeof(alert) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_SET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(sizeof(uint8_t));
	*CMSG_DATA(cm) = KTLS_REC_ALERT;
	if (ktls_sendmsg(fd, &msg, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}
