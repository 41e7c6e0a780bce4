/* cli_util.h: option parsing helpers and the bundled defaults of the CLI. */
#ifndef TS_CLI_UTIL_H
#define TS_CLI_UTIL_H

#include <stdbool.h>
#include <stdio.h>

#include "core/ts_error.h"

/* The bundled inputs, relative to the data folder (ts_cli_data_dir()). */
#define TS_DEFAULT_TRACE_REL "traces/default.csv"
#define TS_DEFAULT_PROFILE_REL "traces/profiles/flux-dev_H200_engine.csv"
/* The paper's baselines (first come, first served, late requests served in
 * full), the same fixed degrees as an operator would run them (earliest
 * deadline first, hopeless requests set aside: docs/SCHEDULER.md), and
 * tetriserve serving or dropping late requests: a default table that
 * flatters nobody. */
#define TS_DEFAULT_POLICIES                                                              \
	"fixed-sp:1,fixed-sp:2,fixed-sp:4,rssp,fixed-sp:1:order=edf:late=defer,"          \
	"fixed-sp:2:order=edf:late=defer,fixed-sp:4:order=edf:late=defer,tetriserve,"     \
	"tetriserve:late=drop"

/* The folder holding the bundled traces/ and traces/profiles/: the
 * environment variable TETRISERVE_DATA_DIR when set and not empty, else the
 * data folder of an installed binary (<datadir>/tetriserve, found relative
 * to the binary's own folder) when it holds traces/, else the source tree
 * this binary was built from (TS_DATADIR, set by meson). */
const char *ts_cli_data_dir(void);

/* The default trace and profile: ts_cli_data_dir() joined to
 * TS_DEFAULT_TRACE_REL / TS_DEFAULT_PROFILE_REL (static buffers). */
const char *ts_cli_default_trace(void);
const char *ts_cli_default_profile(void);

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

/* An output file a command writes (--out). A regular file, or a path that
 * does not exist yet, is written through a temporary file beside it that
 * ts_cli_out_close() renames over it on success and removes on failure, so
 * a failed write leaves the old file (or none). Any other path (a device
 * such as /dev/full, a pipe, a symlink such as /dev/stdout) is written in
 * place and never removed. */
struct ts_cli_out {
	FILE *f;
	const char *path;
	char *tmp;   /* the temporary file; NULL when written in place */
};

/* Opens path for writing as above. Returns 0, or TS_EIO naming the path and
 * the system error. */
int ts_cli_out_open(struct ts_cli_out *o, const char *path, struct ts_error *err);

/* Closes o: with ok, puts the temporary file in place; without, removes it
 * (and nothing else). Returns 0, or TS_EIO (a failed close or rename) when
 * ok; always 0 when !ok. */
int ts_cli_out_close(struct ts_cli_out *o, bool ok, struct ts_error *err);

/* Reports an unknown option, or one missing its value, of command `cmd`
 * (e.g. "tetriserve sim") after getopt_long returned '?'; returns 2, the
 * bad-usage exit status. */
int ts_cli_bad_option(const char *cmd, char **argv);

#endif
