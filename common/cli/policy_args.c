/* policy_args.c: --policy lists and the policies' CLI flags (see policy_args.h). */
#include "cli/policy_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A flag of some registered policy. */
struct flag_entry {
	const struct ts_policy_ops *ops;
	const struct ts_policy_flag *flag;
};

#define MAX_FLAGS 64

/* All flags of the registry, collected once. */
static int collect_flags(struct flag_entry *out)
{
	int n = 0;
	for (size_t i = 0; ts_policy_at(i); i++) {
		const struct ts_policy_ops *ops = ts_policy_at(i);
		for (const struct ts_policy_flag *f = ops->flags; f && f->flag && n < MAX_FLAGS; f++)
			out[n++] = (struct flag_entry){ ops, f };
	}
	return n;
}

static int push_spec(struct ts_policy_list *l, const char *s, size_t len, struct ts_error *err)
{
	if (len == 0)
		return ts_err_set(err, TS_EINVAL, "--policy has an empty entry");
	char **p = realloc(l->spec, (size_t)(l->n + 1) * sizeof(*p));
	if (!p)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	l->spec = p;
	if (!(l->spec[l->n] = strndup(s, len)))
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	l->n++;
	return 0;
}

/* Does a new spec start right after the comma at c? */
static bool starts_spec(const char *c)
{
	size_t len = strcspn(c + 1, ":,");
	return ts_policy_name_known(c + 1, len);
}

/* An empty list, or an empty entry: a comma at either end or two in a row. */
static bool has_empty_entry(const char *text)
{
	size_t n = strlen(text);
	return n == 0 || text[0] == ',' || text[n - 1] == ',' || strstr(text, ",,");
}

int ts_policy_list_parse(const char *text, struct ts_policy_list *out, struct ts_error *err)
{
	*out = (struct ts_policy_list){ 0 };
	if (!*text)
		return ts_err_set(err, TS_EINVAL, "--policy is empty");
	if (has_empty_entry(text))
		return ts_err_set(err, TS_EINVAL, "--policy '%s' has an empty entry", text);
	const char *start = text;
	int rc = 0;
	for (const char *p = text; !rc; p++) {
		if (*p && !(*p == ',' && starts_spec(p)))
			continue;
		rc = push_spec(out, start, (size_t)(p - start), err);
		if (!*p)
			break;
		start = p + 1;
	}
	if (rc)
		ts_policy_list_free(out);
	return rc;
}

void ts_policy_list_free(struct ts_policy_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->spec[i]);
	free(l->spec);
	*l = (struct ts_policy_list){ 0 };
}

char *ts_policy_list_join(const struct ts_policy_list *l)
{
	size_t n = 1;
	for (int i = 0; i < l->n; i++)
		n += strlen(l->spec[i]) + 1;
	char *s = malloc(n);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (int i = 0; i < l->n; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, l->spec[i]);
	}
	return s;
}

const struct option *ts_policy_flag_options(int base, int *n)
{
	static struct option opts[MAX_FLAGS + 1];
	struct flag_entry fl[MAX_FLAGS];
	*n = collect_flags(fl);
	for (int i = 0; i < *n; i++)
		opts[i] = (struct option){ fl[i].flag->flag,
					   fl[i].flag->takes_value ? required_argument : no_argument, NULL,
					   base + i };
	opts[*n] = (struct option){ 0 };
	return opts;
}

/* The spec with the flag's item inserted right after its name, before the
 * spec's own items ("NAME:item+value[:own...]"), so an item written in the
 * spec overrides the flag, as before specs carried options. malloc'ed. */
static char *edited_spec(const char *spec, const char *item, const char *value)
{
	size_t name = ts_spec_name_len(spec);
	const char *own = spec[name] == ':' ? spec + name + 1 : "";
	size_t n = strlen(spec) + strlen(item) + (value ? strlen(value) : 0) + 3;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%.*s:%s%s%s%s", (int)name, spec, item, value ? value : "",
			 *own ? ":" : "", own);
	return s;
}

/* Replaces *spec by its edit when its policy owns flag f. */
static int apply_to_spec(char **spec, const struct flag_entry *f, const char *value,
			 struct ts_error *err)
{
	char *params;
	const struct ts_policy_ops *ops = ts_policy_find(*spec, &params, NULL);
	free(params);
	if (ops != f->ops)
		return 0; /* another policy, or unknown: init says so later */
	char *s = edited_spec(*spec, f->flag->item, f->flag->takes_value ? value : NULL);
	if (!s)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	free(*spec);
	*spec = s;
	return 0;
}

/* The flag's value checked against its policy's option table, whether or
 * not that policy is in the list: a bad value is bad usage. */
static int check_flag_value(const struct flag_entry *f, const char *value, struct ts_error *err)
{
	if (!f->flag->takes_value)
		return 0;
	size_t n = strlen(f->flag->item) + strlen(value) + 1;
	char *item = malloc(n);
	if (!item)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	snprintf(item, n, "%s%s", f->flag->item, value);
	int rc = ts_spec_check_items(f->ops->name, f->ops->options, item, err);
	free(item);
	if (rc)
		ts_err_prefix(err, "--%s", f->flag->flag);
	return rc;
}

int ts_policy_list_apply_flag(struct ts_policy_list *l, int index, const char *value,
			      struct ts_error *err)
{
	struct flag_entry fl[MAX_FLAGS];
	int n = collect_flags(fl);
	if (index < 0 || index >= n)
		return ts_err_set(err, TS_EINVAL, "unknown policy flag %d", index);
	if (value && strchr(value, ':'))
		return ts_err_set(err, TS_EINVAL, "--%s '%s': a value may not contain ':'",
				  fl[index].flag->flag, value);
	int rc = check_flag_value(&fl[index], value, err);
	if (rc)
		return rc;
	for (int i = 0; i < l->n && !rc; i++)
		rc = apply_to_spec(&l->spec[i], &fl[index], value, err);
	return rc;
}

int ts_policy_list_apply_named(struct ts_policy_list *l, const char *flag, const char *value,
			       struct ts_error *err)
{
	struct flag_entry fl[MAX_FLAGS];
	int n = collect_flags(fl);
	for (int i = 0; i < n; i++)
		if (!strcmp(fl[i].flag->flag, flag))
			return ts_policy_list_apply_flag(l, i, value, err);
	return ts_err_set(err, TS_ENOTFOUND, "no policy has the flag --%s", flag);
}

void ts_policy_flags_help(FILE *f)
{
	struct flag_entry fl[MAX_FLAGS];
	int n = collect_flags(fl);
	for (int i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof(name), "--%s%s", fl[i].flag->flag, fl[i].flag->takes_value ? " V" : "");
		fprintf(f, "  %-18s %s (= :%s%s in the spec)\n", name, fl[i].flag->help, fl[i].flag->item,
			fl[i].flag->takes_value ? "V" : "");
	}
}

/* The value of a legacy member as flag text: NULL when it does not apply
 * the flag (false, 0, null); "" for a switch. */
static const char *legacy_value(const json_t *v, bool takes_value, char *buf, size_t size)
{
	if (!takes_value)
		return json_is_true(v) ? "" : NULL;
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_number(v) && json_number_value(v) != 0) {
		snprintf(buf, size, "%.17g", json_number_value(v));
		return buf;
	}
	return NULL;
}

int ts_policy_spec_apply_legacy(char **spec, const json_t *options, struct ts_error *err)
{
	struct flag_entry fl[MAX_FLAGS];
	int n = collect_flags(fl);
	for (int i = 0; i < n; i++) {
		char key[64], num[40];
		snprintf(key, sizeof(key), "%s", fl[i].flag->flag);
		for (char *c = key; *c; c++)
			*c = *c == '-' ? '_' : *c;
		const char *value = legacy_value(json_object_get(options, key), fl[i].flag->takes_value,
						 num, sizeof(num));
		if (value) {
			int rc = apply_to_spec(spec, &fl[i], value, err);
			if (rc)
				return rc;
		}
	}
	return 0;
}
