/* SPDX-License-Identifier: MIT */
/* The loaded, validated configuration. Immutable once built: a reload builds
 * a new struct config and swaps the pointer. Paths are absolute (resolved
 * against the config file's directory). */
#ifndef KTLSGW_CONFIG_T_H
#define KTLSGW_CONFIG_T_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define CFG_NAME_MAX 64
#define CFG_ADDR_TEXT_MAX 64	/* "[v6]:port" fits */
#define CFG_ALPN_MAX 8		/* protocols per listener */
#define CFG_ALPN_PROTO_MAX 32
#define CFG_LISTENERS_MAX 64

enum tls_mode {
	TLS_MODE_PLAIN = 0,	/* Milvus tlsMode 0 */
	TLS_MODE_ONEWAY,	/* 1: server certificate only */
	TLS_MODE_MUTUAL,	/* 2: client certificate required */
	TLS_MODE__COUNT
};

enum feature_mode {
	FEAT_AUTO = 0,		/* use when possible, log once why not */
	FEAT_ON,		/* refuse to start without it */
	FEAT_OFF,
	FEAT__COUNT
};

/* Where a value came from, for file:line:col messages. */
struct cfg_pos {
	int line, col;		/* 1-based; 0 = built-in default */
};

struct endpoint {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char text[CFG_ADDR_TEXT_MAX];	/* normalised "ip:port" / "[v6]:port" */
	char name[CFG_ADDR_TEXT_MAX];	/* the host name it was resolved from, "" when numeric */
	struct cfg_pos pos;
};

/* One ALPN protocol a listener offers, and where its streams go. */
struct alpn_route {
	char proto[CFG_ALPN_PROTO_MAX];
	bool has_upstream;		/* false: use the listener's upstream */
	struct endpoint upstream;
};

struct listener_cfg {
	char name[CFG_NAME_MAX];
	struct endpoint bind;
	struct endpoint upstream;
	enum tls_mode tls_mode;		/* per-listener or common.security.tlsMode */
	int min_version;		/* TLS1_2_VERSION / TLS1_3_VERSION values */
	bool internal_tls;		/* upstream leg is TLS */
	unsigned int n_alpn;
	struct alpn_route alpn[CFG_ALPN_MAX];	/* server preference order */
	unsigned int max_conns;		/* 0 = only the global limit */
	struct cfg_pos pos;
};

struct tls_files {
	char *server_pem;	/* owned; NULL when unset */
	char *server_key;	/* owned */
	char *ca_pem;		/* owned */
	char *crl_pem;		/* owned; gateway extension (tls.crlPemPath) */
	struct cfg_pos server_pem_pos, server_key_pos, ca_pem_pos, crl_pem_pos;
};

struct config {
	char *path;			/* owned: the file loaded */
	char *dir;			/* owned: its directory */

	unsigned int n_listeners;
	struct listener_cfg *listeners;	/* owned, n_listeners entries */

	bool has_metrics;
	struct endpoint metrics;	/* gateway.metrics */
	enum feature_mode ktls;		/* gateway.ktls */
	enum feature_mode bpf;		/* gateway.bpf */
	unsigned int workers;		/* 0 = one per online core */
	unsigned int handshake_timeout_ms;
	unsigned int connect_timeout_ms;
	unsigned int idle_timeout_ms;
	unsigned int drain_timeout_ms;
	unsigned int ticket_rotation_ms;	/* gateway.ticketRotation */
	unsigned int session_tickets;	/* gateway.sessionTickets: TLS 1.3 tickets per handshake */
	unsigned int reload_debounce_ms;	/* gateway.reloadDebounce */
	unsigned int max_conns;		/* global */
	int log_level;			/* enum log_level */
	bool access_log;
	char *user;			/* owned; NULL = stay as started */
	bool allow_insecure_key_perms;

	/* Milvus keys */
	enum tls_mode tls_mode;		/* common.security.tlsMode */
	bool internaltls_enabled;	/* common.security.internaltlsEnabled */
	int min_version;		/* tls.minVersion, 0 = per-mode default */
	unsigned int proxy_port;	/* proxy.port (gRPC), default 19530 */
	unsigned int proxy_http_port;	/* proxy.http.port (REST), default 8080 */
	struct tls_files tls;		/* tls.* */
	struct tls_files internaltls;	/* internaltls.* */
	char *internaltls_sni;		/* owned; internaltls.sni */
};

#endif
