/* timing.c: the driver's model of time (see timing.h). */
#include "driver/timing.h"

void ts_move_model_defaults(struct ts_move_model *m)
{
	*m = (struct ts_move_model){ .on = true, .fixed_ns = 30 * TS_NS_PER_US, .gbps = 50.0 };
}

ts_ns ts_move_ns(const struct ts_move_model *m, int32_t height, int32_t width)
{
	if (!m->on)
		return 0;
	double bytes = (double)(height / 8) * (width / 8) * 16 * 2;
	return m->fixed_ns + (ts_ns)(bytes / m->gbps + 0.5); /* GB/s == bytes/ns */
}

ts_ns ts_launch_move_ns(const struct ts_move_model *m, const struct ts_launch *l,
			const struct ts_sched_view *v)
{
	const struct ts_request *q = &v->req[l->req[0]];
	for (int i = 0; i < l->nreq; i++) {
		uint64_t prev = v->st[l->req[i]].gpus;
		if (prev && (l->gpus & ~prev))
			return ts_move_ns(m, q->height, q->width);
	}
	return 0;
}

ts_ns ts_window_ns(const struct ts_window *w, ts_ns modelled)
{
	ts_ns rel = (ts_ns)(w->rel * (double)modelled);
	return rel > w->abs_ns ? rel : w->abs_ns;
}

bool ts_window_holds(const struct ts_window *w, ts_ns modelled, ts_ns observed)
{
	ts_ns d = observed - modelled;
	return (d < 0 ? -d : d) <= ts_window_ns(w, modelled);
}
