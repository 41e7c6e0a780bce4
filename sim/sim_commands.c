/* sim_commands.c: the commands sim/ contributes to `tetriserve`, and the
 * simulator as a backend other folders' commands may run (exec/'s
 * validate), found by name (cli/command.h). */
#include <stddef.h>
#include <stdlib.h>

#include "cli/command.h"
#include "sim_backend.h"
#include "sim_cmd.h"

const struct ts_command ts_commands_sim[] = {
	{ "sim", "replay a trace on the simulated GPU cluster", ts_cmd_sim, NULL },
	{ "regress", "rerun recorded configurations and fail when SAR moves", ts_cmd_regress, NULL },
	{ NULL, NULL, NULL, NULL },
};

/* A simulator factory with its options read from a run's options (noise,
 * moves) and the run's seed; its options live with the factory. */
static int make_sim(const json_t *options, uint64_t seed, struct ts_backend_factory *out,
		    struct ts_error *err)
{
	struct ts_sim_opts *o = malloc(sizeof(*o));
	if (!o)
		return ts_err_set(err, TS_ENOMEM, "out of memory for the simulator's options");
	ts_sim_opts_defaults(o);
	if (options)
		ts_sim_opts_from_json(o, options);
	o->seed = seed;
	*out = ts_sim_factory(o);
	return 0;
}

static void release_sim(struct ts_backend_factory *f)
{
	free(f->ctx);
	f->ctx = NULL;
}

const struct ts_backend_entry ts_backends_sim[] = {
	{ "sim", make_sim, release_sim },
	{ NULL, NULL, NULL },
};
