/* outdir.h - writing the output folder: mkdir -p, rm -r, atomic file writes
 * and the staging folder.
 *
 * A run never writes into the user's output folder directly. It fills a
 * staging folder beside it, <parent>/.<name>.partial-<pid>, and at the end
 * renames it onto <parent>/<name>. An aborted run removes the staging folder,
 * so an error never leaves a half-written result; a finished one (PASS or
 * FAIL) replaces the previous result in one rename, after one sync of the
 * whole staging folder. A file written elsewhere (write_file_atomic: the
 * --output of verify-step and extract-ops) goes to a temporary name in its
 * own folder, is synced and renamed, so a reader never sees a partial file. */
#ifndef DECOMPOSE_OUTDIR_H
#define DECOMPOSE_OUTDIR_H

#include <stddef.h>
#include <jansson.h>

/* All return 0 on success, -1 with *err set. */
int mkdir_p(const char *path, char **err);
int rm_rf(const char *path, char **err);
int write_file_atomic(const char *path, const char *data, size_t len, char **err);
int write_json_atomic(const char *path, const json_t *j, char **err);

/* Write root/rel, creating rel's parent folders, without a sync of its own:
 * root is a staging folder, synced as a whole by staging_commit. rel must
 * pass path_is_safe_relative: a plan cannot write outside the folder. */
int write_file_under(const char *root, const char *rel, const char *data,
                     size_t len, char **err);

/* Read a whole file into an allocated, NUL-terminated buffer. */
char *read_file(const char *path, size_t *len, char **err);

/* Whether `path` is an existing regular file we can read: 0 yes, -1 no with
 * *err "<path>: no such file" / "not a regular file" / the errno text. */
int check_readable_file(const char *path, char **err);

/* An output folder may be replaced when it does not exist, is empty, or was
 * written by this tool (it holds decomposition_tree.json or
 * verification/step_verification_summary.json). Anything else - a home
 * folder given by mistake - is refused. */
int outdir_replaceable(const char *out_dir, char **err);

typedef struct staging staging;

/* Create the staging folder beside out_dir (creating out_dir's parent).
 * Fails if out_dir is not replaceable. Staging folders of earlier runs of
 * the same output whose process is gone (killed) are removed first. */
staging *staging_open(const char *out_dir, char **err);
const char *staging_path(const staging *s);
const char *staging_target(const staging *s);
/* Move the staging folder onto the target, replacing an older result. */
int staging_commit(staging *s, char **err);
/* Remove the staging folder (if not committed) and free. */
void staging_free(staging *s);

#endif
