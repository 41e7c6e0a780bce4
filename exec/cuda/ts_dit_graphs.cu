/* ts_dit_graphs.cu: the engine's cache of captured steps: each step key
 * (GPU set, shape, batch) seen twice is captured once per GPU into a CUDA graph and
 * replayed after (ts_dit.h: ts_dit_engine_set_graphs). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_dit_engine_internal.cuh"

/* ---- CUDA graph cache --------------------------------------------------------- */

/* Destroys the graphs of entry g on every GPU of its mask; with `seal` its
 * ranks may never launch again (their group is being aborted). A graph
 * still running is freed by CUDA when it completes. */
void ts_graph_drop_execs(struct ts_dit_engine *e, struct ts_dit_graph *g, bool seal)
{
	int rank = 0;
	for (int d = 0; d < e->ngpus; d++) {
		if (!(g->mask >> d & 1))
			continue;
		pthread_mutex_lock(&e->gpu[d].glock);
		if (g->exec[rank])
			cudaGraphExecDestroy(g->exec[rank]);
		g->exec[rank] = NULL;
		g->sealed[rank] = g->sealed[rank] || seal;
		pthread_mutex_unlock(&e->gpu[d].glock);
		rank++;
	}
}

/* Before GPU dev's workspace moves: drops the graphs of every key that runs
 * on dev; a key captured before is captured again at its next step. */
void ts_graphs_drop_gpu(struct ts_dit_engine *e, int dev)
{
	pthread_mutex_lock(&e->lock);
	for (int i = 0; i < TS_MAX_GRAPHS; i++) {
		struct ts_dit_graph *g = &e->graph[i];
		if (!g->used || !(g->mask >> dev & 1))
			continue;
		ts_graph_drop_execs(e, g, false);
		if (g->state == TS_G_READY)
			g->state = TS_G_SEEN;
	}
	pthread_mutex_unlock(&e->lock);
}

/* Drops and seals the graphs of group slot `slot` (engine lock held):
 * aborting or destroying a communicator waits until no graph holds it. */
void ts_graphs_seal_group(struct ts_dit_engine *e, int slot)
{
	for (int i = 0; i < TS_MAX_GRAPHS; i++)
		if (e->graph[i].used && e->graph[i].group == slot)
			ts_graph_drop_execs(e, &e->graph[i], true);
}

static bool ts_graph_is(const struct ts_dit_graph *g, uint64_t mask, int slot, int height,
			int width, int batch)
{
	return g->used && g->mask == mask && g->group == slot && g->height == height &&
	       g->width == width && g->batch == batch;
}

/* Whether slot a is a better place for a new key than b: free before used,
 * then least recently used; busy slots are never taken. */
static bool ts_graph_better_victim(const struct ts_dit_graph *a, const struct ts_dit_graph *b)
{
	if (a->busy)
		return false;
	if (!b)
		return true;
	if (a->used != b->used)
		return !a->used;
	return a->last_use < b->last_use;
}

/* The cache entry of a step of `batch` samples of height x width on `gpus`
 * (group slot `slot`), added when new, evicting the least recently used
 * idle one; marked busy until ts_graph_release(). *state receives its
 * state. NULL when every entry is busy: the step then runs eagerly. */
struct ts_dit_graph *ts_graph_acquire(struct ts_dit_engine *e, int height, int width, int batch,
					     uint64_t gpus, int slot, enum ts_graph_state *state)
{
	struct ts_dit_graph *hit = NULL, *victim = NULL;
	pthread_mutex_lock(&e->lock);
	for (int i = 0; i < TS_MAX_GRAPHS && !hit; i++) {
		if (ts_graph_is(&e->graph[i], gpus, slot, height, width, batch))
			hit = &e->graph[i];
		else if (ts_graph_better_victim(&e->graph[i], victim))
			victim = &e->graph[i];
	}
	if (!hit && victim) {
		if (victim->used)
			ts_graph_drop_execs(e, victim, false);
		memset(victim, 0, sizeof(*victim));
		victim->used = true;
		victim->mask = gpus;
		victim->group = slot;
		victim->height = height;
		victim->width = width;
		victim->batch = batch;
		victim->state = TS_G_NEW;
		hit = victim;
	}
	if (hit) {
		hit->busy++;
		hit->last_use = ++e->graph_clock;
		*state = hit->state;
	}
	pthread_mutex_unlock(&e->lock);
	return hit;
}

enum ts_step_mode ts_graph_mode(struct ts_dit_engine *e, struct ts_dit_graph *g)
{
	if (!g)
		return TS_M_EAGER;
	pthread_mutex_lock(&e->lock);
	enum ts_graph_state st = g->state;
	pthread_mutex_unlock(&e->lock);
	return st == TS_G_SEEN ? TS_M_CAPTURE : st == TS_G_READY ? TS_M_REPLAY : TS_M_EAGER;
}

/* Records how the step of entry g went (rc: its result) and unmarks it. */
void ts_graph_release(struct ts_dit_engine *e, struct ts_dit_graph *g, enum ts_step_mode mode,
			     bool fell_back, int rc)
{
	if (!g)
		return;
	pthread_mutex_lock(&e->lock);
	if (mode == TS_M_EAGER && !rc && g->state == TS_G_NEW) {
		g->state = TS_G_SEEN;
	} else if (mode == TS_M_CAPTURE && fell_back) {
		g->state = TS_G_EAGER;
		e->gstats.fallbacks++;
	} else if (mode == TS_M_CAPTURE && rc) {
		ts_graph_drop_execs(e, g, false); /* the ranks that did capture */
		g->state = TS_G_EAGER;
	} else if (mode == TS_M_CAPTURE) {
		g->state = TS_G_READY;
		e->gstats.captures++;
	} else if (mode == TS_M_REPLAY && !rc) {
		e->gstats.replays++;
	}
	g->busy--;
	pthread_mutex_unlock(&e->lock);
}

extern "C" void ts_dit_engine_set_graphs(struct ts_dit_engine *e, bool on)
{
	e->graphs = on;
}

extern "C" bool ts_dit_engine_graphs(const struct ts_dit_engine *e)
{
	return e->graphs;
}

extern "C" void ts_dit_engine_graph_stats(struct ts_dit_engine *e, struct ts_dit_graph_stats *out)
{
	pthread_mutex_lock(&e->lock);
	*out = e->gstats;
	out->cached = 0;
	for (int i = 0; i < TS_MAX_GRAPHS; i++)
		out->cached += e->graph[i].used && e->graph[i].state == TS_G_READY;
	pthread_mutex_unlock(&e->lock);
}

