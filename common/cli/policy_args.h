/* policy_args.h: the --policy list of a run command, and the policies' CLI
 * flags: shorthands (`--no-elastic`) that edit the specs of the list. */
#ifndef TS_POLICY_ARGS_H
#define TS_POLICY_ARGS_H

#include <getopt.h>
#include <jansson.h>

#include "core/ts_error.h"
#include "sched/policy.h"

/* The specs of a --policy list, each malloc'ed. */
struct ts_policy_list {
	char **spec;
	int n;
};

/* Splits a comma-separated list at the commas that a registered policy
 * name (or alias) follows, so a spec's value may hold commas
 * ("rssp:256=1,512=2,fixed-sp:2" is two specs). TS_EINVAL naming --policy
 * for an empty list or an empty entry. */
int ts_policy_list_parse(const char *text, struct ts_policy_list *out, struct ts_error *err);

/* Frees the specs; safe on a zeroed list. */
void ts_policy_list_free(struct ts_policy_list *l);

/* The list joined by commas, malloc'ed (NULL when out of memory). */
char *ts_policy_list_join(const struct ts_policy_list *l);

/* Every registered policy's flags, in registry order, as getopt_long
 * options with val = base + index; *n receives the count. The array is
 * static. */
const struct option *ts_policy_flag_options(int base, int *n);

/* Appends the item of flag `index` (of ts_policy_flag_options) and its
 * value to every spec of the list whose policy owns the flag. A value may
 * not contain ':'. */
int ts_policy_list_apply_flag(struct ts_policy_list *l, int index, const char *value,
			      struct ts_error *err);

/* ts_policy_list_apply_flag for the flag named `flag` (without "--");
 * TS_ENOTFOUND when no policy has it. */
int ts_policy_list_apply_named(struct ts_policy_list *l, const char *flag, const char *value,
			       struct ts_error *err);

/* One line per flag ("  --no-elastic  tetriserve ablation: ...") into f. */
void ts_policy_flags_help(FILE *f);

/* Applies the policy options of a run recorded before policies owned their
 * options (runs.options held round_steps, no_elastic, rssp_map, ...): each
 * member named like a flag with '_' for '-' (no_elastic: --no-elastic) that
 * is true, or a non-zero number, or a text, applies that flag to *spec
 * (replaced by a malloc'ed edited copy). */
int ts_policy_spec_apply_legacy(char **spec, const json_t *options, struct ts_error *err);

#endif
