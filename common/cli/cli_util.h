/* cli_util.h: option parsing helpers and the bundled defaults of the CLI. */
#ifndef TS_CLI_UTIL_H
#define TS_CLI_UTIL_H

#include "core/ts_error.h"

/* TS_DATADIR is the source tree (set by meson), so the bundled inputs are
 * found whatever the working directory. */
#define TS_DEFAULT_TRACE TS_DATADIR "/traces/default.csv"
#define TS_DEFAULT_PROFILE TS_DATADIR "/traces/profiles/flux-dev_H200_engine.csv"
#define TS_DEFAULT_POLICIES "fixed-sp:1,fixed-sp:2,fixed-sp:4,rssp,tetriserve"

/* Parses a whole decimal integer in [lo, hi] into *out; on failure fills err
 * naming the option and returns TS_EINVAL. */
int ts_cli_parse_int(const char *text, long long lo, long long hi, long long *out,
		     const char *option, struct ts_error *err);

/* Parses a finite number in [lo, hi] into *out; on failure fills err naming
 * the option and returns TS_EINVAL. */
int ts_cli_parse_double(const char *text, double lo, double hi, double *out, const char *option,
			struct ts_error *err);

/* Splits a --policy list in place at the commas that start a new policy
 * name, so an rssp map ("rssp:256=1,512=2") stays one spec; fills spec[]
 * with pointers into list and returns their count, or TS_EINVAL (err names
 * --policy) when the list is empty or holds more than max specs. */
int ts_cli_split_policies(char *list, char **spec, int max, struct ts_error *err);

/* Reports an unknown option, or one missing its value, of command `cmd`
 * (e.g. "tetriserve sim") after getopt_long returned '?'; returns 2, the
 * bad-usage exit status. */
int ts_cli_bad_option(const char *cmd, char **argv);

#endif
