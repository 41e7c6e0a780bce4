/* ts_dit_groups.cu: the engine's NCCL communicators, one set per GPU
 * group, made on first use by ncclCommInitAll and cached; aborting them
 * makes blocked collectives return. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_dit_engine_internal.cuh"

/* The communicators of a GPU group, created on first use. The lock is not
 * held during ncclCommInitAll, so steps of other groups start meanwhile; the
 * same mask is never looked up twice at once (the backend runs one launch
 * per GPU), and a slot is published only once its communicators exist. */
int ts_group_get(struct ts_dit_engine *e, uint64_t mask, struct ts_dit_group **out,
			struct ts_error *err)
{
	struct ts_dit_group fresh;
	int devs[TS_MAX_GPUS], k = 0;
	pthread_mutex_lock(&e->lock);
	for (int i = 0; i < e->ngroups; i++) {
		if (e->group[i].mask == mask && !e->group[i].dead) {
			*out = &e->group[i];
			pthread_mutex_unlock(&e->lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&e->lock);
	memset(&fresh, 0, sizeof(fresh));
	for (int d = 0; d < e->ngpus; d++)
		if (mask >> d & 1)
			devs[k++] = d;
	ncclResult_t nr = ncclCommInitAll(fresh.comm, k, devs);
	if (nr != ncclSuccess)
		return ts_err_set(err, TS_EDEVICE, "%s:%d: ncclCommInitAll(%d GPUs, mask 0x%llx): %s",
				  __FILE__, __LINE__, k, (unsigned long long)mask, ncclGetErrorString(nr));
	fresh.mask = mask;
	pthread_mutex_lock(&e->lock);
	if (e->ngroups == TS_MAX_GROUPS) {
		pthread_mutex_unlock(&e->lock);
		for (int r = 0; r < k; r++)
			ncclCommDestroy(fresh.comm[r]);
		return ts_err_set(err, TS_ERANGE, "engine: more than %d distinct GPU groups", TS_MAX_GROUPS);
	}
	e->group[e->ngroups] = fresh;
	*out = &e->group[e->ngroups++];
	pthread_mutex_unlock(&e->lock);
	return 0;
}

/* Aborts the communicators of g (ncclCommAbort makes ranks blocked in its
 * collectives return) and retires it, its graphs destroyed first. */
void ts_group_abort(struct ts_dit_engine *e, struct ts_dit_group *g)
{
	pthread_mutex_lock(&e->lock);
	bool was_dead = g->dead;
	g->dead = true;
	if (!was_dead)
		ts_graphs_seal_group(e, (int)(g - e->group));
	pthread_mutex_unlock(&e->lock);
	for (int r = 0; !was_dead && r < ts_gpus_count(g->mask); r++)
		ncclCommAbort(g->comm[r]);
}

extern "C" int ts_dit_engine_warm_group(struct ts_dit_engine *e, uint64_t gpus, struct ts_error *err)
{
	struct ts_dit_group *g;
	uint64_t all = ts_gpus_all(e->ngpus);
	if (!gpus || (gpus & ~all))
		return ts_err_set(err, TS_EINVAL, "engine: GPU set 0x%llx outside GPUs 0..%d",
				  (unsigned long long)gpus, e->ngpus - 1);
	if (ts_gpus_count(gpus) < 2)
		return 0;
	return ts_group_get(e, gpus, &g, err);
}

extern "C" void ts_dit_engine_abort(struct ts_dit_engine *e)
{
	pthread_mutex_lock(&e->lock);
	int n = e->ngroups;
	pthread_mutex_unlock(&e->lock);
	for (int i = 0; i < n; i++)
		ts_group_abort(e, &e->group[i]);
}
