#include "cli/store_sink.h"

static int sink_segment(void *self, const struct ts_segment *s, struct ts_error *err)
{
	return ts_store_segment(self, s, err);
}

static int sink_request_done(void *self, const struct ts_request *r, const struct ts_req_state *st,
			     struct ts_error *err)
{
	return ts_store_request(self, r, st->start, st->finish, err);
}

static int sink_round(void *self, const struct ts_round_rec *rr, struct ts_error *err)
{
	return ts_store_round(self, rr, err);
}

const struct ts_sink_ops ts_store_sink = {
	.segment = sink_segment,
	.request_done = sink_request_done,
	.round = sink_round,
};

int ts_store_unfinished(struct ts_store *s, const struct ts_trace *t, const struct ts_req_state *st,
			struct ts_error *err)
{
	for (size_t i = 0; i < t->n; i++) {
		if (st[i].finish >= 0)
			continue;
		int rc = ts_store_request(s, &t->req[i], st[i].start, -1, err);
		if (rc)
			return rc;
	}
	return 0;
}
