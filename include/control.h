/* SPDX-License-Identifier: MIT */
/* The main thread of `ktlsgw run` once the workers run: waits on a signalfd
 * and the certificate watcher; SIGHUP and file changes reload, SIGTERM and
 * SIGINT drain. Also the privilege drop before the workers start. */
#ifndef KTLSGW_CONTROL_H
#define KTLSGW_CONTROL_H

#include "common.h"
#include "config-t.h"
#include "worker-t.h"

/* Switches to cfg->user when set (keeping no capability), then hardens
 * (no core dumps, no_new_privs). Call with one thread only. 0 or -errno
 * (logged): the start must stop. */
__must_check int control_drop_privileges(const struct config *cfg);

/* Serves reloads until SIGTERM/SIGINT, then drains @gw (borrowed) and
 * returns 0 once every worker has left its loop, or earlier on a second
 * signal or when workers are still busy well after drainTimeout (the
 * caller's gateway_stop() then cuts what is left); 1 without a signalfd. SIGTERM, SIGINT and SIGHUP must be blocked in every
 * thread. @mx (may be NULL) counts reloads. */
int control_run(struct gateway *gw, const struct config *cfg, struct metrics_counters *mx);

#endif
