/* SPDX-License-Identifier: MIT */
/* VM test: a TLS server and client on 127.0.0.1. After a userspace handshake
 * one side ("K") hands both directions to the kernel with ktls_offload(); the
 * other ("U") stays in OpenSSL. Prints "RESULT <cell>/<check> ok|fail detail"
 * lines; the host harness (tests/vm/run.sh) turns them into PASS/FAIL. */
#include "ktls.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define CHUNK (64 * 1024)
#define STATS 5

struct opts {
	const char *cell;	/* marker prefix, e.g. tls13-aes128gcm */
	const char *cipher;	/* aes128gcm | aes256gcm | chacha20 */
	int version;		/* TLS1_2_VERSION | TLS1_3_VERSION */
	const char *mode;	/* data | keyupdate */
	size_t bytes;		/* each way */
	bool splice;		/* K moves payload through a pipe */
	bool k_client;		/* the client is the offloaded side */
	bool probe;		/* only run ktls_probe() */
};

struct side {
	SSL *ssl;		/* owned */
	int fd;			/* owned */
	bool ktls;		/* both directions offloaded */
	int pipe[2];		/* owned, splice mode only */
	int tickets;		/* NewSessionTickets consumed from the kernel */
	int last_ctrl;		/* enum ktls_ctrl of the record that stopped a read */
	int read_errno;		/* EIO (recv) or EINVAL (splice) before that record */
	struct ktls_track trk;
	struct ktls_status st;
};

static const char *const stat_names[STATS] = {
	"TlsCurrTxSw", "TlsCurrRxSw", "TlsTxSw", "TlsRxSw", "TlsDecryptError",
};

static struct opts o = { .bytes = 16 << 20, .version = TLS1_3_VERSION, .mode = "data" };

static void result(const char *check, bool ok, const char *fmt, ...) __printf(3, 4);
static void result(const char *check, bool ok, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	printf("RESULT %s/%s %s %s\n", o.cell, check, ok ? "ok" : "fail", detail);
	fflush(stdout);
}

/* /proc/net/tls_stat counters we assert on; -1 when the file is missing. */
static void read_stats(long v[STATS])
{
	char name[64];
	long val;
	FILE *f = fopen("/proc/net/tls_stat", "re");
	int i;

	for (i = 0; i < STATS; i++)
		v[i] = -1;
	while (f && fscanf(f, "%63s %ld", name, &val) == 2)
		for (i = 0; i < STATS; i++)
			if (!strcmp(name, stat_names[i]))
				v[i] = val;
	if (f)
		fclose(f);
}

/* ---- TLS setup ---- */

static void make_cert(SSL_CTX *ctx)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, pk);
	if (!X509_sign(x, pk, EVP_sha256()) || SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, pk) != 1) {
		ERR_print_errors_fp(stderr);
		exit(2);
	}
	X509_free(x);
	EVP_PKEY_free(pk);
}

static bool cipher_names(const char **tls12, const char **tls13)
{
	static const char *const tab[][3] = {
		{ "aes128gcm", "ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256" },
		{ "aes256gcm", "ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_AES_256_GCM_SHA384" },
		{ "chacha20", "ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_CHACHA20_POLY1305_SHA256" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tab); i++) {
		if (!strcmp(o.cipher, tab[i][0])) {
			*tls12 = tab[i][1];
			*tls13 = tab[i][2];
			return true;
		}
	}
	return false;
}

static SSL_CTX *make_ctx(bool server, bool k)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	const char *c12 = NULL, *c13 = NULL;

	if (!ctx || !cipher_names(&c12, &c13))
		exit(2);
	SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_KTLS);	/* U must stay userspace (K: ktls does it) */
	SSL_CTX_set_min_proto_version(ctx, o.version);
	SSL_CTX_set_max_proto_version(ctx, o.version);
	if (SSL_CTX_set_cipher_list(ctx, c12) != 1 || SSL_CTX_set_ciphersuites(ctx, c13) != 1)
		exit(2);
	if (server)
		make_cert(ctx);
	if (k && ktls_ctx_prepare(ctx) < 0)
		exit(2);
	return ctx;
}

/* ---- payload I/O for either side ---- */

/* Reads from an offloaded socket; a control record stops it: tickets are
 * consumed, anything else returns -EPROTO with s->last_ctrl set. */
static ssize_t k_read(struct side *s, uint8_t *buf, size_t len)
{
	static uint8_t rec[17 * 1024];
	uint8_t type;
	ssize_t n;

	for (;;) {
		n = o.splice ? splice(s->fd, NULL, s->pipe[1], NULL, len, 0)
			     : recv(s->fd, buf, len, 0);
		if (n > 0 && o.splice)
			return read(s->pipe[0], buf, (size_t)n) == n ? n : -EIO;
		if (n >= 0)
			return n;
		if (errno != EIO && errno != EINVAL)
			return -errno;
		s->read_errno = errno;
		n = ktls_recv_record(s->fd, &type, rec, sizeof(rec));
		if (n < 0)
			return n;
		s->last_ctrl = ktls_ctrl_classify(s->st.version, type, rec, (size_t)n);
		if (s->last_ctrl != KTLS_CTRL_SESSION_TICKET)
			return -EPROTO;
		s->tickets++;
	}
}

static ssize_t k_write(struct side *s, const uint8_t *buf, size_t len)
{
	ssize_t n, moved = 0;

	if (o.splice && write(s->pipe[1], buf, len) != (ssize_t)len)
		return -EIO;
	while ((size_t)moved < len) {
		n = o.splice ? splice(s->pipe[0], NULL, s->fd, NULL, len - (size_t)moved, 0)
			     : send(s->fd, buf + moved, len - (size_t)moved, MSG_NOSIGNAL);
		if (n <= 0)
			return -errno;
		moved += n;
	}
	return moved;
}

static ssize_t side_read(struct side *s, uint8_t *buf, size_t len)
{
	int n;

	if (s->ktls)
		return k_read(s, buf, len);
	n = SSL_read(s->ssl, buf, (int)len);
	if (n > 0)
		return n;
	return SSL_get_error(s->ssl, n) == SSL_ERROR_ZERO_RETURN ? 0 : -EPROTO;
}

static ssize_t side_write(struct side *s, const uint8_t *buf, size_t len)
{
	if (s->ktls)
		return k_write(s, buf, len);
	return SSL_write(s->ssl, buf, (int)len) == (int)len ? (ssize_t)len : -EPROTO;
}

/* ---- deterministic streams, checked by SHA-256 on the receiving side ---- */

static void fill(uint64_t *state, uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		*state ^= *state << 13;
		*state ^= *state >> 7;
		*state ^= *state << 17;
		buf[i] = (uint8_t)(*state >> 24);
	}
}

static int send_stream(struct side *s, uint64_t seed, size_t total)
{
	static uint8_t buf[CHUNK];
	size_t n;

	while (total) {
		n = total < CHUNK ? total : CHUNK;
		fill(&seed, buf, n);
		if (side_write(s, buf, n) != (ssize_t)n)
			return -EIO;
		total -= n;
	}
	return 0;
}

/* Receives @total bytes; true when their SHA-256 equals the generator's. */
static bool recv_stream(struct side *s, uint64_t seed, size_t total, char *why, size_t wlen)
{
	static uint8_t buf[CHUNK], ref[CHUNK];
	uint8_t d1[32], d2[32];
	EVP_MD_CTX *got = EVP_MD_CTX_new(), *want = EVP_MD_CTX_new();
	size_t left = total;
	ssize_t n = 0;

	EVP_DigestInit_ex(got, EVP_sha256(), NULL);
	EVP_DigestInit_ex(want, EVP_sha256(), NULL);
	while (left && (n = side_read(s, buf, left < CHUNK ? left : CHUNK)) > 0) {
		EVP_DigestUpdate(got, buf, (size_t)n);
		fill(&seed, ref, (size_t)n);
		EVP_DigestUpdate(want, ref, (size_t)n);
		left -= (size_t)n;
	}
	EVP_DigestFinal_ex(got, d1, NULL);
	EVP_DigestFinal_ex(want, d2, NULL);
	EVP_MD_CTX_free(got);
	EVP_MD_CTX_free(want);
	snprintf(why, wlen, "%zu/%zu bytes, last read %zd, sha256 %s", total - left, total, n,
		 memcmp(d1, d2, 32) ? "differs" : "equal");
	return !left && !memcmp(d1, d2, 32);
}

/* ---- the two roles ---- */

static void offload(struct side *s)
{
	long before[STATS], after[STATS];
	int ret;

	read_stats(before);
	ret = ktls_offload(s->ssl, s->fd, &s->st);
	read_stats(after);
	s->ktls = ret == 0;
	result("offload", ret == 0 && after[2] - before[2] == 1 && after[3] - before[3] == 1 &&
				  after[0] - before[0] == 1 && after[1] - before[1] == 1,
	       "ret=%d tx=%d rx=%d txseq=%llu rxseq=%llu cipher=%s why=\"%s\" "
	       "TlsTxSw%+ld TlsRxSw%+ld TlsCurrTxSw%+ld TlsCurrRxSw%+ld (before %ld)",
	       ret, s->st.tx, s->st.rx, (unsigned long long)s->st.tx_seq,
	       (unsigned long long)s->st.rx_seq, ktls_cipher_name(s->st.cipher), s->st.reason,
	       after[2] - before[2], after[3] - before[3], after[0] - before[0],
	       after[1] - before[1], before[2]);
	if (!s->ktls || !o.splice)
		return;
	if (pipe(s->pipe) < 0 || fcntl(s->pipe[0], F_SETPIPE_SZ, CHUNK) < 0)
		exit(2);
}

/* The side that expects the peer's close_notify as its next record. */
static void expect_close(struct side *s, const char *check)
{
	uint8_t b[16];
	ssize_t n = side_read(s, b, sizeof(b));

	if (s->ktls)
		result(check, n == -EPROTO && s->last_ctrl == KTLS_CTRL_CLOSE_NOTIFY,
		       "path=ktls read=%zd errno=%s record=%s", n, strerror(s->read_errno),
		       ktls_ctrl_str(s->last_ctrl));
	else
		result(check, n == 0, "path=userspace read=%zd", n);
}

static void send_close(struct side *s)
{
	int ret = s->ktls ? ktls_send_close_notify(s->fd) : SSL_shutdown(s->ssl) >= 0 ? 0 : -1;

	if (ret < 0)
		result("close_notify_send", false, "ret=%d", ret);
}

static void run_k(struct side *s)
{
	long before[STATS], after[STATS];
	char why[160];

	read_stats(before);
	offload(s);
	if (!strcmp(o.mode, "keyupdate")) {
		uint8_t b[16];
		ssize_t n;

		result("up", recv_stream(s, 1, o.bytes, why, sizeof(why)), "%s", why);
		n = side_read(s, b, sizeof(b));
		result("keyupdate", s->ktls && n == -EPROTO && s->last_ctrl == KTLS_CTRL_KEY_UPDATE,
		       "read=%zd errno=%s record=%s: kernel cannot rekey RX, closing", n,
		       strerror(s->read_errno), ktls_ctrl_str(s->last_ctrl));
		send_close(s);
		return;
	}
	result("up", recv_stream(s, 1, o.bytes, why, sizeof(why)), "%s", why);
	if (send_stream(s, 2, o.bytes) < 0)
		result("down_send", false, "write failed: %s", strerror(errno));
	/* TLS 1.3 servers send 2 tickets after the handshake, under the new keys */
	if (o.k_client)
		result("tickets", s->tickets == (o.version == TLS1_3_VERSION ? 2 : 0),
		       "NewSessionTickets consumed from kTLS RX: %d", s->tickets);
	send_close(s);
	expect_close(s, "close_notify_rx");
	close(s->fd);
	s->fd = -1;
	read_stats(after);
	result("stat",
	       after[4] >= 0 && after[4] == before[4] && after[0] == before[0] &&
		       after[1] == before[1],
	       "TlsDecryptError%+ld TlsCurrTxSw%+ld TlsCurrRxSw%+ld after close",
	       after[4] - before[4], after[0] - before[0], after[1] - before[1]);
}

static void run_u(struct side *s)
{
	char why[160];
	uint8_t one = 'z';

	if (send_stream(s, 1, o.bytes) < 0)
		result("up_send", false, "SSL_write failed");
	if (!strcmp(o.mode, "keyupdate")) {
		if (SSL_key_update(s->ssl, SSL_KEY_UPDATE_NOT_REQUESTED) != 1 ||
		    side_write(s, &one, 1) != 1)
			result("keyupdate_send", false, "SSL_key_update failed");
		expect_close(s, "keyupdate_close");
		return;
	}
	result("down", recv_stream(s, 2, o.bytes, why, sizeof(why)), "%s", why);
	expect_close(s, "close_notify_tx");
	send_close(s);
}

static void handshake(struct side *s, SSL_CTX *ctx, bool server, bool k)
{
	struct timeval tv = { .tv_sec = 30 };

	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	s->ssl = SSL_new(ctx);
	SSL_set_fd(s->ssl, s->fd);
	if (k && ktls_track_attach(s->ssl, &s->trk) < 0)
		exit(2);
	if ((server ? SSL_accept(s->ssl) : SSL_connect(s->ssl)) != 1) {
		result(server ? "handshake_server" : "handshake_client", false, "failed");
		ERR_print_errors_fp(stderr);
		exit(1);
	}
}

/* One process per side; @fd is connected. */
static void run_side(int fd, bool server)
{
	bool k = server != o.k_client;
	struct side s = { .fd = fd, .pipe = { -1, -1 }, .last_ctrl = -1 };
	SSL_CTX *ctx = make_ctx(server, k);

	handshake(&s, ctx, server, k);
	if (k)
		run_k(&s);
	else
		run_u(&s);
	if (s.fd >= 0)
		close(s.fd);
	ktls_track_wipe(&s.trk);
	SSL_free(s.ssl);
	SSL_CTX_free(ctx);
}

static int listen_any(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa->sin_port = 0;
	if (fd < 0 || bind(fd, (struct sockaddr *)sa, len) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)sa, &len) < 0) {
		perror("listen");
		exit(2);
	}
	return fd;
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cell", 1, NULL, 'n' }, { "cipher", 1, NULL, 'c' }, { "tls", 1, NULL, 't' },
		{ "mode", 1, NULL, 'm' }, { "bytes", 1, NULL, 'b' }, { "splice", 0, NULL, 's' },
		{ "ktls-client", 0, NULL, 'k' }, { "probe", 0, NULL, 'p' }, { NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n': o.cell = optarg; break;
		case 'c': o.cipher = optarg; break;
		case 't':
			o.version = !strcmp(optarg, "1.2") ? TLS1_2_VERSION : TLS1_3_VERSION;
			break;
		case 'm': o.mode = optarg; break;
		case 'b': o.bytes = strtoull(optarg, NULL, 0); break;
		case 's': o.splice = true; break;
		case 'k': o.k_client = true; break;
		case 'p': o.probe = true; break;
		default: exit(2);
		}
	}
	if (o.probe && !o.cell)
		o.cell = "probe";
	if (!o.cell || (!o.cipher && !o.probe)) {
		fprintf(stderr, "usage: vm_ktls_pair --cell NAME --cipher aes128gcm|aes256gcm|"
				"chacha20 [--tls 1.2|1.3] [--mode data|keyupdate] [--bytes N] "
				"[--splice] [--ktls-client]\n");
		exit(2);
	}
}

/* ktls_probe() must find the ULP and every cipher both ways. */
static int probe(void)
{
	struct ktls_caps caps;
	unsigned int all = (1u << KTLS_CIPHER__COUNT) - 1;
	int ret = ktls_probe(&caps);

	result("caps", ret == 0 && caps.tx_ciphers == all && caps.rx_ciphers == all,
	       "ret=%d ulp=%d tx=%#x rx=%#x reason=\"%s\"", ret, caps.ulp, caps.tx_ciphers,
	       caps.rx_ciphers, caps.reason);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	int lfd, fd, status = 0;
	pid_t pid;

	parse(argc, argv);
	if (o.probe)
		return probe();
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_any(&sa);
	pid = fork();
	if (pid == 0) {
		close(lfd);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(2);
		run_side(fd, false);
		_exit(0);
	}
	fd = accept(lfd, NULL, NULL);
	close(lfd);
	if (fd >= 0)
		run_side(fd, true);
	waitpid(pid, &status, 0);
	return fd < 0 || !WIFEXITED(status) || WEXITSTATUS(status) ? 1 : 0;
}
