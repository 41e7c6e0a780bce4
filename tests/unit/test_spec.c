/* The policy spec grammar and option tables (sched/spec.h), the registry
 * (aliases, unknown names) and the CLI's --policy lists and flags. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli/policy_args.h"
#include "sched/baselines.h"
#include "sched/policy.h"
#include "sched/spec.h"
#include "test_util.h"

struct opts {
	int n;
	double x;
	bool on;
	int pick;
	char *text;
};

static const char *const picks[] = { "fcfs", "edf", NULL };

static const struct ts_policy_option table[] = {
	{ .key = "n", .kind = TS_OPT_INT, .offset = offsetof(struct opts, n), .min = 1, .max = 64,
	  .positional = true, .help = "a count" },
	{ .key = "x", .kind = TS_OPT_REAL, .offset = offsetof(struct opts, x), .min = 0, .max = 10,
	  .def = "2.5", .help = "a number" },
	{ .key = "on", .kind = TS_OPT_SWITCH, .offset = offsetof(struct opts, on), .def = "on",
	  .help = "a switch" },
	{ .key = "pick", .kind = TS_OPT_CHOICE, .offset = offsetof(struct opts, pick),
	  .choices = picks, .def = "fcfs", .help = "a choice" },
	{ .key = "text", .kind = TS_OPT_TEXT, .offset = offsetof(struct opts, text), .help = "a text" },
	{ 0 },
};

static int parse(const char *params, struct opts *o, struct ts_error *err)
{
	memset(o, 0, sizeof(*o));
	return ts_spec_parse_options("p", table, params, o, err);
}

static void test_defaults_and_items(void)
{
	struct ts_error err = { 0 };
	struct opts o;
	TS_CHECK(parse(NULL, &o, &err) == 0 && o.n == 0 && o.x == 2.5 && o.on && o.pick == 0 && !o.text);
	TS_CHECK(parse("4:x=1e-1:on=off:pick=edf:text=a,b=c", &o, &err) == 0);
	TS_CHECK(o.n == 4 && o.x == 0.1 && !o.on && o.pick == 1 && o.text && !strcmp(o.text, "a,b=c"));
	ts_spec_options_free(table, &o);
	TS_CHECK(o.text == NULL);
	/* the positional option by its key, a later item overriding an earlier one */
	TS_CHECK(parse("n=8:n=16", &o, &err) == 0 && o.n == 16);
	/* today's comma form of named items */
	TS_CHECK(parse("x=3,pick=edf", &o, &err) == 0 && o.x == 3 && o.pick == 1);
	json_t *obj = ts_spec_options_json(table, &o);
	char *j = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	TS_CHECK_MSG(j && !strcmp(j, "{\"n\":0,\"x\":3.0,\"on\":\"on\",\"pick\":\"edf\",\"text\":null}"), "%s", j);
	free(j);
}

static void test_errors(void)
{
	struct ts_error err = { 0 };
	struct opts o;
	TS_CHECK(parse("n=65", &o, &err) == TS_EINVAL && strstr(err.msg, "n='65'") &&
		 strstr(err.msg, "1..64"));
	TS_CHECK(parse("pick=lifo", &o, &err) == TS_EINVAL && strstr(err.msg, "fcfs or edf"));
	TS_CHECK(parse("bogus=1", &o, &err) == TS_EINVAL && strstr(err.msg, "unknown option 'bogus=1'") &&
		 strstr(err.msg, "known: n, x, on, pick, text"));
	TS_CHECK(parse("on=maybe", &o, &err) == TS_EINVAL && strstr(err.msg, "on or off"));
	TS_CHECK(parse("x=nan", &o, &err) == TS_EINVAL);
	TS_CHECK(parse("4:", &o, &err) == TS_EINVAL && strstr(err.msg, "ends with a separator"));
	TS_CHECK(parse("4::x=1", &o, &err) == TS_EINVAL && strstr(err.msg, "empty option item"));
	TS_CHECK(parse("text=a:text=", &o, &err) == TS_EINVAL && o.text == NULL); /* freed on error */
}

static void test_registry(void)
{
	struct ts_error err = { 0 };
	char *params;
	TS_CHECK(ts_policy_find("edf-fixed:4", &params, &err) == &ts_policy_fixed_sp &&
		 params && !strcmp(params, "order=edf:4"));
	free(params);
	TS_CHECK(ts_policy_find("tetriserve", &params, &err) && params == NULL);
	TS_CHECK(ts_policy_find("fixed", &params, &err) == NULL && strstr(err.msg, "unknown policy 'fixed'") &&
		 strstr(err.msg, "fixed-sp, rssp, tetriserve, admit, edf-fixed"));
	TS_CHECK(ts_policy_name_known("rssp", 4) && !ts_policy_name_known("rss", 3));
}

static void test_lists_and_flags(void)
{
	struct ts_error err = { 0 };
	struct ts_policy_list l;
	TS_CHECK(ts_policy_list_parse("rssp:256=1,512=2,fixed-sp:2,tetriserve:round_steps=5,round_ms=80,"
				      "edf-fixed:4", &l, &err) == 0);
	TS_CHECK(l.n == 4 && !strcmp(l.spec[0], "rssp:256=1,512=2") && !strcmp(l.spec[1], "fixed-sp:2") &&
		 !strcmp(l.spec[2], "tetriserve:round_steps=5,round_ms=80") && !strcmp(l.spec[3], "edf-fixed:4"));
	TS_CHECK(ts_policy_list_apply_named(&l, "no-elastic", NULL, &err) == 0);
	TS_CHECK(ts_policy_list_apply_named(&l, "rssp-map", "256/2", &err) == 0);
	/* a flag's item goes before the spec's own, which (later) win */
	TS_CHECK(!strcmp(l.spec[2], "tetriserve:elastic=off:round_steps=5,round_ms=80") &&
		 !strcmp(l.spec[0], "rssp:map=256/2:256=1,512=2") && !strcmp(l.spec[1], "fixed-sp:2"));
	TS_CHECK(ts_policy_list_apply_named(&l, "rssp-map", "a:b", &err) == TS_EINVAL);
	TS_CHECK(ts_policy_list_apply_named(&l, "no-such", NULL, &err) == TS_ENOTFOUND);
	ts_policy_list_free(&l);
	/* "NAME:" takes a flag without an empty item */
	TS_CHECK(ts_policy_list_parse("tetriserve:", &l, &err) == 0);
	TS_CHECK(ts_policy_list_apply_named(&l, "no-elastic", NULL, &err) == 0 &&
		 !strcmp(l.spec[0], "tetriserve:elastic=off"));
	ts_policy_list_free(&l);
	/* a flag's value is checked even when its policy is not in the list */
	TS_CHECK(ts_policy_list_parse("fixed-sp:1", &l, &err) == 0);
	TS_CHECK(ts_policy_list_apply_named(&l, "round-ms", "abc", &err) == TS_EINVAL &&
		 strstr(err.msg, "--round-ms") && strstr(err.msg, "round_ms='abc'"));
	TS_CHECK(ts_policy_list_apply_named(&l, "round-steps", "1000000", &err) == 0 &&
		 !strcmp(l.spec[0], "fixed-sp:1"));
	ts_policy_list_free(&l);
	TS_CHECK(ts_policy_list_parse("", &l, &err) == TS_EINVAL && strstr(err.msg, "empty"));
	TS_CHECK(ts_policy_list_parse("rssp,,tetriserve", &l, &err) == TS_EINVAL);
	/* a list far longer than any fixed buffer */
	char *big = malloc(2000 * 11 + 1);
	big[0] = '\0';
	for (int i = 0; i < 2000; i++)
		strcat(big, i ? ",fixed-sp:1" : "fixed-sp:1");
	TS_CHECK(ts_policy_list_parse(big, &l, &err) == 0 && l.n == 2000);
	ts_policy_list_free(&l);
	free(big);
}

int main(void)
{
	test_defaults_and_items();
	test_errors();
	test_registry();
	test_lists_and_flags();
	return ts_test_result("spec");
}
