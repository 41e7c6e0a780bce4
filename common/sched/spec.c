/* spec.c: policy specs and option tables (see spec.h). */
#include "sched/spec.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ts_strbuf.h"

static void *field(void *dst, const struct ts_policy_option *o)
{
	return (char *)dst + o->offset;
}

static const void *cfield(const void *dst, const struct ts_policy_option *o)
{
	return (const char *)dst + o->offset;
}

static const struct ts_policy_option *find_key(const struct ts_policy_option *t, const char *key,
					       size_t len)
{
	for (; t && t->key; t++)
		if (strlen(t->key) == len && !strncmp(t->key, key, len))
			return t;
	return NULL;
}

static const struct ts_policy_option *find_positional(const struct ts_policy_option *t)
{
	for (; t && t->key; t++)
		if (t->positional)
			return t;
	return NULL;
}

/* "a, b, c": the keys of a table, for messages. */
static void list_keys(const struct ts_policy_option *t, char *buf, size_t size)
{
	struct ts_strbuf sb = ts_strbuf_init(buf, size);
	for (; t && t->key; t++)
		ts_strbuf_printf(&sb, "%s%s", sb.len ? ", " : "", t->key);
	if (!sb.len)
		ts_strbuf_printf(&sb, "none");
}

static int parse_switch(const char *v, bool *out)
{
	static const char *const on[] = { "on", "true", "1", "yes" }, *const off[] = { "off", "false", "0", "no" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(v, on[i]))
			return *out = true, 0;
		if (!strcmp(v, off[i]))
			return *out = false, 0;
	}
	return -1;
}

static int parse_number(const struct ts_policy_option *o, const char *v, double *out)
{
	char *end;
	errno = 0;
	double x = o->kind == TS_OPT_INT ? (double)strtoll(v, &end, 10) : strtod(v, &end);
	if (end == v || *end || errno == ERANGE || !isfinite(x) || x < o->min || x > o->max)
		return -1;
	*out = x;
	return 0;
}

static int parse_choice(const struct ts_policy_option *o, const char *v, int *out)
{
	for (int i = 0; o->choices[i]; i++)
		if (!strcmp(o->choices[i], v))
			return *out = i, 0;
	return -1;
}

/* What a value of option o must look like, for messages. */
static void expected(const struct ts_policy_option *o, char *buf, size_t size)
{
	struct ts_strbuf sb = ts_strbuf_init(buf, size);
	switch (o->kind) {
	case TS_OPT_INT: ts_strbuf_printf(&sb, "a whole number in %.17g..%.17g", o->min, o->max); break;
	case TS_OPT_REAL: ts_strbuf_printf(&sb, "a number in %g..%g", o->min, o->max); break;
	case TS_OPT_SWITCH: ts_strbuf_printf(&sb, "on or off"); break;
	case TS_OPT_CHOICE:
		for (int i = 0; o->choices[i]; i++)
			ts_strbuf_printf(&sb, "%s%s", i ? " or " : "one of ", o->choices[i]);
		break;
	case TS_OPT_TEXT: ts_strbuf_printf(&sb, "a non-empty text"); break;
	}
}

/* Stores value v (NUL-terminated) into option o of dst. */
static int set_value(const char *policy, const struct ts_policy_option *o, const char *v, void *dst,
		     struct ts_error *err)
{
	double x;
	int rc = -1;
	switch (o->kind) {
	case TS_OPT_INT:
		if ((rc = parse_number(o, v, &x)) == 0)
			*(int *)field(dst, o) = (int)x;
		break;
	case TS_OPT_REAL:
		if ((rc = parse_number(o, v, &x)) == 0)
			*(double *)field(dst, o) = x;
		break;
	case TS_OPT_SWITCH: rc = parse_switch(v, (bool *)field(dst, o)); break;
	case TS_OPT_CHOICE: rc = parse_choice(o, v, (int *)field(dst, o)); break;
	case TS_OPT_TEXT:
		if (*v) {
			char *copy = strdup(v);
			if (!copy)
				return ts_err_set(err, TS_ENOMEM, "out of memory");
			free(*(char **)field(dst, o));
			*(char **)field(dst, o) = copy;
			rc = 0;
		}
		break;
	}
	if (rc == 0)
		return 0;
	char what[200];
	expected(o, what, sizeof(what));
	return ts_err_set(err, TS_EINVAL, "%s: option %s='%s': expected %s", policy, o->key, v, what);
}

static int set_defaults(const char *policy, const struct ts_policy_option *t, void *dst,
			struct ts_error *err)
{
	for (; t && t->key; t++) {
		if (t->kind == TS_OPT_TEXT)
			*(char **)field(dst, t) = NULL;
		if (t->def) {
			int rc = set_value(policy, t, t->def, dst, err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* The end of the item starting at p: the next ':', or a ',' followed by
 * KEY= with KEY one of the table's named options (today's "a=1,b=2"). */
static const char *item_end(const struct ts_policy_option *t, const char *p)
{
	for (; *p && *p != ':'; p++) {
		if (*p != ',')
			continue;
		const char *eq = strchr(p + 1, '=');
		const char *colon = strchr(p + 1, ':');
		const char *comma = strchr(p + 1, ',');
		if (!eq || (colon && colon < eq) || (comma && comma < eq))
			continue;
		const struct ts_policy_option *o = find_key(t, p + 1, (size_t)(eq - p - 1));
		if (o && !o->positional)
			return p;
	}
	return p;
}

/* Applies one item [p, end) of the spec. */
static int apply_item(const char *policy, const struct ts_policy_option *t, const char *p,
		      const char *end, void *dst, struct ts_error *err)
{
	char keys[300];
	char *item = strndup(p, (size_t)(end - p));
	if (!item)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	char *eq = strchr(item, '=');
	const struct ts_policy_option *o = eq ? find_key(t, item, (size_t)(eq - item)) : NULL;
	/* a bare value, or one whose '=' is its own ("256=1,512=2"), sets the
	 * positional option; "word=value" with an unknown word is a typo */
	const struct ts_policy_option *pos = find_positional(t);
	int rc;
	if (o)
		rc = set_value(policy, o, eq + 1, dst, err);
	else if (pos && !(eq && isalpha((unsigned char)item[0])))
		rc = set_value(policy, pos, item, dst, err);
	else {
		list_keys(t, keys, sizeof(keys));
		rc = ts_err_set(err, TS_EINVAL, "%s: unknown option '%s' (known: %s)", policy, item, keys);
	}
	free(item);
	return rc;
}

int ts_spec_parse_options(const char *policy, const struct ts_policy_option *table,
			  const char *params, void *dst, struct ts_error *err)
{
	int rc = set_defaults(policy, table, dst, err);
	for (const char *p = params; !rc && p && *p;) {
		const char *end = item_end(table, p);
		if (end == p)
			rc = ts_err_set(err, TS_EINVAL, "%s: empty option item in '%s'", policy, params);
		else
			rc = apply_item(policy, table, p, end, dst, err);
		p = *end ? end + 1 : end;
		if (!rc && *end && !*p)
			rc = ts_err_set(err, TS_EINVAL, "%s: '%s' ends with a separator", policy, params);
	}
	if (rc)
		ts_spec_options_free(table, dst);
	return rc;
}

/* Bytes an options struct of the table spans at least (its last field's end). */
static size_t table_extent(const struct ts_policy_option *table)
{
	size_t end = 0;
	for (const struct ts_policy_option *t = table; t && t->key; t++) {
		size_t size = t->kind == TS_OPT_REAL ? sizeof(double)
			      : t->kind == TS_OPT_TEXT ? sizeof(char *)
			      : t->kind == TS_OPT_SWITCH ? sizeof(bool) : sizeof(int);
		if (t->offset + size > end)
			end = t->offset + size;
	}
	return end;
}

int ts_spec_check_items(const char *policy, const struct ts_policy_option *table,
			const char *params, struct ts_error *err)
{
	/* parsed into scratch memory laid out as the policy's options struct */
	void *scratch = calloc(1, table_extent(table) + sizeof(double));
	if (!scratch)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	int rc = ts_spec_parse_options(policy, table, params, scratch, err);
	if (!rc)
		ts_spec_options_free(table, scratch);
	free(scratch);
	return rc;
}

void ts_spec_options_free(const struct ts_policy_option *table, void *dst)
{
	for (const struct ts_policy_option *t = table; t && t->key; t++) {
		if (t->kind != TS_OPT_TEXT)
			continue;
		free(*(char **)field(dst, t));
		*(char **)field(dst, t) = NULL;
	}
}

static json_t *value_json(const struct ts_policy_option *o, const void *src)
{
	switch (o->kind) {
	case TS_OPT_INT: return json_integer(*(const int *)cfield(src, o));
	case TS_OPT_REAL: return json_real(*(const double *)cfield(src, o));
	case TS_OPT_SWITCH: return json_string(*(const bool *)cfield(src, o) ? "on" : "off");
	case TS_OPT_CHOICE: return json_string(o->choices[*(const int *)cfield(src, o)]);
	case TS_OPT_TEXT: {
		const char *s = *(char *const *)cfield(src, o);
		return s ? json_string(s) : json_null();
	}
	}
	return json_null();
}

json_t *ts_spec_options_json(const struct ts_policy_option *table, const void *src)
{
	json_t *obj = json_object();
	for (const struct ts_policy_option *t = table; obj && t && t->key; t++)
		if (json_object_set_new(obj, t->key, value_json(t, src))) {
			json_decref(obj);
			return NULL;
		}
	return obj;
}

void ts_spec_options_help(const struct ts_policy_option *table, const char *indent, FILE *f)
{
	for (const struct ts_policy_option *t = table; t && t->key; t++) {
		char what[200];
		expected(t, what, sizeof(what));
		fprintf(f, "%s%s=%s  %s (%s; default %s)%s\n", indent, t->key,
			t->kind == TS_OPT_SWITCH ? "on|off" : "V", t->help, what, t->def ? t->def : "none",
			t->positional ? "; the key may be left out" : "");
	}
}

size_t ts_spec_name_len(const char *spec)
{
	const char *colon = strchr(spec, ':');
	return colon ? (size_t)(colon - spec) : strlen(spec);
}
