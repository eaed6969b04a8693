/* SPDX-License-Identifier: MIT */
/* The loaded connection-metrics BPF program and the cgroup v2 it watches,
 * or the "disabled" state (gateway.bpf: off, or auto without support). */
#ifndef KTLSGW_EBPF_T_H
#define KTLSGW_EBPF_T_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

struct conn_stats_bpf;

#define EBPF_REASON_MAX 256

struct ebpf {
	bool enabled;			/* programs attached; tags are counted */
	char reason[EBPF_REASON_MAX];	/* why disabled; "" when enabled */
	struct conn_stats_bpf *skel;	/* owned; NULL when disabled */
	int stats_fd;			/* borrowed: skel's cs_stats map */
	void *percpu;			/* owned: one cs_stats value per possible CPU */
	unsigned int n_cpus;
	char cg_path[PATH_MAX];		/* cgroup the programs are attached to */
	char orig_path[PATH_MAX];	/* cgroup the process came from */
	bool cg_created;		/* we made cg_path: rmdir it on close */
	bool moved;			/* we moved the process: move it back */
};

#endif
