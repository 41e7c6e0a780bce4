/* test_plugin_abi.c: the guard of TS_POLICY_ABI_VERSION, and the loader's
 * answers that need no library.
 *
 * The layout of what a plug-in shares with tetriserve is recorded here for
 * the current ABI version (on LP64 targets). A change to one of these
 * structs fails this test until TS_POLICY_ABI_VERSION in sched/plugin.h is
 * raised and a row for the new version is recorded below: a plug-in built
 * against the old headers is then refused by name instead of misreading
 * memory. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/heap.h"
#include "sched/plugin.h"
#include "sched/baseline_queue.h"
#include "test_util.h"

/* All members of one type: no padding, so rows compare with memcmp. */
struct abi_layout {
	long long version;
	long long ops, ops_init, ops_plan, ops_describe, ops_close;
	long long view, launch, plan, req_state, request, cls, classes, env;
	long long option, flag, error, trace, heap, heap_node, bq;
	long long opt_text, err_range;
};

#define LAYOUT_NOW                                                                                   \
	{ TS_POLICY_ABI_VERSION, sizeof(struct ts_policy_ops), offsetof(struct ts_policy_ops, init),  \
	  offsetof(struct ts_policy_ops, plan), offsetof(struct ts_policy_ops, describe),             \
	  offsetof(struct ts_policy_ops, close), sizeof(struct ts_sched_view),                        \
	  sizeof(struct ts_launch), sizeof(struct ts_plan), sizeof(struct ts_req_state),              \
	  sizeof(struct ts_request), sizeof(struct ts_class), sizeof(struct ts_classes),              \
	  sizeof(struct ts_policy_env), sizeof(struct ts_policy_option),                              \
	  sizeof(struct ts_policy_flag), sizeof(struct ts_error), sizeof(struct ts_trace),            \
	  sizeof(struct ts_heap), sizeof(struct ts_heap_node), sizeof(struct ts_bq), TS_OPT_TEXT,     \
	  TS_ERANGE }

/* One row per ABI version (x86-64 and aarch64 Linux): the sizes of the
 * structs, the offsets of ops entries, the last enumerators. */
static const struct abi_layout recorded[] = {
	{ 1, 88, 32, 64, 72, 80, 56, 56, 48, 48, 72, 528, 48, 24, 72, 32, 1028, 56, 32, 24, 96,
	  4, -9 },
};

/* The whole layout, on stderr, for recording a new row. */
static void print_layout(const struct abi_layout *l)
{
	const long long *f = &l->version;
	fprintf(stderr, "layout now: {");
	for (size_t i = 0; i < sizeof(*l) / sizeof(*f); i++)
		fprintf(stderr, "%s%lld", i ? ", " : " ", f[i]);
	fprintf(stderr, " }\n");
}

static void test_layout(void)
{
#if !(defined(__x86_64__) || defined(__aarch64__)) || !defined(__linux__)
	return; /* the sizes below are those of LP64 Linux */
#endif
	const struct abi_layout now = LAYOUT_NOW;
	const struct abi_layout *row = NULL;
	for (size_t i = 0; i < sizeof(recorded) / sizeof(recorded[0]); i++)
		if (recorded[i].version == TS_POLICY_ABI_VERSION)
			row = &recorded[i];
	TS_CHECK_MSG(row, "no layout recorded for TS_POLICY_ABI_VERSION %d", TS_POLICY_ABI_VERSION);
	TS_CHECK_MSG(!row || !memcmp(row, &now, sizeof(now)),
		     "the plug-in ABI changed: raise TS_POLICY_ABI_VERSION in common/sched/plugin.h "
		     "and record the new layout in %s: {%lld, %lld, %lld, %lld, %lld, %lld, ...}",
		     __FILE__, now.version, now.ops, now.ops_init, now.ops_plan, now.ops_describe,
		     now.ops_close);
	if (row && memcmp(row, &now, sizeof(now)))
		print_layout(&now);
}

static void test_spec_recognised(void)
{
	TS_CHECK(ts_plugin_spec("plugin:/x/p.so") && ts_plugin_spec("plugin"));
	TS_CHECK(!ts_plugin_spec("plugins:/x/p.so") && !ts_plugin_spec("fixed-sp:1"));
	TS_CHECK(ts_policy_name_known("plugin", 6) && !ts_policy_name_known("plug", 4));
}

/* ts_policy_find's refusal of spec: NULL, no params, code and words in the message. */
static void check_refused(const char *spec, int code, const char *word)
{
	struct ts_error err = { 0 };
	char *params = (char *)"untouched";
	TS_CHECK_MSG(!ts_policy_find(spec, &params, &err) && !params && err.code == code &&
			     strstr(err.msg, word),
		     "%s: %d %s", spec, err.code, err.msg);
}

static void test_refusals(void)
{
	check_refused("plugin", TS_EINVAL, "plugin:PATH.so[:KEY=VALUE]");
	check_refused("plugin:/no/such/dir/p", TS_EINVAL, "ending in .so");
	check_refused("plugin:.so", TS_EINVAL, "ending in .so");
	check_refused("plugin:/no/such/dir/p.so:x=1", TS_ENOTFOUND, "/no/such/dir/p.so");
	check_refused("plugin:/no/such:dir/p.so", TS_ENOTFOUND, "/no/such:dir/p.so");
	check_refused("plugin:p.so", TS_ENOTFOUND, "./p.so");
	check_refused("plugin:/no/such/p.sox", TS_EINVAL, "ending in .so");
	struct ts_error err = { 0 };
	char *params;
	TS_CHECK(!ts_policy_find("nope", &params, &err) && strstr(err.msg, "plugin:PATH.so"));
}

int main(void)
{
	test_layout();
	test_spec_recognised();
	test_refusals();
	return ts_test_result("plugin_abi");
}
