/* ts_validate_report.c: the comparisons of a validation and its markdown
 * table (see ts_validate_internal.h). */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "store/store_read.h"
#include "ts_validate_internal.h"

/* text with '|' (a markdown cell's end) and newlines replaced. */
static void cell_text(FILE *f, const char *text)
{
	for (const char *c = text; *c; c++)
		fputs(*c == '|' ? "\\|" : *c == '\n' ? " " : (char[2]){ *c, 0 }, f);
}

static void launches_cell(FILE *f, const struct pair *p)
{
	if (p->res.differ == 0)
		fprintf(f, "identical");
	else
		fprintf(f, "differ for %lld requests", (long long)p->res.differ);
	fprintf(f, " (%lld outside the window", (long long)p->res.offwindow);
	if (p->res.driver_misses)
		fprintf(f, "; %lld by the driver", (long long)p->res.driver_misses);
	fputc(')', f);
}

static void table_row(FILE *f, const struct pair *p)
{
	const struct ts_validate_result *r = &p->res;
	fprintf(f, "| %s | ", p->spec);
	if (!p->compared) {
		fprintf(f, "- | - | - | - | - | - | - | %.1f | %s |\n", p->wall_s,
			p->cut ? "the executor's run was cut by --max-minutes or Ctrl-C: not compared"
			       : "not compared (see the log)");
		return;
	}
	fprintf(f, "%zu | %.3f | %.3f | %+.1f%s | %.2f%%%s | %.2f%%%s | ", r->requests, r->sar_sim, r->sar_exec,
		100 * (r->sar_sim - r->sar_exec), r->met_sar ? "" : " (MISSED)", 100 * r->median_err,
		r->met_median ? "" : " (MISSED)", 100 * r->p95_err, r->met_p95 ? "" : " (MISSED)");
	launches_cell(f, p);
	fprintf(f, " | %.1f | ", p->wall_s);
	cell_text(f, r->first_miss[0] ? r->first_miss : "none");
	fprintf(f, " |\n");
}

/* The case's heading, plan and table. */
static void table(FILE *f, const struct flow *fl)
{
	const struct ts_validate_opts *o = fl->o;
	char text[2048];
	ts_validate_plan_text(&fl->plan, (const char *const *)o->policies.spec, text, sizeof(text));
	fprintf(f, "\n### %s: %s, %d GPU%s, %s\n\n", o->label ? o->label : "validation", o->trace, o->cfg.gpus,
		o->cfg.gpus > 1 ? "s" : "", fl->dev->what);
	cell_text(f, text);
	fprintf(f, "; profile %s\n\n", o->profile);
	fprintf(f, "| policy | requests | SAR sim | SAR exec | SAR diff (points) | median error | p95 error | "
		   "launches | exec s | first miss: request, launch, cause |\n");
	fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---|---:|---|\n");
	for (int i = 0; i < fl->npairs; i++)
		table_row(f, &fl->pair[i]);
	if (!fl->npairs)
		fprintf(f, "| (none) | - | - | - | - | - | - | - | - | no executor run started: see the messages of "
			   "this case |\n");
}

static int append_markdown(const struct flow *fl, struct ts_error *err)
{
	FILE *f = fopen(fl->o->markdown, "a");
	if (!f)
		return ts_err_set(err, TS_EIO, "cannot append to %s: %s", fl->o->markdown, strerror(errno));
	table(f, fl);
	if (fclose(f))
		return ts_err_set(err, TS_EIO, "writing %s failed", fl->o->markdown);
	return 0;
}

/* One pair's comparison; a pair without a finished request in both is
 * reported and skipped. */
static int compare(struct flow *fl, struct ts_reader *db, struct pair *p, struct ts_error *err)
{
	fprintf(fl->f, "\n== %s: exec run %lld, sim run %lld ==\n", p->spec, (long long)p->exec_id,
		(long long)p->sim_id);
	int rc = ts_validate_report(db, p->sim_id, p->exec_id, fl->f, &p->res, err);
	p->compared = rc == 0;
	if (rc == TS_ENOTFOUND) {
		fprintf(fl->f, "not compared: %s\n", err->msg);
		return 0;
	}
	return rc;
}

int ts_validate_report_all(struct flow *fl, struct ts_error *err)
{
	struct ts_reader *db = NULL;
	int rc = ts_reader_open(&db, fl->o->db, err);
	for (int i = 0; !rc && i < fl->npairs; i++)
		if (fl->pair[i].sim_id)
			rc = compare(fl, db, &fl->pair[i], err);
	ts_reader_close(db);
	if (rc)
		return rc;
	table(fl->f, fl);
	fprintf(fl->f, "all runs are in %s\n", fl->o->db);
	return fl->o->markdown ? append_markdown(fl, err) : 0;
}
