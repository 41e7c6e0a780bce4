/* sim_backend.h: the discrete-event simulated GPU cluster. A launch takes the
 * profile's mean step time per step at its degree and batch (optionally with
 * seeded noise from the profile's CV), plus a latent-transfer cost when a
 * launch uses GPUs outside the request's last GPU set (each GPU of that set
 * holds the latent, so a launch on a subset of it moves nothing). Virtual
 * time jumps from event to event. */
#ifndef TS_SIM_BACKEND_H
#define TS_SIM_BACKEND_H

#include <jansson.h>

#include "driver/backend.h"
#include "driver/run.h"
#include "driver/timing.h"

struct ts_sim_opts {
	bool noise;                 /* draw launch times around the mean using the profile's CV */
	uint64_t seed;              /* seed of the noise stream */
	struct ts_move_model move;  /* latent moves (driver/timing.h); default 30 us + bytes / 50 GB/s */
};

/* Fills the documented defaults: no noise, seed 1, moves cost 30 us + bytes / 50 GB/s. */
void ts_sim_opts_defaults(struct ts_sim_opts *o);

/* Cost of moving the bf16 latent of an h x w image ((h/8)(w/8) x 16 values)
 * to another GPU set under o: ts_move_ns(&o->move, ...). */
ts_ns ts_sim_move_ns(const struct ts_sim_opts *o, int32_t height, int32_t width);

/* Creates a simulator over the class tables cls (not copied: must outlive
 * it). Returns TS_EINVAL for a non-positive bandwidth or negative cost. */
int ts_sim_create(void **self, const struct ts_sim_opts *o, const struct ts_classes *cls,
		  struct ts_error *err);

/* The ops table; close() frees what ts_sim_create() made. */
extern const struct ts_backend_ops ts_sim_backend;

/* The simulator as the run module's backend factory (name "sim"): each run
 * gets a fresh simulator with options *o (not copied: must outlive the
 * factory's use); its options go into the run's options as noise,
 * move_cost, move_us and move_gbps. */
struct ts_backend_factory ts_sim_factory(const struct ts_sim_opts *o);

/* Reads the simulator's options back from a run's options object (as
 * ts_sim_factory's describe wrote them; absent members keep *o's values). */
void ts_sim_opts_from_json(struct ts_sim_opts *o, const json_t *options);

#endif
