/* sim_commands.c: the commands sim/ contributes to `tetriserve`. */
#include <stddef.h>

#include "cli/command.h"
#include "sim_cmd.h"

const struct ts_command ts_commands_sim[] = {
	{ "sim", "replay a trace on the simulated GPU cluster", ts_cmd_sim, NULL },
	{ "regress", "rerun recorded configurations and fail when SAR moves", ts_cmd_regress, NULL },
	{ NULL, NULL, NULL, NULL },
};
