/* model_json.h: the step-time model file (JSON, docs/STEP_MODEL.md): the
 * model and GPU, the preset's shape, the device's peaks, every parameter
 * with its value and source, the all-to-all figures per degree, the fit's
 * inputs and errors, and the measured cells it was fitted on. */
#ifndef TS_MODEL_JSON_H
#define TS_MODEL_JSON_H

#include "core/ts_error.h"
#include "model/step_model.h"

/* Writes *m to path (replacing it). TS_EIO naming the path on failure. */
int ts_step_model_save(const struct ts_step_model *m, const char *path, struct ts_error *err);

/* Reads a model file written by ts_step_model_save() into *m (zeroed on
 * error). TS_EIO for an unreadable file; TS_EPARSE naming the path and the
 * key for malformed JSON, another version, a missing or non-positive value,
 * an unknown model preset. */
int ts_step_model_load(struct ts_step_model *m, const char *path, struct ts_error *err);

#endif
