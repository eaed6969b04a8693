/* SPDX-License-Identifier: MIT */
/* Observability: eBPF + counters + endpoint lifetime. Started before the
 * workers (BPF must see the process in its cgroup before any socket exists),
 * stopped after them (the endpoint reads the shards the workers write). */
#include "observe.h"

#include <errno.h>

#include "config.h"
#include "ebpf.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"

int observe_start(const struct config *cfg, unsigned int n_workers, struct observe *o)
{
	int ret;

	memset(o, 0, sizeof(*o));
	o->n_workers = n_workers;
	ret = ebpf_open(cfg->bpf, NULL, &o->e);
	if (ret < 0)
		return ret;	/* gateway.bpf: on; ebpf_open logged why */
	o->m = metrics_new(n_workers);
	if (!o->m) {
		ret = -ENOMEM;
		log_error("metrics: out of memory");
		goto out_ebpf;
	}
	return 0;

out_ebpf:
	ebpf_close(o->e);
	o->e = NULL;
	return ret;
}

int observe_serve(const struct config *cfg, struct observe *o)
{
	int ret;

	if (!cfg->has_metrics)
		return 0;
	ret = httpd_start(&cfg->metrics, o->m, o->e, cfg->listeners, cfg->n_listeners, &o->h);
	if (ret < 0)
		return ret;
	log_info("metrics: serving http://%s/metrics", httpd_addr(o->h));
	return 0;
}

struct metrics_counters *observe_main_shard(const struct observe *o)
{
	return metrics_shard(o->m, o->n_workers);
}

void observe_stop(struct observe *o)
{
	httpd_stop(o->h);
	o->h = NULL;
	ebpf_close(o->e);
	o->e = NULL;
	metrics_free(o->m);
	o->m = NULL;
}
