/* plugin.c: the loader of policies from shared libraries (see plugin.h,
 * docs/PLUGINS.md). No state of its own: every find opens the library
 * again (dlopen returns the handle already loaded, with its count raised)
 * and checks the entry point again. */
#include "sched/plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PLUGIN_USAGE "plugin:PATH.so[:KEY=VALUE]..."

typedef const struct ts_policy_ops *(*entry_fn)(int *abi_version);

bool ts_plugin_spec(const char *spec)
{
	size_t n = strlen(TS_PLUGIN_NAME);
	return !strncmp(spec, TS_PLUGIN_NAME, n) && (spec[n] == ':' || spec[n] == '\0');
}

/* The end of PATH in text (the text after "plugin:"): just past the first
 * ".so" followed by ':' or the end; NULL when there is none. */
static const char *path_end(const char *text)
{
	for (const char *s = strstr(text, ".so"); s; s = strstr(s + 1, ".so"))
		if (s[3] == ':' || s[3] == '\0')
			return s + 3;
	return NULL;
}

/* Splits spec into the malloc'ed library path (with "./" before a path
 * without '/') and the items after it (a pointer into spec, or NULL). */
static int split_spec(const char *spec, char **path, const char **items, struct ts_error *err)
{
	const char *text = spec + strlen(TS_PLUGIN_NAME);
	text += *text == ':';
	const char *end = path_end(text);
	if (!end || end - text <= 3)
		return ts_err_set(err, TS_EINVAL,
				  "policy '%s': a plug-in spec is " PLUGIN_USAGE
				  " (the path of a shared library ending in .so; docs/PLUGINS.md)",
				  spec);
	bool bare = !memchr(text, '/', (size_t)(end - text));
	size_t len = (size_t)(end - text) + (bare ? 2 : 0);
	if (!(*path = malloc(len + 1)))
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	memcpy(*path, bare ? "./" : "", bare ? 2 : 0);
	memcpy(*path + (bare ? 2 : 0), text, (size_t)(end - text));
	(*path)[len] = '\0';
	*items = *end == ':' && end[1] ? end + 1 : NULL;
	return 0;
}

/* dlopen()s path now (every symbol resolved) and locally; a missing file
 * is told apart from a file the dynamic loader refuses. */
static void *open_library(const char *path, struct ts_error *err)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		ts_err_set(err, TS_ENOTFOUND, "plug-in %s: %s (give the path of the plug-in's .so)", path,
			   strerror(errno));
		return NULL;
	}
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		ts_err_set(err, TS_EINVAL,
			   "plug-in %s: the dynamic loader refused it: %s (a plug-in is a shared library "
			   "built with -shared -fPIC that uses only functions of the installed headers; "
			   "docs/PLUGINS.md)",
			   path, dlerror());
	return lib;
}

/* The library's entry point, NULL (err set) when it exports none. */
static entry_fn find_entry(void *lib, const char *path, struct ts_error *err)
{
	dlerror();
	void *sym = dlsym(lib, TS_PLUGIN_ENTRY_SYMBOL);
	entry_fn fn = NULL;
	if (sym)
		memcpy(&fn, &sym, sizeof(fn)); /* POSIX: dlsym's object pointer is the function */
	else
		ts_err_set(err, TS_EINVAL,
			   "plug-in %s exports no symbol %s: define it with TS_POLICY_PLUGIN(ops) from "
			   "sched/plugin.h (docs/PLUGINS.md)",
			   path, TS_PLUGIN_ENTRY_SYMBOL);
	return fn;
}

/* Calls the entry point and checks the version, then the table. */
static const struct ts_policy_ops *checked_ops(entry_fn entry, const char *path, struct ts_error *err)
{
	int abi = -1;
	const struct ts_policy_ops *ops = entry(&abi);
	if (abi != TS_POLICY_ABI_VERSION) {
		ts_err_set(err, TS_EINVAL,
			   "plug-in %s was built for policy ABI version %d, this tetriserve (%s) has "
			   "version %d: rebuild the plug-in against this tetriserve's installed headers "
			   "(pkg-config --cflags tetriserve; docs/PLUGINS.md)",
			   path, abi, TS_VERSION, TS_POLICY_ABI_VERSION);
		return NULL;
	}
	const char *missing = !ops ? "its ops table (the entry point returned NULL)"
			    : !ops->name || !*ops->name ? "a name"
			    : !ops->init ? "an init function"
			    : !ops->plan ? "a plan function"
			    : NULL;
	if (missing) {
		ts_err_set(err, TS_EINVAL, "plug-in %s: the policy lacks %s (docs/PLUGINS.md)", path,
			   missing);
		return NULL;
	}
	return ops;
}

/* Opens the library at path and returns its checked table; closes the
 * library again when it is refused. */
static const struct ts_policy_ops *load(const char *path, struct ts_error *err)
{
	void *lib = open_library(path, err);
	if (!lib)
		return NULL;
	entry_fn entry = find_entry(lib, path, err);
	const struct ts_policy_ops *ops = entry ? checked_ops(entry, path, err) : NULL;
	if (!ops)
		dlclose(lib);
	/* else never closed: the table lives in the library (docs/PLUGINS.md) */
	return ops;
}

const struct ts_policy_ops *ts_plugin_find(const char *spec, char **params, struct ts_error *err)
{
	char *path = NULL;
	const char *items = NULL;
	*params = NULL;
	if (split_spec(spec, &path, &items, err))
		return NULL;
	const struct ts_policy_ops *ops = load(path, err);
	free(path);
	if (ops && items && !(*params = strdup(items))) {
		ts_err_set(err, TS_ENOMEM, "out of memory");
		return NULL;
	}
	return ops;
}
