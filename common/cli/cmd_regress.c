/* cmd_regress.c: `tetriserve regress` — guard SLO attainment in CI.
 * --record writes the configurations and SAR of completed sim runs of a
 * results file to a baseline JSON file; without it, every configuration of
 * the baseline is simulated again and compared. JSON is read with SQLite's
 * JSON functions on an in-memory database. */
#include "cli/cmd_regress.h"

#include <getopt.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/sim_run.h"
#include "core/ts_strbuf.h"

#define BASELINE_MAX_BYTES (16 << 20)

struct regress_args {
	const char *db, *baseline;
	double tolerance_pp;
	bool record;
};

static void regress_usage(FILE *f)
{
	fprintf(f,
		"usage: tetriserve regress --db F --baseline B.json [--tolerance PP]\n"
		"       tetriserve regress --db F --baseline B.json --record\n"
		"Without --record: simulates every configuration recorded in B.json again (the new\n"
		"runs go into F) and fails (exit 1, with a table) when a configuration's SAR drops\n"
		"below its baseline by more than PP percentage points (default 1.0).\n"
		"With --record: writes every completed sim run of F (configuration and SAR) to B.json.\n");
}

static int sql_fail(sqlite3 *db, const char *path, const char *what, struct ts_error *err)
{
	return ts_err_set(err, TS_EIO, "%s: %s: %s", path, what, sqlite3_errmsg(db));
}

static const char record_sql[] =
	"SELECT json_object('trace', trace_name, 'trace_hash', trace_hash, 'profile', profile_name,"
	" 'profile_hash', profile_hash, 'gpus', gpus, 'policy', policy, 'seed', seed,"
	" 'options', json(options), 'requests', json_extract(summary, '$.requests'),"
	" 'met', json_extract(summary, '$.met'), 'sar', json_extract(summary, '$.sar'))"
	" FROM runs WHERE backend = 'sim' AND completed = 1 ORDER BY run_id";

static int record_baseline(const struct regress_args *a, struct ts_error *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	FILE *f = NULL;
	int rc;
	if (sqlite3_open_v2(a->db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = sql_fail(db, a->db, "opening", err);
		goto out;
	}
	if (sqlite3_prepare_v2(db, record_sql, -1, &st, NULL) != SQLITE_OK) {
		rc = sql_fail(db, a->db, "reading runs", err);
		goto out;
	}
	f = fopen(a->baseline, "w");
	if (!f) {
		rc = ts_err_set(err, TS_EIO, "%s: cannot write the baseline", a->baseline);
		goto out;
	}
	fprintf(f, "{\"version\": 1, \"configs\": [");
	long n = 0;
	while (sqlite3_step(st) == SQLITE_ROW)
		fprintf(f, "%s\n  %s", n++ ? "," : "", (const char *)sqlite3_column_text(st, 0));
	fprintf(f, "\n]}\n");
	rc = fclose(f) ? ts_err_set(err, TS_EIO, "%s: write failed", a->baseline) : 0;
	f = NULL;
	if (!rc && n == 0)
		rc = ts_err_set(err, TS_ENOTFOUND, "%s: no completed sim runs to record", a->db);
	if (!rc)
		printf("recorded %ld configurations from %s into %s\n", n, a->db, a->baseline);
out:
	if (f)
		fclose(f);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

static char *read_file(const char *path, struct ts_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		ts_err_set(err, TS_EIO, "%s: cannot open the baseline", path);
		return NULL;
	}
	char *buf = malloc(BASELINE_MAX_BYTES + 1);
	size_t n = buf ? fread(buf, 1, BASELINE_MAX_BYTES, f) : 0;
	fclose(f);
	if (!buf || n == BASELINE_MAX_BYTES) {
		ts_err_set(err, TS_EINVAL, "%s: baseline larger than %d bytes", path, BASELINE_MAX_BYTES);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* One configuration of the baseline, with its text fields kept alive by the
 * statement that produced them. */
struct regress_config {
	struct ts_sim_config cfg;
	const char *policy, *trace_hash;
	double sar;
};

static const char configs_sql[] =
	"SELECT json_extract(value, '$.trace'), json_extract(value, '$.profile'),"
	" json_extract(value, '$.gpus'), json_extract(value, '$.policy'), json_extract(value, '$.seed'),"
	" json_extract(value, '$.sar'), json_extract(value, '$.trace_hash'),"
	" json_extract(value, '$.options.slo_scale'), json_extract(value, '$.options.noise'),"
	" json_extract(value, '$.options.move_cost'), json_extract(value, '$.options.move_us'),"
	" json_extract(value, '$.options.move_gbps'), json_extract(value, '$.options.interpolate'),"
	" json_extract(value, '$.options.round_steps'), json_extract(value, '$.options.round_ms'),"
	" json_extract(value, '$.options.no_placement'), json_extract(value, '$.options.no_elastic'),"
	" json_extract(value, '$.options.no_batching'), json_extract(value, '$.options.rssp_map'),"
	" json_extract(value, '$.options.model'), json_extract(value, '$.options.gpu_type')"
	" FROM json_each(?1, '$.configs')";

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static int row_to_config(sqlite3_stmt *st, const char *path, long idx, struct regress_config *rc,
			 struct ts_error *err)
{
	if (!col_text(st, 0) || !col_text(st, 1) || !col_text(st, 3) || sqlite3_column_type(st, 2) == SQLITE_NULL ||
	    sqlite3_column_type(st, 5) == SQLITE_NULL)
		return ts_err_set(err, TS_EPARSE,
				  "%s: configs[%ld] needs trace, profile, gpus, policy and sar", path, idx);
	struct ts_sim_config *c = &rc->cfg;
	ts_sim_config_defaults(c, col_text(st, 0), col_text(st, 1));
	c->gpus = sqlite3_column_int(st, 2);
	rc->policy = col_text(st, 3);
	c->seed = (uint64_t)sqlite3_column_int64(st, 4);
	c->sim.seed = c->seed;
	rc->sar = sqlite3_column_double(st, 5);
	rc->trace_hash = col_text(st, 6);
	if (sqlite3_column_type(st, 7) != SQLITE_NULL)
		c->slo_scale = sqlite3_column_double(st, 7);
	c->sim.noise = sqlite3_column_int(st, 8) != 0;
	if (sqlite3_column_type(st, 9) != SQLITE_NULL)
		c->sim.move_cost = sqlite3_column_int(st, 9) != 0;
	if (sqlite3_column_type(st, 10) != SQLITE_NULL)
		c->sim.move_fixed_ns = (ts_ns)llround(sqlite3_column_double(st, 10) * 1e3);
	if (sqlite3_column_type(st, 11) != SQLITE_NULL)
		c->sim.move_gbps = sqlite3_column_double(st, 11);
	c->interpolate = sqlite3_column_int(st, 12) != 0;
	c->env.round_steps = sqlite3_column_int(st, 13);
	c->env.round_ns = (ts_ns)llround(sqlite3_column_double(st, 14) * 1e6);
	c->env.no_placement = sqlite3_column_int(st, 15) != 0;
	c->env.no_elastic = sqlite3_column_int(st, 16) != 0;
	c->env.no_batching = sqlite3_column_int(st, 17) != 0;
	c->env.rssp_map = col_text(st, 18);
	c->model = col_text(st, 19);
	c->gpu_type = col_text(st, 20);
	return 0;
}

/* Simulates one configuration again into the store; *sar receives the result. */
static int rerun_config(const struct regress_config *rc, struct ts_store *store, double *sar,
			struct ts_error *err)
{
	struct ts_sim_inputs in;
	int ret = ts_sim_inputs_load(&in, &rc->cfg, err);
	if (!ret && rc->trace_hash) {
		char hex[17];
		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)in.trace.hash);
		if (strcmp(hex, rc->trace_hash))
			ret = ts_err_set(err, TS_EINVAL,
					 "%s changed since the baseline was recorded (hash %s, baseline %s): record a new baseline",
					 rc->cfg.trace, hex, rc->trace_hash);
	}
	struct ts_summary sum;
	if (!ret)
		ret = ts_sim_run_policy(rc->policy, &rc->cfg, &in, store, NULL, &sum, NULL, err);
	if (!ret)
		*sar = sum.sar;
	ts_sim_inputs_free(&in);
	return ret;
}

static void print_row(const struct regress_config *rc, double now, bool drop)
{
	printf("%-22s %-28s %4d %6.2f %8.3f %8.3f %+8.2f  %s\n", rc->policy, rc->cfg.trace, rc->cfg.gpus,
	       rc->cfg.slo_scale, rc->sar, now, 100.0 * (now - rc->sar), drop ? "DROPPED" : "ok");
}

static int check_baseline(const struct regress_args *a, int *dropped, struct ts_error *err)
{
	char *text = read_file(a->baseline, err);
	if (!text)
		return err->code;
	sqlite3 *mem = NULL;
	sqlite3_stmt *st = NULL;
	struct ts_store *store = NULL;
	int rc = 0;
	sqlite3_open(":memory:", &mem);
	if (sqlite3_prepare_v2(mem, configs_sql, -1, &st, NULL) != SQLITE_OK) {
		rc = sql_fail(mem, a->baseline, "preparing", err);
		goto out;
	}
	sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	rc = ts_store_open(&store, a->db, err);
	if (rc)
		goto out;
	printf("%-22s %-28s %4s %6s %8s %8s %8s  %s\n", "policy", "trace", "gpus", "slo", "baseline", "now",
	       "delta pp", "status");
	long idx = 0;
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct regress_config c;
		double now = NAN;
		rc = row_to_config(st, a->baseline, idx++, &c, err);
		if (!rc)
			rc = rerun_config(&c, store, &now, err);
		if (rc)
			goto out;
		bool drop = 100.0 * (c.sar - now) > a->tolerance_pp;
		*dropped += drop;
		print_row(&c, now, drop);
	}
	if (step != SQLITE_DONE)
		rc = ts_err_set(err, TS_EPARSE, "%s: not a baseline file (%s)", a->baseline, sqlite3_errmsg(mem));
	else if (idx == 0)
		rc = ts_err_set(err, TS_EPARSE, "%s: no configurations", a->baseline);
out:
	ts_store_close(store);
	sqlite3_finalize(st);
	sqlite3_close(mem);
	free(text);
	return rc;
}

static int parse_regress_args(struct regress_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },        { "baseline", required_argument, NULL, 'b' },
		{ "tolerance", required_argument, NULL, 't' }, { "record", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },            { NULL, 0, NULL, 0 },
	};
	struct ts_error err = { 0 };
	*a = (struct regress_args){ .tolerance_pp = 1.0 };
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': a->db = optarg; break;
		case 'b': a->baseline = optarg; break;
		case 'r': a->record = true; break;
		case 't':
			if (ts_cli_parse_double(optarg, 0, 100, &a->tolerance_pp, "--tolerance", &err)) {
				fprintf(stderr, "tetriserve regress: %s\n", err.msg);
				return 2;
			}
			break;
		case 'h': regress_usage(stdout); return 1;
		default:
			return ts_cli_bad_option("tetriserve regress", argv);
		}
	}
	if (!a->db || !a->baseline) {
		fprintf(stderr, "tetriserve regress: --db and --baseline are required (see --help)\n");
		return 2;
	}
	return 0;
}

int ts_cmd_regress(int argc, char **argv)
{
	struct regress_args a;
	int prc = parse_regress_args(&a, argc, argv);
	if (prc)
		return prc == 1 ? 0 : 2;
	struct ts_error err = { 0 };
	int dropped = 0;
	int rc = a.record ? record_baseline(&a, &err) : check_baseline(&a, &dropped, &err);
	if (rc) {
		fprintf(stderr, "tetriserve regress: %s\n", err.msg);
		return 1;
	}
	if (dropped) {
		fprintf(stderr, "tetriserve regress: %d configuration(s) dropped by more than %.2f points\n",
			dropped, a.tolerance_pp);
		return 1;
	}
	return 0;
}
