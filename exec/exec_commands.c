/* exec_commands.c: the commands exec/ contributes to `tetriserve` in a
 * build with the CUDA executor. */
#include <stddef.h>

#include "cli/command.h"
#include "ts_exec_cmd.h"
#include "ts_profile_cmd.h"
#include "ts_validate_gpu.h"

const struct ts_command ts_commands_exec[] = {
	{ "profile", "measure step latencies on this machine's GPUs", ts_cmd_profile, NULL },
	{ "exec", "serve a trace on this machine's GPUs under policies", ts_cmd_exec, NULL },
	{ "validate", "simulator against hardware on one trace, in one command (or two stored runs)",
	  ts_cmd_validate_gpu, NULL },
	{ NULL, NULL, NULL, NULL },
};
