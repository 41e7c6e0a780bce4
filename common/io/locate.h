/* locate.h: input files named portably. A results baseline or an
 * experiment stores the paths of its trace and profile relative to its own
 * folder, plus each file's content hash, so it works in any checkout; a path
 * that no longer resolves is looked up by hash among bundled inputs. */
#ifndef TS_LOCATE_H
#define TS_LOCATE_H

#include <stdint.h>

#include "core/ts_error.h"

/* FNV-1a 64 of the bytes of the file at path into *hash (the hash traces
 * and profiles carry). TS_EIO naming the path when it cannot be read. */
int ts_file_hash(const char *path, uint64_t *hash, struct ts_error *err);

/* The path of the existing file `path` (relative to the working directory,
 * or absolute) written relative to the folder base_dir, e.g.
 * "../../traces/default.csv"; *out is malloc'ed. Symbolic links are
 * resolved on both sides. TS_EIO when either cannot be resolved. */
int ts_path_relative_to(const char *path, const char *base_dir, char **out, struct ts_error *err);

/* A stored path joined to base_dir unless it is absolute (or base_dir is
 * NULL); *out is malloc'ed. TS_ENOMEM only. */
int ts_path_join(const char *base_dir, const char *stored, char **out, struct ts_error *err);

/* The folder part of path ("." when it has none); malloc'ed, NULL when out
 * of memory. */
char *ts_path_dirname(const char *path);

/* Searches the folders dirs[0..ndirs) (NULL entries skipped), each with its
 * subfolders traces/ and traces/profiles/, for a .csv file whose content
 * hash is `hash`; *out receives its malloc'ed path. TS_ENOTFOUND with a
 * message naming `what` (e.g. "profile of configs[3]"), the hash and every
 * folder searched when none matches. */
int ts_locate_by_hash(uint64_t hash, const char *const *dirs, int ndirs, const char *what,
		      char **out, struct ts_error *err);

#endif
