/* commands.c: the commands of common/cli, which need no backend. (The
 * comparison `validate` prints is here, cmd_validate.h; the command itself
 * is exec/'s, since it also serves and simulates.) */
#include <stddef.h>

#include "cli/cmd_bound.h"
#include "cli/cmd_merge.h"
#include "cli/cmd_profile_model.h"
#include "cli/cmd_report.h"
#include "cli/cmd_timeline.h"
#include "cli/cmd_trace.h"
#include "cli/command.h"

const struct ts_command ts_commands_common[] = {
	{ "trace", "generate a trace (trace gen) or describe one (trace stats FILE)", ts_cmd_trace, NULL },
	{ "report", "summarise and compare stored runs", ts_cmd_report, NULL },
	{ "merge", "combine results files without duplicate runs", ts_cmd_merge, NULL },
	{ "timeline", "a run's segments as Chrome trace-event JSON for Perfetto", ts_cmd_timeline, NULL },
	{ "bound", "upper bound on SLO attainment of a trace (exact MILP optimum, GLPK)", ts_cmd_bound, NULL },
	{ "profile model", "fit, predict and validate the step-time model (no GPU)", ts_cmd_profile_model, NULL },
	{ NULL, NULL, NULL, NULL },
};
