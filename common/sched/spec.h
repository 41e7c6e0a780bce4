/* spec.h: the one grammar of policy specs, and the option tables by which a
 * policy owns its options (as a ROSS model owns its app_opt[] table).
 *
 *   SPEC  = NAME { ":" ITEM }
 *   ITEM  = KEY "=" VALUE        an option of the policy
 *         | VALUE                the policy's positional option
 *
 * e.g. "fixed-sp:4:order=edf", "tetriserve:round_steps=5:elastic=off",
 * "rssp:map=256/1+512/2+1024/4+2048/4". Keys are the policy's own; values
 * never contain ':'. In a comma-separated --policy list a comma starts a
 * new spec only where a policy name follows it, so a value may hold commas
 * ("rssp:256=1,512=2", today's map spelling). For today's spelling of
 * tetriserve's options, "round_steps=5,round_ms=100", a comma followed by
 * one of the policy's keys and '=' also separates items. A later item
 * overrides an earlier one. docs/SCHEDULER.md lists every policy's options. */
#ifndef TS_SPEC_H
#define TS_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/ts_error.h"

enum ts_opt_kind {
	TS_OPT_INT,     /* int, in [min, max] */
	TS_OPT_REAL,    /* double, finite, in [min, max] */
	TS_OPT_SWITCH,  /* bool, written on|off (also true|false, 1|0) */
	TS_OPT_CHOICE,  /* int: the index of the value in choices[] */
	TS_OPT_TEXT,    /* char *, malloc'ed (ts_spec_options_free frees it) */
};

/* One option of a policy. The table ends with an entry whose key is NULL. */
struct ts_policy_option {
	const char *key;
	enum ts_opt_kind kind;
	size_t offset;               /* of the field in the policy's options struct */
	double min, max;             /* TS_OPT_INT, TS_OPT_REAL */
	const char *const *choices;  /* TS_OPT_CHOICE: the names, NULL-terminated */
	const char *def;             /* default, as written in a spec; NULL: none (text NULL) */
	bool positional;             /* a bare VALUE item sets this option (one per table) */
	const char *help;            /* one line for docs and --help */
};

/* Sets every option of the table in `dst` to its default, then applies the
 * items of `params` (the text after "NAME:", may be NULL or empty). Errors
 * (TS_EINVAL) name the policy, the item and what was expected: an unknown
 * key (listing the known ones), a bad value, a value out of range, a bare
 * value for a policy with no positional option. On error the text options
 * already set are freed. */
int ts_spec_parse_options(const char *policy, const struct ts_policy_option *table,
			  const char *params, void *dst, struct ts_error *err);

/* Checks items (as ts_spec_parse_options would take them) against the
 * table without keeping the values: 0, or its TS_EINVAL naming the item. */
int ts_spec_check_items(const char *policy, const struct ts_policy_option *table,
			const char *params, struct ts_error *err);

/* Frees the text options of dst set by ts_spec_parse_options(). */
void ts_spec_options_free(const struct ts_policy_option *table, void *dst);

/* A JSON object of the effective value of every option in dst (text that is
 * NULL is null), for describe(). NULL when out of memory. */
json_t *ts_spec_options_json(const struct ts_policy_option *table, const void *dst);

/* Writes "key=value" items of the table, one per line with its help, for
 * --help texts (into f). */
void ts_spec_options_help(const struct ts_policy_option *table, const char *indent, FILE *f);

/* Length of the policy name at the start of spec (up to ':' or the end). */
size_t ts_spec_name_len(const char *spec);

#endif
