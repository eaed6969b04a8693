/* SPDX-License-Identifier: MIT */
/* Reload triggers: tells when a certificate, key, CA or CRL file has
 * changed, debounced. Sees in-place writes, `mv new server.pem` and
 * Kubernetes Secret `..data` symlink swaps. No thread: the event loop polls
 * watch_fd() and calls watch_read() when it is readable. */
#ifndef KTLSGW_WATCH_H
#define KTLSGW_WATCH_H

#include "common.h"
#include "config-t.h"
#include "watch-t.h"

/* An empty watcher whose reload fires @debounce_ms after the last event.
 * Returns it (owned by the caller, watch_free) or NULL after logging. */
struct watch *watch_new(unsigned int debounce_ms);

void watch_free(struct watch *w);

/* Watches absolute @path (it may be missing or a symlink) through its
 * directory and its target's. 0 (also when already watched), -ENOSPC past
 * WATCH_FILES_MAX, or -errno when the directory cannot be watched. */
__must_check int watch_add(struct watch *w, const char *path);

/* Watches every certificate file @c names: tls.serverPemPath, serverKeyPath,
 * caPemPath, crlPemPath and the internaltls ones. 0 or the first error
 * (logged with the file's name). */
__must_check int watch_add_config(struct watch *w, const struct config *c);

/* The fd to poll for POLLIN (an epoll fd). Borrowed: watch_free closes it. */
int watch_fd(const struct watch *w);

/* Consumes what is pending, without blocking. 1: files changed and the
 * debounce has passed, reload now (watch_changed() names one file); 0:
 * nothing to do yet; -errno on a read error. */
__must_check int watch_read(struct watch *w);

/* The file whose change the last watch_read() == 1 reported. */
const char *watch_changed(const struct watch *w);

#endif
