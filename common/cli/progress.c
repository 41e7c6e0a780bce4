/* progress.c: the progress line of a long run (see progress.h). */
#include "cli/progress.h"

#include <time.h>

static double monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void ts_progress_init(struct ts_progress *p, FILE *out, bool tty, double delay_s, double every_s,
		      const char *clock)
{
	*p = (struct ts_progress){ .out = out, .tty = tty, .delay_s = delay_s, .every_s = every_s,
				   .clock = clock, .now_s = monotonic_s };
}

void ts_progress_begin(struct ts_progress *p, const char *label, size_t total)
{
	p->label = label;
	p->total = total;
	p->decided = p->met = 0;
	p->backend_ns = 0;
	p->start_s = p->last_s = p->now_s();
	p->shown = false;
}

/* "1m05s", "12s", "2h03m": short durations for the line. */
static void format_duration(char *buf, size_t size, double s)
{
	long long t = (long long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, size, "%lldh%02lldm", t / 3600, t / 60 % 60);
	else if (t >= 60)
		snprintf(buf, size, "%lldm%02llds", t / 60, t % 60);
	else
		snprintf(buf, size, "%llds", t);
}

/* Writes the line; `final` is the last one of the run. On a terminal the
 * line overwrites the previous one ("\r", then erase to its end). */
static void write_line(struct ts_progress *p, double now, bool final)
{
	double spent = now - p->start_s;
	char sar[16] = "-", spent_text[32], eta[48] = "";
	if (p->decided)
		snprintf(sar, sizeof(sar), "%.3f", (double)p->met / (double)p->decided);
	format_duration(spent_text, sizeof(spent_text), spent);
	if (!final && p->decided && p->decided < p->total) {
		char left[32];
		/* ETA by requests decided so far: rough while load changes */
		format_duration(left, sizeof(left),
				spent * (double)(p->total - p->decided) / (double)p->decided);
		snprintf(eta, sizeof(eta), ", ~%s left", left);
	}
	fprintf(p->out, "%s%s: %zu/%zu requests, SAR so far %s, %s time %.1f s, %s%s%s%s",
		p->tty ? "\r" : "", p->label ? p->label : "run", p->decided, p->total, sar, p->clock,
		(double)p->backend_ns * 1e-9, spent_text, final ? " (done)" : "", eta,
		p->tty ? "\033[K" : "\n");
	fflush(p->out);
	p->shown = true;
	p->last_s = now;
}

/* A line is due once the delay has passed and `every_s` (terminal: 0.1 s)
 * since the last one. */
static void maybe_show(struct ts_progress *p)
{
	double now = p->now_s();
	double gap = p->tty ? 0.1 : p->every_s;
	if (now - p->start_s < p->delay_s || (p->shown && now - p->last_s < gap))
		return;
	write_line(p, now, false);
}

void ts_progress_end(struct ts_progress *p)
{
	if (!p->shown)
		return;
	write_line(p, p->now_s(), true);
	if (p->tty)
		fputc('\n', p->out);
	fflush(p->out);
}

static int on_segment(void *self, const struct ts_segment *s, struct ts_error *err)
{
	(void)err;
	struct ts_progress *p = self;
	if (s->end > p->backend_ns)
		p->backend_ns = s->end;
	maybe_show(p);
	return 0;
}

static int on_request_done(void *self, const struct ts_request *r, const struct ts_req_state *st,
			   struct ts_error *err)
{
	(void)err;
	struct ts_progress *p = self;
	ts_ns at = st->dropped >= 0 ? st->dropped : st->finish;
	if (at > p->backend_ns)
		p->backend_ns = at;
	p->decided++;
	p->met += ts_request_status_of(st->finish, st->dropped, r->deadline) == TS_REQ_MET;
	maybe_show(p);
	return 0;
}

const struct ts_sink_ops ts_progress_sink = {
	.segment = on_segment,
	.request_done = on_request_done,
};
