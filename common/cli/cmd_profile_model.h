/* cmd_profile_model.h: `tetriserve profile model`: fit the step-time model
 * on a measured profile, predict a profile from it, validate it by leaving
 * cells out (docs/STEP_MODEL.md). Needs no GPU. */
#ifndef TS_CMD_PROFILE_MODEL_H
#define TS_CMD_PROFILE_MODEL_H

/* argv[0] is "model"; returns 0, 1 (an input or the fit failed) or 2 (bad usage). */
int ts_cmd_profile_model(int argc, char **argv);

#endif
