/* SPDX-License-Identifier: MIT */
/* VM test peers around the real gateway: a plaintext echo upstream, a TLS
 * echo upstream (internal TLS), and a TLS client that moves N bytes each way
 * through the gateway and checks SHA-256, close_notify, a KeyUpdate, an
 * alert, and the gateway's close_notify when its drain timeout ends a conn. The client prints "RESULT <cell>/<check> ok|fail detail" lines. */
#include "ktls.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/tls.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define CHUNK 16384

struct opts {
	const char *cell, *mode;	/* mode: data | keyupdate | rekey | alert | drain */
	const char *cert, *key, *ca;
	int version;
	const char *cipher;		/* aes128gcm | aes256gcm | chacha20 */
	size_t bytes;
	int port;
};

static struct opts o = { .mode = "data", .version = TLS1_3_VERSION, .cipher = "aes128gcm",
			 .bytes = 1 << 20 };

static void result(const char *check, int ok, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	printf("RESULT %s/%s %s %s\n", o.cell, check, ok ? "ok" : "fail", text);
	fflush(stdout);
}

static void die(const char *what)
{
	fprintf(stderr, "gw_peer: %s: %s\n", what, strerror(errno));
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* ---- ciphers ---- */

static int set_cipher(SSL_CTX *ctx)
{
	static const struct {
		const char *name, *v12, *v13;
	} map[] = {
		{ "aes128gcm", "ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256" },
		{ "aes256gcm", "ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_AES_256_GCM_SHA384" },
		{ "chacha20", "ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_CHACHA20_POLY1305_SHA256" },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(map[i].name, o.cipher))
			continue;
		SSL_CTX_set_min_proto_version(ctx, o.version);
		SSL_CTX_set_max_proto_version(ctx, o.version);
		if (o.version == TLS1_2_VERSION)
			return SSL_CTX_set_cipher_list(ctx, map[i].v12) == 1 ? 0 : -1;
		return SSL_CTX_set_ciphersuites(ctx, map[i].v13) == 1 ? 0 : -1;
	}
	return -1;
}

/* ---- servers ---- */

static int listen_on(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
		die("bind/listen");
	return fd;
}

static void echo_plain(int fd)
{
	static char buf[65536];
	ssize_t n, w, off;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (off = 0; off < n; off += w)
			if ((w = write(fd, buf + off, (size_t)(n - off))) <= 0)
				_exit(1);
	shutdown(fd, SHUT_WR);
	_exit(0);
}

static void echo_tls(int fd, SSL_CTX *ctx)
{
	static char buf[CHUNK];
	SSL *ssl = SSL_new(ctx);
	int n;

	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1)
		_exit(1);
	while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0)
		if (SSL_write(ssl, buf, n) != n)
			_exit(1);
	SSL_shutdown(ssl);
	shutdown(fd, SHUT_WR);
	_exit(0);
}

static __attribute__((noreturn)) void serve(SSL_CTX *ctx)
{
	int lfd = listen_on(o.port), fd;

	signal(SIGCHLD, SIG_IGN);
	printf("listening %d\n", o.port);
	fflush(stdout);
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (fork() == 0) {
			close(lfd);
			if (ctx)
				echo_tls(fd, ctx);
			echo_plain(fd);
		}
		close(fd);
	}
}

static SSL_CTX *server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx || set_cipher(ctx) < 0 ||
	    SSL_CTX_use_certificate_chain_file(ctx, o.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o.key, SSL_FILETYPE_PEM) != 1)
		die("server ctx");
	return ctx;
}

/* ---- client ---- */

struct stream {
	uint64_t x;		/* xorshift state: the payload is reproducible */
	EVP_MD_CTX *md;
	size_t done;
};

static void stream_init(struct stream *s)
{
	s->x = 0x9e3779b97f4a7c15ull;
	s->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(s->md, EVP_sha256(), NULL);
	s->done = 0;
}

static void stream_fill(struct stream *s, unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		s->x ^= s->x << 13;
		s->x ^= s->x >> 7;
		s->x ^= s->x << 17;
		p[i] = (unsigned char)s->x;
	}
}

static void stream_hex(struct stream *s, char out[17])
{
	unsigned char d[32];
	int i;

	EVP_DigestFinal_ex(s->md, d, NULL);
	for (i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static SSL *client_connect(SSL_CTX **pctx)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	SSL *ssl;

	if (!ctx || set_cipher(ctx) < 0)
		die("client ctx");
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (o.ca && SSL_CTX_load_verify_locations(ctx, o.ca, NULL) == 1)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (o.cert && (SSL_CTX_use_certificate_chain_file(ctx, o.cert) != 1 ||
		       SSL_CTX_use_PrivateKey_file(ctx, o.key, SSL_FILETYPE_PEM) != 1))
		die("client certificate");
	if (!strcmp(o.mode, "alert") && ktls_ctx_prepare(ctx) < 0)
		die("ktls_ctx_prepare");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	*pctx = ctx;
	return ssl;
}

/* Sends @limit bytes of the stream (all when 0 = o.bytes) while reading the
 * echo, poll-driven. Returns 0 after the send side is done. */
struct xfer {
	struct stream tx, rx;
	unsigned char out[CHUNK], in[CHUNK];
	size_t out_len, out_off;
	int rd_end;		/* SSL_ERROR_* that ended reading, -1 while open */
};

static void pump_read(SSL *ssl, struct xfer *x)
{
	int n, err;

	while (x->rd_end < 0) {
		n = SSL_read(ssl, x->in, sizeof(x->in));
		if (n > 0) {
			EVP_DigestUpdate(x->rx.md, x->in, (size_t)n);
			x->rx.done += (size_t)n;
			continue;
		}
		err = SSL_get_error(ssl, n);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
			x->rd_end = err;
		return;
	}
}

static void pump_write(SSL *ssl, struct xfer *x, size_t limit)
{
	int n;

	while (x->tx.done < limit) {
		if (x->out_off == x->out_len) {
			x->out_len = limit - x->tx.done < CHUNK ? limit - x->tx.done : CHUNK;
			stream_fill(&x->tx, x->out, x->out_len);
			x->out_off = 0;
		}
		n = SSL_write(ssl, x->out + x->out_off, (int)(x->out_len - x->out_off));
		if (n <= 0)
			return;
		EVP_DigestUpdate(x->tx.md, x->out + x->out_off, (size_t)n);
		x->out_off += (size_t)n;
		x->tx.done += (size_t)n;
	}
}

/* Until @limit bytes went out and (if @want_rx) came back, or reading ends. */
static void run_xfer(SSL *ssl, struct xfer *x, size_t limit, size_t want_rx, int secs)
{
	struct pollfd p = { .fd = SSL_get_fd(ssl) };
	int idle = 0;

	while (x->rd_end < 0 && (x->tx.done < limit || x->rx.done < want_rx)) {
		pump_write(ssl, x, limit);
		pump_read(ssl, x);
		if (x->rd_end >= 0 || (x->tx.done >= limit && x->rx.done >= want_rx))
			break;
		p.events = POLLIN | (x->tx.done < limit ? POLLOUT : 0);
		if (poll(&p, 1, 1000) == 0 && ++idle >= secs)
			break;
	}
}

static void wait_end(SSL *ssl, struct xfer *x, int secs)
{
	run_xfer(ssl, x, x->tx.done, (size_t)-1, secs);
}

static const char *end_name(int e)
{
	return e == SSL_ERROR_ZERO_RETURN ? "close_notify"
	       : e == SSL_ERROR_SYSCALL	  ? "EOF/reset"
	       : e < 0			  ? "still open"
					  : "TLS error";
}

static int handshake(SSL *ssl)
{
	int fd = SSL_get_fd(ssl);

	if (SSL_connect(ssl) != 1) {
		result("handshake", 0, "SSL_connect failed");
		ERR_print_errors_fp(stderr);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

static void check_data(SSL *ssl, struct xfer *x)
{
	char h_tx[17], h_rx[17];

	stream_hex(&x->tx, h_tx);
	stream_hex(&x->rx, h_rx);
	result("data", x->tx.done == o.bytes && x->rx.done == o.bytes && !strcmp(h_tx, h_rx),
	       "sent=%zu sha256=%s echoed=%zu sha256=%s (%s %s)", x->tx.done, h_tx, x->rx.done,
	       h_rx, SSL_get_version(ssl), SSL_get_cipher_name(ssl));
}

static int client_data(SSL *ssl, struct xfer *x)
{
	run_xfer(ssl, x, o.bytes, o.bytes, 60);
	SSL_shutdown(ssl);	/* our close_notify: the gateway must half-close */
	wait_end(ssl, x, 20);
	check_data(ssl, x);
	result("close_notify", x->rd_end == SSL_ERROR_ZERO_RETURN,
	       "reading ended with %s after %zu bytes", end_name(x->rd_end), x->rx.done);
	return 0;
}

static int client_keyupdate(SSL *ssl, struct xfer *x)
{
	run_xfer(ssl, x, o.bytes, o.bytes, 30);
	if (SSL_key_update(ssl, SSL_KEY_UPDATE_NOT_REQUESTED) != 1)
		return result("keyupdate", 0, "SSL_key_update refused"), -1;
	run_xfer(ssl, x, o.bytes + 4096, 0, 5);	/* the KeyUpdate goes out with these */
	wait_end(ssl, x, 8);
	result("keyupdate", x->rd_end == SSL_ERROR_ZERO_RETURN && x->rx.done >= o.bytes,
	       "after KeyUpdate: %s, %zu of %zu bytes echoed before it", end_name(x->rd_end),
	       x->rx.done, o.bytes);
	return 0;
}

/* Echo, then stay open: the script SIGTERMs the gateway once READY is out,
 * and its drainTimeout must end the conn with a close_notify. */
static int client_drain(SSL *ssl, struct xfer *x)
{
	run_xfer(ssl, x, o.bytes, o.bytes, 30);
	check_data(ssl, x);
	printf("READY\n");
	fflush(stdout);
	wait_end(ssl, x, 30);
	result("drain", x->rd_end == SSL_ERROR_ZERO_RETURN,
	       "the gateway's drain ended reading with %s", end_name(x->rd_end));
	return 0;
}

/* KeyUpdates the gateway sent us (userspace records answer a request). */
static int ku_seen;

static void count_key_updates(int write_p, int version, int content_type, const void *buf,
			      size_t len, SSL *ssl, void *arg)
{
	(void)version;
	(void)ssl;
	(void)arg;
	if (!write_p && content_type == SSL3_RT_HANDSHAKE && len && *(const uint8_t *)buf == 24)
		ku_seen++;
}

/* A KeyUpdate (update_requested) halfway: the payload must keep flowing
 * both ways, the gateway must answer with its own KeyUpdate, and both
 * close_notify still work (the userspace record path; kTLS closes instead). */
static int client_rekey(SSL *ssl, struct xfer *x)
{
	SSL_set_msg_callback(ssl, count_key_updates);
	run_xfer(ssl, x, o.bytes / 2, o.bytes / 2, 30);
	if (SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) != 1)
		return result("rekey", 0, "SSL_key_update refused"), -1;
	run_xfer(ssl, x, o.bytes, o.bytes, 30);
	SSL_shutdown(ssl);
	wait_end(ssl, x, 20);
	check_data(ssl, x);
	result("rekey", ku_seen >= 1, "the gateway sent %d KeyUpdate(s) back", ku_seen);
	result("close_notify", x->rd_end == SSL_ERROR_ZERO_RETURN,
	       "reading ended with %s after %zu bytes", end_name(x->rd_end), x->rx.done);
	return 0;
}

/* Our own socket goes to kTLS so that we can send any alert record. */
static int client_alert(SSL *ssl, struct xfer *x)
{
	static const unsigned char alert[2] = { 2, 10 };	/* fatal unexpected_message */
	union {
		char buf[CMSG_SPACE(1)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)alert, .iov_len = 2 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	struct ktls_status st;
	char buf[256];
	ssize_t n;
	int fd = SSL_get_fd(ssl), i;

	run_xfer(ssl, x, o.bytes, o.bytes, 30);
	if (ktls_offload(ssl, fd, &st) < 0)
		return result("alert", 0, "client kTLS offload failed: %s", st.reason), -1;
	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_SET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(cm) = 21;
	if (sendmsg(fd, &msg, 0) != 2)
		return result("alert", 0, "sendmsg alert: %s", strerror(errno)), -1;
	for (i = 0; i < 100; i++) {	/* the gateway must close: EOF within 10 s */
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			break;
		usleep(100000);
	}
	result("alert", i < 100, "after our fatal alert the gateway %s",
	       i < 100 ? "closed the connection" : "kept it open");
	return 0;
}

static int client(void)
{
	SSL_CTX *ctx;
	SSL *ssl = client_connect(&ctx);
	struct ktls_track trk;
	struct xfer *x = calloc(1, sizeof(*x));

	if (!strcmp(o.mode, "alert") && ktls_track_attach(ssl, &trk) < 0)
		die("ktls_track_attach");
	if (handshake(ssl) < 0)
		return 1;
	stream_init(&x->tx);
	stream_init(&x->rx);
	x->rd_end = -1;
	if (!strcmp(o.mode, "keyupdate"))
		return client_keyupdate(ssl, x) < 0;
	if (!strcmp(o.mode, "alert"))
		return client_alert(ssl, x) < 0;
	if (!strcmp(o.mode, "drain"))
		return client_drain(ssl, x) < 0;
	if (!strcmp(o.mode, "rekey"))
		return client_rekey(ssl, x) < 0;
	return client_data(ssl, x) < 0;
}

int main(int argc, char **argv)
{
	const char *role = argc > 1 ? argv[1] : "";
	int i;

	for (i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			o.port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--cell"))
			o.cell = argv[i + 1];
		else if (!strcmp(argv[i], "--mode"))
			o.mode = argv[i + 1];
		else if (!strcmp(argv[i], "--tls"))
			o.version = !strcmp(argv[i + 1], "1.2") ? TLS1_2_VERSION : TLS1_3_VERSION;
		else if (!strcmp(argv[i], "--cipher"))
			o.cipher = argv[i + 1];
		else if (!strcmp(argv[i], "--bytes"))
			o.bytes = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--cert"))
			o.cert = argv[i + 1];
		else if (!strcmp(argv[i], "--key"))
			o.key = argv[i + 1];
		else if (!strcmp(argv[i], "--ca"))
			o.ca = argv[i + 1];
	}
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(role, "echo"))
		serve(NULL);
	if (!strcmp(role, "tls-echo"))
		serve(server_ctx());
	if (!strcmp(role, "client") && o.cell)
		return client();
	fprintf(stderr, "usage: vm_gw_peer echo|tls-echo|client --port P [--cell C --tls 1.2|1.3 "
			"--cipher aes128gcm|aes256gcm|chacha20 --bytes N --mode data|keyupdate|rekey|alert|drain "
			"--cert F --key F --ca F]\n");
	return 2;
}
