/* ts_attention_cudnn.c: attention through cuDNN's fused scaled-dot-product
 * forward operation (CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR, cuDNN 9.13
 * and later), the kernel PyTorch's SDPA picks on Hopper.
 *
 * cuDNN is loaded at run time (dlopen of libcudnn.so.9): a build runs where
 * cuDNN is missing, and then only the own kernels of ts_attention.cu and
 * ts_attention_sm90.cu run. Building a plan (heuristics, engine choice and,
 * for runtime-compiled engines, NVRTC) takes milliseconds to seconds, so
 * plans are cached per shape; each owns its workspace, which is never freed
 * before the context is, because captured CUDA graphs point at it. */
#include <stddef.h>

#include "ts_attention.h"

#ifdef TS_HAVE_CUDNN

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>
#include <cudnn_graph.h>

#define TS_CUDNN_PLANS 128
#define TS_CUDNN_MIN_VERSION 91300 /* the SDPA forward operation */

/* Tensor ids of the variant pack. */
enum { TS_UID_Q = 1, TS_UID_K, TS_UID_V, TS_UID_O, TS_UID_SCALE };

/* The cuDNN entry points tetriserve calls, resolved once per process. */
struct ts_cudnn_api {
	size_t (*get_version)(void);
	const char *(*error_string)(cudnnStatus_t);
	void (*last_error)(char *, size_t);
	cudnnStatus_t (*create)(cudnnHandle_t *);
	cudnnStatus_t (*destroy)(cudnnHandle_t);
	cudnnStatus_t (*set_stream)(cudnnHandle_t, cudaStream_t);
	cudnnStatus_t (*desc_create)(cudnnBackendDescriptorType_t, cudnnBackendDescriptor_t *);
	cudnnStatus_t (*desc_destroy)(cudnnBackendDescriptor_t);
	cudnnStatus_t (*finalize)(cudnnBackendDescriptor_t);
	cudnnStatus_t (*set_attr)(cudnnBackendDescriptor_t, cudnnBackendAttributeName_t,
				  cudnnBackendAttributeType_t, int64_t, const void *);
	cudnnStatus_t (*get_attr)(cudnnBackendDescriptor_t const, cudnnBackendAttributeName_t,
				  cudnnBackendAttributeType_t, int64_t, int64_t *, void *);
	cudnnStatus_t (*execute)(cudnnHandle_t, cudnnBackendDescriptor_t, cudnnBackendDescriptor_t);
};

static struct ts_cudnn_api api;
static pthread_once_t api_once = PTHREAD_ONCE_INIT;
static char api_why[256]; /* empty once the API is loaded */

/* One cached plan: the shape it was built for (queries s_q, keys s_kv:
 * fewer when pad keys are gathered out), and the variant pack of the last
 * call (rebuilt only when the pointers or the scale change). */
struct ts_cudnn_plan {
	int64_t b, h, s_q, s_kv, d, q_batch_stride, kv_batch_stride;
	cudnnBackendDescriptor_t plan;
	void *ws;
	void *kv; /* gathered valid keys then values, for shapes with pad tokens */
	bool refused; /* no plan could be built: TS_ENOTFOUND at once */
	cudnnBackendDescriptor_t pack;
	const void *pack_ptr[4];
	float scale;
};

struct ts_attn_cudnn {
	cudnnHandle_t handle;
	struct ts_cudnn_plan plans[TS_CUDNN_PLANS];
	int nplans;
};

static void *ts_cudnn_sym(void *lib, const char *name)
{
	void *p = dlsym(lib, name);
	if (!p && !api_why[0])
		snprintf(api_why, sizeof(api_why), "cuDNN: %s not found in libcudnn.so.9", name);
	return p;
}

/* Loads libcudnn.so.9 and resolves the entry points; api_why says why not. */
static void ts_cudnn_load(void)
{
	void *lib = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *why = dlerror();
		snprintf(api_why, sizeof(api_why), "cuDNN not loaded (%s); put libcudnn.so.9 on "
			 "LD_LIBRARY_PATH to use it", why ? why : "libcudnn.so.9 not found");
		return;
	}
	*(void **)&api.get_version = ts_cudnn_sym(lib, "cudnnGetVersion");
	*(void **)&api.error_string = ts_cudnn_sym(lib, "cudnnGetErrorString");
	*(void **)&api.last_error = ts_cudnn_sym(lib, "cudnnGetLastErrorString");
	*(void **)&api.create = ts_cudnn_sym(lib, "cudnnCreate");
	*(void **)&api.destroy = ts_cudnn_sym(lib, "cudnnDestroy");
	*(void **)&api.set_stream = ts_cudnn_sym(lib, "cudnnSetStream");
	*(void **)&api.desc_create = ts_cudnn_sym(lib, "cudnnBackendCreateDescriptor");
	*(void **)&api.desc_destroy = ts_cudnn_sym(lib, "cudnnBackendDestroyDescriptor");
	*(void **)&api.finalize = ts_cudnn_sym(lib, "cudnnBackendFinalize");
	*(void **)&api.set_attr = ts_cudnn_sym(lib, "cudnnBackendSetAttribute");
	*(void **)&api.get_attr = ts_cudnn_sym(lib, "cudnnBackendGetAttribute");
	*(void **)&api.execute = ts_cudnn_sym(lib, "cudnnBackendExecute");
	if (!api_why[0] && api.get_version() < TS_CUDNN_MIN_VERSION)
		snprintf(api_why, sizeof(api_why), "cuDNN %zu is older than 9.13 (no fused SDPA "
			 "operation)", api.get_version());
	if (api_why[0])
		dlclose(lib); /* the handle stays open on success, for the process */
}

/* Sets *err from a failed cuDNN call, with cuDNN's own last message. */
static int ts_cudnn_fail(struct ts_error *err, const char *file, int line, const char *call,
			 cudnnStatus_t st)
{
	char detail[256] = "";
	api.last_error(detail, sizeof(detail));
	return ts_err_set(err, TS_EDEVICE, "%s:%d: %s: %s%s%s", file, line, call,
			  api.error_string(st), detail[0] ? ": " : "", detail);
}

#define TS_DNN(call, err, rc, label)                                               \
	do {                                                                       \
		cudnnStatus_t ts_st_ = (call);                                     \
		if (ts_st_ != CUDNN_STATUS_SUCCESS) {                              \
			rc = ts_cudnn_fail((err), __FILE__, __LINE__, #call, ts_st_); \
			goto label;                                                \
		}                                                                  \
	} while (0)

bool ts_attn_cudnn_available(const char **why)
{
	pthread_once(&api_once, ts_cudnn_load);
	if (why)
		*why = api_why[0] ? api_why : NULL;
	return !api_why[0];
}

int ts_attn_cudnn_create(struct ts_attn_cudnn **out, struct ts_error *err)
{
	const char *why;
	*out = NULL;
	if (!ts_attn_cudnn_available(&why))
		return ts_err_set(err, TS_ENOTFOUND, "%s", why);
	struct ts_attn_cudnn *c = calloc(1, sizeof(*c));
	if (!c)
		return ts_err_set(err, TS_ENOMEM, "cuDNN attention: out of host memory");
	int rc = 0;
	TS_DNN(api.create(&c->handle), err, rc, fail);
	*out = c;
	return 0;
fail:
	free(c);
	return rc;
}

void ts_attn_cudnn_destroy(struct ts_attn_cudnn *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->nplans; i++) {
		struct ts_cudnn_plan *p = &c->plans[i];
		if (p->pack)
			api.desc_destroy(p->pack);
		if (p->plan)
			api.desc_destroy(p->plan);
		cudaFree(p->ws);
		cudaFree(p->kv);
	}
	api.destroy(c->handle);
	free(c);
}

bool ts_attn_cudnn_supports(const struct ts_attn_args *a)
{
	return (a->head_dim == 64 || a->head_dim == 128) &&
	       ts_attn_valid_txt(a) + ts_attn_valid_img(a) >= 1 && (a->chunks == 1 || a->batch == 1);
}

/* A finalized bf16 (or by-value fp32 scalar) tensor descriptor. */
static int ts_cudnn_tensor(cudnnBackendDescriptor_t *t, int64_t uid, const int64_t dims[4],
			   const int64_t strides[4], bool by_value, struct ts_error *err)
{
	int rc = 0;
	cudnnDataType_t type = by_value ? CUDNN_DATA_FLOAT : CUDNN_DATA_BFLOAT16;
	int64_t align = by_value ? 4 : 16;
	TS_DNN(api.desc_create(CUDNN_BACKEND_TENSOR_DESCRIPTOR, t), err, rc, out);
	TS_DNN(api.set_attr(*t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type), err,
	       rc, fail);
	TS_DNN(api.set_attr(*t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims), err, rc,
	       fail);
	TS_DNN(api.set_attr(*t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides), err, rc,
	       fail);
	TS_DNN(api.set_attr(*t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid), err, rc,
	       fail);
	TS_DNN(api.set_attr(*t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align),
	       err, rc, fail);
	if (by_value)
		TS_DNN(api.set_attr(*t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1,
				    &by_value), err, rc, fail);
	TS_DNN(api.finalize(*t), err, rc, fail);
	return 0;
fail:
	api.desc_destroy(*t);
out:
	*t = NULL;
	return rc;
}

/* The operation graph of one SDPA forward over [b][h][s][d] tensors laid out
 * as [b][s][h][d] (token stride h*d; sample strides from p). */
static int ts_cudnn_graph(struct ts_attn_cudnn *c, const struct ts_cudnn_plan *p,
			  cudnnBackendDescriptor_t *graph, struct ts_error *err)
{
	const int64_t q_dims[4] = {p->b, p->h, p->s_q, p->d};
	const int64_t q_strides[4] = {p->q_batch_stride, p->d, p->h * p->d, 1};
	const int64_t kv_dims[4] = {p->b, p->h, p->s_kv, p->d};
	const int64_t kv_strides[4] = {p->kv_batch_stride, p->d, p->h * p->d, 1};
	const int64_t one[4] = {1, 1, 1, 1};
	/* Q, K, V, O, scale */
	const int64_t *dims[5] = {q_dims, kv_dims, kv_dims, q_dims, one};
	const int64_t *strides[5] = {q_strides, kv_strides, kv_strides, q_strides, one};
	static const cudnnBackendAttributeName_t slot[5] = {
		CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC, CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC,
		CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC, CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC,
		CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC};
	cudnnBackendDescriptor_t t[5] = {0}, op = NULL;
	int rc = 0;
	*graph = NULL;
	for (int i = 0; i < 5 && !rc; i++)
		rc = ts_cudnn_tensor(&t[i], TS_UID_Q + i, dims[i], strides[i], i == 4, err);
	if (rc)
		goto out;
	TS_DNN(api.desc_create(CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR, &op), err, rc, out);
	for (int i = 0; i < 5; i++)
		TS_DNN(api.set_attr(op, slot[i], CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &t[i]), err, rc,
		       out);
	TS_DNN(api.finalize(op), err, rc, out);
	TS_DNN(api.desc_create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, graph), err, rc, out);
	TS_DNN(api.set_attr(*graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1,
			    &c->handle), err, rc, out);
	TS_DNN(api.set_attr(*graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
			    &op), err, rc, out);
	TS_DNN(api.finalize(*graph), err, rc, out);
out:
	if (rc && *graph) {
		api.desc_destroy(*graph);
		*graph = NULL;
	}
	if (op)
		api.desc_destroy(op);
	for (int i = 0; i < 5; i++)
		if (t[i])
			api.desc_destroy(t[i]);
	return rc;
}

/* The first engine configuration of cuDNN's heuristics (mode A) whose
 * execution plan finalizes for the graph, in p->plan. The plan holds what it
 * needs from the configuration, graph and tensors (cuDNN copies them at
 * finalize), so only the plan outlives this call. */
static int ts_cudnn_pick_plan(struct ts_attn_cudnn *c, cudnnBackendDescriptor_t graph,
			      struct ts_cudnn_plan *p, struct ts_error *err)
{
	enum { MAX_CFG = 16 };
	cudnnBackendDescriptor_t heur = NULL, cfg[MAX_CFG] = {0};
	cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
	int64_t ncfg = 0;
	int rc = 0;
	TS_DNN(api.desc_create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &heur), err, rc, out);
	TS_DNN(api.set_attr(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH,
			    CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph), err, rc, out);
	TS_DNN(api.set_attr(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode), err,
	       rc, out);
	TS_DNN(api.finalize(heur), err, rc, out);
	for (int i = 0; i < MAX_CFG; i++)
		TS_DNN(api.desc_create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfg[i]), err, rc, out);
	TS_DNN(api.get_attr(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
			    MAX_CFG, &ncfg, cfg), err, rc, out);
	if (ncfg > MAX_CFG) /* the count may be of all results, not those returned */
		ncfg = MAX_CFG;
	if (ncfg < 1) {
		rc = ts_err_set(err, TS_EDEVICE, "cuDNN attention: the heuristics offer no engine "
				"for the SDPA graph");
		goto out;
	}
	cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
	for (int64_t i = 0; i < ncfg && !p->plan; i++) {
		cudnnBackendDescriptor_t plan = NULL;
		TS_DNN(api.desc_create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan), err, rc, out);
		last = api.set_attr(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1,
				    &c->handle);
		if (last == CUDNN_STATUS_SUCCESS)
			last = api.set_attr(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
					    CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg[i]);
		if (last == CUDNN_STATUS_SUCCESS)
			last = api.finalize(plan);
		if (last == CUDNN_STATUS_SUCCESS)
			p->plan = plan;
		else
			api.desc_destroy(plan);
	}
	if (!p->plan)
		rc = ts_cudnn_fail(err, __FILE__, __LINE__, "no execution plan for the SDPA graph",
				   last);
out:
	for (int i = 0; i < MAX_CFG; i++)
		if (cfg[i])
			api.desc_destroy(cfg[i]);
	if (heur)
		api.desc_destroy(heur);
	return rc;
}

/* The plan key of a's shape: the keys are the valid ones, gathered into a
 * [b][valid][h][d] buffer, when a masks pad tokens. */
static struct ts_cudnn_plan ts_cudnn_key(const struct ts_attn_args *a)
{
	struct ts_cudnn_plan k;
	memset(&k, 0, sizeof(k));
	k.b = a->batch, k.h = a->heads, k.d = a->head_dim;
	k.s_q = (int64_t)a->chunks * a->chunk_tokens;
	/* one sample: any stride; the canonical one keeps shapes on one plan */
	k.q_batch_stride = (a->batch == 1 ? k.s_q : a->chunk_tokens) * a->heads * a->head_dim;
	k.s_kv = ts_attn_valid_txt(a) + ts_attn_valid_img(a);
	k.kv_batch_stride = k.s_kv == k.s_q ? k.q_batch_stride : k.s_kv * a->heads * a->head_dim;
	return k;
}

static bool ts_cudnn_key_eq(const struct ts_cudnn_plan *x, const struct ts_cudnn_plan *y)
{
	return x->b == y->b && x->h == y->h && x->d == y->d && x->s_q == y->s_q &&
	       x->s_kv == y->s_kv && x->q_batch_stride == y->q_batch_stride &&
	       x->kv_batch_stride == y->kv_batch_stride;
}

/* cudaMalloc of n bytes into *p (n = 0: NULL), TS_EDEVICE naming what. */
static int ts_cudnn_alloc(void **p, int64_t n, const char *what, struct ts_error *err)
{
	*p = NULL;
	if (n > 0 && cudaMalloc(p, (size_t)n) != cudaSuccess) {
		cudaGetLastError();
		*p = NULL;
		return ts_err_set(err, TS_EDEVICE, "cuDNN attention: no device memory for the "
				  "%lld-byte %s", (long long)n, what);
	}
	return 0;
}

/* Bytes of p's gathered keys (the values follow them in p->kv); 0 when the
 * shape has no pad keys and nothing is gathered. */
static int64_t ts_cudnn_gathered_bytes(const struct ts_cudnn_plan *p)
{
	return p->s_kv < p->s_q ? p->b * p->s_kv * p->h * p->d * 2 : 0;
}

/* Builds p's plan, workspace and gather buffer; on failure p holds none. */
static int ts_cudnn_build(struct ts_attn_cudnn *c, struct ts_cudnn_plan *p, struct ts_error *err)
{
	cudnnBackendDescriptor_t graph;
	int rc = ts_cudnn_graph(c, p, &graph, err);
	if (!rc)
		rc = ts_cudnn_pick_plan(c, graph, p, err);
	if (graph)
		api.desc_destroy(graph);
	if (rc)
		return rc;
	int64_t ws = 0, n = 0;
	int64_t kv_bytes = 2 * ts_cudnn_gathered_bytes(p);
	TS_DNN(api.get_attr(p->plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
			    &n, &ws), err, rc, fail);
	rc = ts_cudnn_alloc(&p->ws, ws, "workspace", err);
	if (!rc)
		rc = ts_cudnn_alloc(&p->kv, kv_bytes, "buffer of gathered keys and values", err);
	if (!rc)
		return 0;
fail:
	cudaFree(p->ws);
	p->ws = NULL;
	api.desc_destroy(p->plan);
	p->plan = NULL;
	return rc;
}

/* The cached plan for a's shape, built (with its workspace and gather
 * buffer) on first use; TS_ENOTFOUND for a shape cuDNN has no plan for
 * (then and on every later call). */
static int ts_cudnn_plan_for(struct ts_attn_cudnn *c, const struct ts_attn_args *a,
			     struct ts_cudnn_plan **out, struct ts_error *err)
{
	struct ts_cudnn_plan key = ts_cudnn_key(a);
	for (int i = 0; i < c->nplans; i++) {
		if (!ts_cudnn_key_eq(&c->plans[i], &key))
			continue;
		*out = &c->plans[i];
		if (c->plans[i].refused)
			return ts_err_set(err, TS_ENOTFOUND, "cuDNN attention: no plan for %lld x "
					  "%lld tokens, %lld heads x %lld (found before)",
					  (long long)key.s_q, (long long)key.s_kv,
					  (long long)key.h, (long long)key.d);
		return 0;
	}
	if (c->nplans == TS_CUDNN_PLANS)
		return ts_err_set(err, TS_ENOTFOUND, "cuDNN attention: %d shapes cached, no room "
				  "for another", TS_CUDNN_PLANS);
	int rc = ts_cudnn_build(c, &key, err);
	key.refused = rc != 0;
	c->plans[c->nplans] = key;
	*out = &c->plans[c->nplans++];
	if (!rc)
		return 0;
	/* remembered: the heuristics are not asked again for this shape */
	ts_err_prefix(err, "cuDNN attention: no plan for %lld x %lld tokens, %lld heads x %lld",
		      (long long)key.s_q, (long long)key.s_kv, (long long)key.h, (long long)key.d);
	if (err)
		err->code = TS_ENOTFOUND;
	return TS_ENOTFOUND;
}

/* p's variant pack for queries q, keys k, values v, output o and a's scale
 * (reused while they stay). */
static int ts_cudnn_pack_for(struct ts_cudnn_plan *p, const struct ts_attn_args *a,
			     const void *k, const void *v, struct ts_error *err)
{
	const void *ptr[4] = {a->q, k, v, a->o};
	if (p->pack && !memcmp(ptr, p->pack_ptr, sizeof(ptr)) && p->scale == a->scale)
		return 0;
	if (p->pack)
		api.desc_destroy(p->pack);
	p->pack = NULL;
	memcpy(p->pack_ptr, ptr, sizeof(ptr));
	p->scale = a->scale;
	/* The scale goes by value: cuDNN reads it from this host address. */
	void *data[5] = {(void *)a->q, (void *)k, (void *)v, a->o, &p->scale};
	const int64_t uid[5] = {TS_UID_Q, TS_UID_K, TS_UID_V, TS_UID_O, TS_UID_SCALE};
	int rc = 0;
	cudnnBackendDescriptor_t pack = NULL;
	TS_DNN(api.desc_create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack), err, rc, fail);
	TS_DNN(api.set_attr(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 5, uid), err,
	       rc, fail);
	TS_DNN(api.set_attr(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 5,
			    data), err, rc, fail);
	TS_DNN(api.set_attr(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1,
			    &p->ws), err, rc, fail);
	TS_DNN(api.finalize(pack), err, rc, fail);
	p->pack = pack;
	return 0;
fail:
	if (pack)
		api.desc_destroy(pack);
	memset(p->pack_ptr, 0, sizeof(p->pack_ptr));
	return rc;
}

int ts_attention_cudnn(struct ts_attn_cudnn *c, const struct ts_attn_args *a, void *stream,
		       struct ts_error *err)
{
	if (!ts_attn_cudnn_supports(a))
		return ts_err_set(err, TS_EINVAL, "cuDNN attention: shape not supported (several "
				  "samples over several SP chunks, or no valid key)");
	struct ts_cudnn_plan *p = NULL;
	int rc = ts_cudnn_plan_for(c, a, &p, err);
	const void *k = a->k, *v = a->v;
	if (!rc && p->kv) {
		k = p->kv;
		v = (const char *)p->kv + ts_cudnn_gathered_bytes(p);
		rc = ts_attn_gather_valid_kv(a, (void *)k, (void *)v, stream, err);
	}
	if (!rc)
		rc = ts_cudnn_pack_for(p, a, k, v, err);
	if (rc)
		return rc;
	TS_DNN(api.set_stream(c->handle, (cudaStream_t)stream), err, rc, out);
	TS_DNN(api.execute(c->handle, p->plan, p->pack), err, rc, out);
out:
	return rc;
}

#else /* built without cuDNN's headers: the own kernels run alone */

bool ts_attn_cudnn_available(const char **why)
{
	if (why)
		*why = "tetriserve was built without cuDNN's headers (cudnn_graph.h)";
	return false;
}

int ts_attn_cudnn_create(struct ts_attn_cudnn **out, struct ts_error *err)
{
	*out = NULL;
	return ts_err_set(err, TS_ENOTFOUND, "cuDNN attention: built without cuDNN's headers");
}

void ts_attn_cudnn_destroy(struct ts_attn_cudnn *c)
{
	(void)c;
}

bool ts_attn_cudnn_supports(const struct ts_attn_args *a)
{
	(void)a;
	return false;
}

int ts_attention_cudnn(struct ts_attn_cudnn *c, const struct ts_attn_args *a, void *stream,
		       struct ts_error *err)
{
	(void)c, (void)a, (void)stream;
	return ts_err_set(err, TS_EINVAL, "cuDNN attention: built without cuDNN's headers");
}

#endif
