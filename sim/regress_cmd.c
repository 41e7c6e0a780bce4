/* cmd_regress.c: `tetriserve regress` — guard SLO attainment in CI.
 * --record writes the configurations and SAR of completed sim runs of a
 * results file to a baseline JSON file, with the trace and profile paths
 * relative to the baseline's folder and their content hashes; without it,
 * every configuration of the baseline is simulated again and compared. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "cli/policy_args.h"
#include "driver/run.h"
#include "io/locate.h"
#include "sim_backend.h"
#include "sim_cmd.h"
#include "store/store_read.h"

/* Version 1 stored paths as given to `sim` (relative to the working
 * directory); version 2 stores them relative to the baseline's folder. */
#define BASELINE_VERSION 2

struct regress_args {
	const char *db, *baseline;
	double tolerance_pp;
	bool record, allow_improvement;
};

static void regress_usage(FILE *f)
{
	fprintf(f,
		"usage: tetriserve regress --db F --baseline B.json [--tolerance PP] [--allow-improvement]\n"
		"       tetriserve regress --db F --baseline B.json --record\n"
		"Without --record: simulates every configuration recorded in B.json again (the new\n"
		"runs go into F) and fails (exit 1, with a table) when a configuration's SAR moves\n"
		"away from its baseline by more than PP percentage points (default 1.0), in either\n"
		"direction: a rise means the code or an input changed too. --allow-improvement lets\n"
		"a rise pass with a note. A trace or profile whose content hash differs from the\n"
		"recorded one fails, naming both hashes.\n"
		"With --record: writes every completed sim run of F (configuration and SAR) to B.json,\n"
		"with trace and profile paths relative to B.json's folder. Paths that no longer\n"
		"resolve are looked up by content hash in the bundled inputs (%s, or the folder\n"
		"named by TETRISERVE_DATA_DIR).\n",
		ts_cli_data_dir());
}

/* A stored input path as it is written to the baseline: relative to the
 * baseline's folder when the file exists from here, else as stored (with a
 * warning: regress will look it up by its hash). */
static json_t *portable_path(const char *stored, const char *base_dir, const char *what)
{
	char *rel = NULL;
	struct ts_error err = { 0 };
	if (!stored)
		return json_null();
	if (ts_path_relative_to(stored, base_dir, &rel, &err)) {
		fprintf(stderr, "tetriserve regress: warning: %s %s: %s; stored as given (regress "
			"will look it up by content hash)\n", what, stored, err.msg);
		return json_string(stored);
	}
	json_t *j = json_string(rel);
	free(rel);
	return j;
}

/* A JSON text column as an object ({} when NULL or not an object). */
static json_t *object_of(const char *text)
{
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	if (json_is_object(j))
		return j;
	json_decref(j);
	return json_object();
}

/* One configuration of the baseline from a completed sim run. */
static json_t *config_of_run(const struct ts_run_row *row, const char *base_dir)
{
	json_t *sum = object_of(row->summary);
	json_t *c = json_pack("{s:o, s:s?, s:o, s:s?, s:i, s:s?, s:I, s:o, s:O?, s:O?, s:O?}",
			      "trace", portable_path(row->trace_name, base_dir, "trace"),
			      "trace_hash", row->trace_hash,
			      "profile", portable_path(row->profile_name, base_dir, "profile"),
			      "profile_hash", row->profile_hash, "gpus", row->gpus, "policy", row->policy,
			      "seed", (json_int_t)row->seed, "options", object_of(row->options),
			      "requests", json_object_get(sum, "requests"), "met",
			      json_object_get(sum, "met"), "sar", json_object_get(sum, "sar"));
	json_decref(sum);
	return c;
}

/* Appends the configuration of run id when it is a completed sim run. */
static int record_run(struct ts_reader *r, int64_t id, const char *base_dir, json_t *configs,
		      struct ts_error *err)
{
	struct ts_run_row row;
	int rc = ts_reader_run(r, id, &row, err);
	if (rc)
		return rc;
	if (row.completed && row.backend && !strcmp(row.backend, "sim")) {
		json_t *c = config_of_run(&row, base_dir);
		if (!c || json_array_append_new(configs, c))
			rc = ts_err_set(err, TS_ENOMEM, "out of memory");
	}
	ts_run_row_free(&row);
	return rc;
}

/* Writes the baseline: one configuration a line, so diffs stay readable. */
static int write_baseline(const char *path, json_t *configs, struct ts_error *err)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return ts_err_set(err, TS_EIO, "%s: cannot write the baseline", path);
	fprintf(f, "{\"version\": %d, \"configs\": [", BASELINE_VERSION);
	size_t i;
	json_t *c;
	json_array_foreach(configs, i, c) {
		char *line = json_dumps(c, JSON_COMPACT | JSON_REAL_PRECISION(15));
		fprintf(f, "%s\n  %s", i ? "," : "", line ? line : "null");
		free(line);
	}
	fprintf(f, "\n]}\n");
	if (fclose(f))
		return ts_err_set(err, TS_EIO, "%s: write failed", path);
	return 0;
}

static int record_baseline(const struct regress_args *a, struct ts_error *err)
{
	struct ts_reader *r = NULL;
	json_t *configs = json_array();
	char *base_dir = ts_path_dirname(a->baseline);
	int64_t *ids = NULL;
	size_t n = 0;
	int rc = configs && base_dir ? 0 : ts_err_set(err, TS_ENOMEM, "out of memory");
	if (!rc)
		rc = ts_reader_open(&r, a->db, err);
	if (!rc)
		rc = ts_reader_run_ids(r, &ids, &n, err);
	for (size_t i = 0; !rc && i < n; i++)
		rc = record_run(r, ids[i], base_dir, configs, err);
	if (!rc && json_array_size(configs) == 0)
		rc = ts_err_set(err, TS_ENOTFOUND, "%s: no completed sim runs to record", a->db);
	if (!rc)
		rc = write_baseline(a->baseline, configs, err);
	if (!rc)
		printf("recorded %zu configurations from %s into %s\n", json_array_size(configs), a->db,
		       a->baseline);
	free(ids);
	ts_reader_close(r);
	json_decref(configs);
	free(base_dir);
	return rc;
}

/* One configuration of the baseline. Its strings point into the baseline's
 * JSON document; trace and profile are the resolved paths (owned). */
struct regress_config {
	struct ts_run_config cfg;
	struct ts_sim_opts sim;
	char *policy;                          /* the spec, legacy options applied (owned) */
	const char *trace_hash, *profile_hash; /* as recorded; NULL when absent */
	char *trace, *profile;
	double sar;
};

static void regress_config_free(struct regress_config *c)
{
	free(c->trace);
	free(c->profile);
	free(c->policy);
}

/* A string member of obj, or NULL. */
static const char *member_text(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* The run's, the simulator's and (recorded before policies owned their
 * options) the policy's options of a run, from runs.options. */
static int apply_options(struct regress_config *rc, const json_t *o, struct ts_error *err)
{
	ts_run_config_from_json(&rc->cfg, o);
	ts_sim_opts_from_json(&rc->sim, o);
	return ts_policy_spec_apply_legacy(&rc->policy, o, err);
}

/* Hex text of a hash, as the runs table stores it. */
static void hash_hex(uint64_t h, char hex[17])
{
	snprintf(hex, 17, "%016llx", (unsigned long long)h);
}

/* Resolves a recorded input: the stored path (relative to base_dir, or to
 * the working directory when base_dir is NULL) when the file is there; then
 * its content must match the recorded hash. A path that does not resolve is
 * looked up by the recorded hash among the bundled inputs. */
static int resolve_input(const char *stored, const char *hash, const char *base_dir,
			 const char *what, char **out, struct ts_error *err)
{
	uint64_t h;
	char hex[17];
	int rc = ts_path_join(base_dir, stored, out, err);
	if (rc)
		return rc;
	if (access(*out, F_OK) == 0) {
		rc = ts_file_hash(*out, &h, err);
		if (rc)
			return rc;
		hash_hex(h, hex);
		if (hash && strcmp(hex, hash))
			return ts_err_set(err, TS_EINVAL,
					  "%s %s changed since the baseline was recorded (content hash %s, "
					  "baseline %s): record a new baseline if the change is intended",
					  what, *out, hex, hash);
		return 0;
	}
	free(*out);
	*out = NULL;
	if (!hash || strlen(hash) != 16)
		return ts_err_set(err, TS_ENOTFOUND, "%s %s not found and no content hash recorded",
				  what, stored);
	const char *dirs[] = { ts_cli_data_dir() };
	char label[600];
	snprintf(label, sizeof(label), "%s %s (not found at %s)", what, stored,
		 base_dir ? base_dir : "the working directory");
	return ts_locate_by_hash(strtoull(hash, NULL, 16), dirs, 1, label, out, err);
}

static int parse_config(const json_t *j, const char *path, size_t idx, const char *base_dir,
			struct regress_config *rc, struct ts_error *err)
{
	memset(rc, 0, sizeof(*rc));
	const char *trace = member_text(j, "trace"), *profile = member_text(j, "profile");
	const char *policy = member_text(j, "policy");
	if (!trace || !profile || !policy || !json_is_integer(json_object_get(j, "gpus")) ||
	    !json_is_number(json_object_get(j, "sar")))
		return ts_err_set(err, TS_EPARSE,
				  "%s: configs[%zu] needs trace, profile, gpus, policy and sar", path, idx);
	if (!(rc->policy = strdup(policy)))
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	rc->trace_hash = member_text(j, "trace_hash");
	rc->profile_hash = member_text(j, "profile_hash");
	int r = resolve_input(trace, rc->trace_hash, base_dir, "trace", &rc->trace, err);
	if (!r)
		r = resolve_input(profile, rc->profile_hash, base_dir, "profile", &rc->profile, err);
	if (r)
		return ts_err_prefix(err, "%s: configs[%zu]", path, idx);
	struct ts_run_config *c = &rc->cfg;
	ts_run_config_defaults(c);
	ts_sim_opts_defaults(&rc->sim);
	c->trace = rc->trace;
	c->profile = rc->profile;
	c->gpus = (int)json_integer_value(json_object_get(j, "gpus"));
	c->seed = (uint64_t)json_integer_value(json_object_get(j, "seed"));
	rc->sim.seed = c->seed;
	rc->sar = json_number_value(json_object_get(j, "sar"));
	r = apply_options(rc, json_object_get(j, "options"), err);
	return r ? ts_err_prefix(err, "%s: configs[%zu]", path, idx) : 0;
}

/* Simulates one configuration again into the store; *sar receives the result. */
static int rerun_config(const struct regress_config *rc, struct ts_store *store, double *sar,
			struct ts_error *err)
{
	struct ts_run_inputs in;
	struct ts_run_outcome out;
	struct ts_backend_factory sim = ts_sim_factory(&rc->sim);
	int ret = ts_run_inputs_load(&in, &rc->cfg, err);
	if (!ret)
		ret = ts_run_policy(rc->policy, &rc->cfg, &in, &sim, store, NULL, &out, err);
	if (!ret)
		*sar = out.sum.sar;
	ts_run_inputs_free(&in);
	return ret;
}

enum verdict { V_OK, V_DROPPED, V_ROSE, V_ROSE_ALLOWED };

static enum verdict judge(double baseline, double now, const struct regress_args *a)
{
	double delta_pp = 100.0 * (now - baseline);
	if (-delta_pp > a->tolerance_pp)
		return V_DROPPED;
	if (delta_pp > a->tolerance_pp)
		return a->allow_improvement ? V_ROSE_ALLOWED : V_ROSE;
	return V_OK;
}

static void print_row(const struct regress_config *rc, const char *trace_label, double now,
		      enum verdict v)
{
	static const char *const word[] = { "ok", "DROPPED", "ROSE", "rose (allowed)" };
	printf("%-22s %-28s %4d %6.2f %8.3f %8.3f %+8.2f  %s\n", rc->policy, trace_label,
	       rc->cfg.gpus, rc->cfg.slo_scale, rc->sar, now, 100.0 * (now - rc->sar), word[v]);
}

/* The baseline document: {"version": 1 or 2, "configs": [...]}. */
static json_t *load_baseline(const char *path, int *version, struct ts_error *err)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr);
	if (!doc) {
		ts_err_set(err, TS_EPARSE, "%s:%d:%d: not a baseline file: %s", path, jerr.line,
			   jerr.column, jerr.text);
		return NULL;
	}
	json_t *v = json_object_get(doc, "version");
	*version = json_is_integer(v) ? (int)json_integer_value(v) : 0;
	if (*version < 1 || *version > BASELINE_VERSION ||
	    !json_is_array(json_object_get(doc, "configs"))) {
		ts_err_set(err, TS_EPARSE, "%s: not a baseline file (needs \"version\" 1..%d and a "
			   "\"configs\" array)", path, BASELINE_VERSION);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

struct tally {
	int dropped, rose, rose_allowed;
};

static int check_one(const json_t *j, size_t idx, const struct regress_args *a, const char *base_dir,
		     struct ts_store *store, struct tally *t, struct ts_error *err)
{
	struct regress_config c;
	double now = NAN;
	int rc = parse_config(j, a->baseline, idx, base_dir, &c, err);
	if (!rc)
		rc = rerun_config(&c, store, &now, err);
	if (!rc) {
		enum verdict v = judge(c.sar, now, a);
		t->dropped += v == V_DROPPED;
		t->rose += v == V_ROSE;
		t->rose_allowed += v == V_ROSE_ALLOWED;
		print_row(&c, member_text(j, "trace"), now, v);
	}
	regress_config_free(&c);
	return rc;
}

static int check_baseline(const struct regress_args *a, struct tally *t, struct ts_error *err)
{
	int version;
	json_t *doc = load_baseline(a->baseline, &version, err);
	if (!doc)
		return err->code;
	json_t *configs = json_object_get(doc, "configs");
	struct ts_store *store = NULL;
	/* version 1 stored paths relative to the working directory */
	char *base_dir = version >= 2 ? ts_path_dirname(a->baseline) : NULL;
	int rc = 0;
	if (json_array_size(configs) == 0) {
		rc = ts_err_set(err, TS_EPARSE, "%s: no configurations", a->baseline);
		goto out;
	}
	rc = ts_store_open(&store, a->db, err);
	if (rc)
		goto out;
	printf("%-22s %-28s %4s %6s %8s %8s %8s  %s\n", "policy", "trace", "gpus", "slo", "baseline",
	       "now", "delta pp", "status");
	size_t i;
	json_t *j;
	json_array_foreach(configs, i, j) {
		rc = check_one(j, i, a, base_dir, store, t, err);
		if (rc)
			break;
	}
out:
	ts_store_close(store);
	free(base_dir);
	json_decref(doc);
	return rc;
}

static int parse_regress_args(struct regress_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "baseline", required_argument, NULL, 'b' },
		{ "tolerance", required_argument, NULL, 't' },
		{ "record", no_argument, NULL, 'r' },
		{ "allow-improvement", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
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
		case 'i': a->allow_improvement = true; break;
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

/* Exit status and closing lines of a check. */
static int report_tally(const struct tally *t, const struct regress_args *a)
{
	if (t->rose_allowed)
		printf("note: %d configuration(s) rose by more than %.2f points (allowed by "
		       "--allow-improvement): record a new baseline to keep the gain\n",
		       t->rose_allowed, a->tolerance_pp);
	if (t->dropped)
		fprintf(stderr, "tetriserve regress: %d configuration(s) dropped by more than %.2f points\n",
			t->dropped, a->tolerance_pp);
	if (t->rose)
		fprintf(stderr, "tetriserve regress: %d configuration(s) rose by more than %.2f points: "
			"a change moved the results (pass --allow-improvement if the rise is intended)\n",
			t->rose, a->tolerance_pp);
	return t->dropped || t->rose ? 1 : 0;
}

int ts_cmd_regress(int argc, char **argv)
{
	struct regress_args a;
	int prc = parse_regress_args(&a, argc, argv);
	if (prc)
		return prc == 1 ? 0 : 2;
	struct ts_error err = { 0 };
	struct tally t = { 0 };
	int rc = a.record ? record_baseline(&a, &err) : check_baseline(&a, &t, &err);
	if (rc) {
		fprintf(stderr, "tetriserve regress: %s\n", err.msg);
		return 1;
	}
	return report_tally(&t, &a);
}
