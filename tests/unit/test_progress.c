/* test_progress.c: the progress line (cli/progress.h) on a clock the test
 * moves: nothing before the delay, plain lines at most every `every_s`, one
 * line rewritten in place on a terminal, SAR over decided requests (drops
 * count as missed), the final line. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "cli/progress.h"
#include "test_util.h"

static double fake_now;
static double fake_clock(void) { return fake_now; }

struct capture {
	char *text;
	size_t size;
	FILE *f;
};

static void capture_open(struct capture *c)
{
	*c = (struct capture){ 0 };
	c->f = open_memstream(&c->text, &c->size);
}

static char *capture_close(struct capture *c)
{
	fclose(c->f);
	return c->text;
}

static void start(struct ts_progress *p, FILE *f, bool tty, double delay, double every, size_t n)
{
	ts_progress_init(p, f, tty, delay, every, "sim");
	p->now_s = fake_clock;
	fake_now = 100.0;
	ts_progress_begin(p, "fixed-sp:1", n);
}

/* Request with deadline 10 s finishing at finish_s (or dropped at drop_s). */
static void decide(struct ts_progress *p, double finish_s, double drop_s)
{
	struct ts_request r = { .deadline = ts_ns_from_s(10) };
	struct ts_req_state st = { .finish = finish_s < 0 ? -1 : ts_ns_from_s(finish_s),
				   .dropped = drop_s < 0 ? -1 : ts_ns_from_s(drop_s) };
	struct ts_error err = { 0 };
	TS_CHECK(ts_progress_sink.request_done(p, &r, &st, &err) == 0);
}

static int count(const char *text, const char *what)
{
	int n = 0;
	for (const char *s = text; (s = strstr(s, what)); s += strlen(what))
		n++;
	return n;
}

static void test_plain_lines(void)
{
	struct capture c;
	struct ts_progress p;
	capture_open(&c);
	start(&p, c.f, false, 2.0, 10.0, 4);
	decide(&p, 5, -1); /* t = 0 s: before the delay */
	fake_now += 3;
	decide(&p, 12, -1); /* 3 s: first line, 1 met of 2 */
	fake_now += 5;
	decide(&p, -1, 20); /* 8 s: within 10 s of the last line */
	fake_now += 10;
	decide(&p, 30, -1); /* 18 s: a line, 1 met of 4, the run's clock at 30 s */
	ts_progress_end(&p);
	char *t = capture_close(&c);
	TS_CHECK_MSG(count(t, "\n") == 3 && !strchr(t, '\r'), "%s", t);
	TS_CHECK_MSG(strstr(t, "fixed-sp:1: 2/4 requests, SAR so far 0.500, sim time 12.0 s, 3s"),
		     "%s", t);
	TS_CHECK_MSG(strstr(t, "4/4 requests, SAR so far 0.250, sim time 30.0 s, 18s\n"), "%s", t);
	TS_CHECK_MSG(strstr(t, "(done)\n"), "%s", t);
	TS_CHECK_MSG(strstr(t, "~3s left"), "ETA: 3 s for 2 decided, 2 left: %s", t);
	free(t);
}

static void test_terminal_line(void)
{
	struct capture c;
	struct ts_progress p;
	capture_open(&c);
	start(&p, c.f, true, 0.0, 10.0, 3);
	decide(&p, 1, -1);
	fake_now += 0.05;
	decide(&p, 2, -1); /* within 0.1 s: not redrawn */
	fake_now += 0.2;
	decide(&p, 3, -1);
	ts_progress_end(&p);
	char *t = capture_close(&c);
	TS_CHECK_MSG(count(t, "\r") == 3 && count(t, "\033[K") == 3, "%s", t);
	TS_CHECK_MSG(count(t, "\n") == 1 && t[strlen(t) - 1] == '\n', "one newline, at the end: %s", t);
	TS_CHECK_MSG(strstr(t, "3/3 requests, SAR so far 1.000") && strstr(t, "(done)"), "%s", t);
	free(t);
}

static void test_silent_short_run(void)
{
	struct capture c;
	struct ts_progress p;
	capture_open(&c);
	start(&p, c.f, false, 2.0, 10.0, 2);
	decide(&p, 1, -1);
	fake_now += 1.5;
	decide(&p, 2, -1);
	ts_progress_end(&p);
	char *t = capture_close(&c);
	TS_CHECK_MSG(c.size == 0, "a run shorter than the delay prints nothing: %s", t);
	free(t);
}

static void test_segments_move_the_clock(void)
{
	struct capture c;
	struct ts_progress p;
	capture_open(&c);
	start(&p, c.f, false, 0.0, 0.0, 5);
	struct ts_segment s = { .start = 0, .end = ts_ns_from_s(7.5), .nsteps = 1 };
	struct ts_error err = { 0 };
	TS_CHECK(ts_progress_sink.segment(&p, &s, &err) == 0);
	char *t = capture_close(&c);
	TS_CHECK_MSG(strstr(t, "0/5 requests, SAR so far -, sim time 7.5 s"), "%s", t);
	free(t);
}

int main(void)
{
	test_plain_lines();
	test_terminal_line();
	test_silent_short_run();
	test_segments_move_the_clock();
	return ts_test_result("progress");
}
