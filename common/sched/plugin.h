/* plugin.h: policies from outside the tree. A plug-in is a shared library
 * that exports one entry point returning its policy ops table (the same
 * struct ts_policy_ops the built-in policies fill in); the spec
 * "plugin:PATH.so[:ITEM]..." loads it. Both sides of that contract are
 * here: what a plug-in defines (the entry point and the ABI version it was
 * built for) and the loader tetriserve runs. docs/PLUGINS.md tells how to
 * write, build and run one.
 *
 * A plug-in calls tetriserve's own functions (ts_plan_push, ts_err_set,
 * ts_spec_parse_options, ts_class_step, ...): the tetriserve executable
 * exports its symbols, so a plug-in links no tetriserve library; they are
 * resolved when it is loaded. */
#ifndef TS_PLUGIN_H
#define TS_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ts_error.h"
#include "sched/policy.h"

/* The version of the binary interface between tetriserve and a plug-in:
 * the layout of every struct and the signature of every function of the
 * installed headers a policy uses (ts_policy_ops, ts_sched_view, ts_plan,
 * ts_launch, ts_req_state, ts_request, ts_classes, ts_policy_env,
 * ts_policy_option, ts_error, ...). Raised by one on any change to them
 * (tests/plugin/test_plugin_abi.c fails until it is); the loader refuses a
 * plug-in built for another version. */
#define TS_POLICY_ABI_VERSION 1

/* The name of the entry point, and the policy name of a plug-in spec. */
#define TS_PLUGIN_ENTRY_SYMBOL "tetriserve_policy_entry"
#define TS_PLUGIN_NAME "plugin"

/* The entry point every plug-in defines (with C linkage and default
 * visibility): it stores TS_POLICY_ABI_VERSION, as the plug-in saw it when
 * it was compiled, in *abi_version and returns its ops table, which must
 * stay valid while the library is loaded (a static const table). The loader
 * reads nothing of the table before it has checked the version. */
__attribute__((visibility("default")))
const struct ts_policy_ops *tetriserve_policy_entry(int *abi_version);

/* Defines the entry point of a plug-in whose ops table is `ops`:
 * TS_POLICY_PLUGIN(my_policy_ops); */
#define TS_POLICY_PLUGIN(ops)                                              \
	const struct ts_policy_ops *tetriserve_policy_entry(int *abi_version) \
	{                                                                  \
		*abi_version = TS_POLICY_ABI_VERSION;                      \
		return &(ops);                                             \
	}

/* True when spec names a plug-in: it is "plugin" or starts with "plugin:". */
bool ts_plugin_spec(const char *spec);

/* Loads the plug-in of spec "plugin:PATH.so[:ITEM]..." and returns its ops
 * table; *params receives the malloc'ed items after PATH.so (NULL when
 * there are none), for its init(). PATH runs to the first ".so" followed by
 * ':' or the end of the spec, so it may hold ':' but must end in ".so"; a
 * PATH without '/' is taken in the working directory (never searched on the
 * library path). The library is loaded with RTLD_NOW | RTLD_LOCAL and never
 * closed once its table has been returned (the table, its strings and its
 * describe() texts live in it). Returns NULL with err naming the file and
 * what to do when: the spec has no PATH.so, the file is missing, dlopen
 * fails (not a library, an unresolved symbol), the entry point is missing,
 * the ABI versions differ, or the table lacks a name, init or plan; a
 * library that is refused is closed again. err may be NULL. */
const struct ts_policy_ops *ts_plugin_find(const char *spec, char **params, struct ts_error *err);

#endif
