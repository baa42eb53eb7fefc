/* paths.h - path strings: joining, names derived from a model file, and
 * where the Python glue lives.
 *
 * Nothing here touches the file system except glue_dir_find (which only
 * looks) and path_absolute (which asks for the working directory). All
 * results are allocated; the caller frees them. */
#ifndef DECOMPOSE_PATHS_H
#define DECOMPOSE_PATHS_H

/* a + "/" + b, without doubling a slash. */
char *path_join(const char *a, const char *b);

/* The last component and everything before it, trailing slashes ignored:
 * "a/b/c.py" -> "c.py" and "a/b"; "c.py" -> "c.py" and "."; "/x" -> "x", "/". */
char *path_basename(const char *p);
char *path_dirname(const char *p);

/* p made absolute against the working directory, trailing slashes removed.
 * Symbolic links are kept as they are. NULL if the cwd cannot be read. */
char *path_absolute(const char *p);

/* A path a plan may name inside the output folder: relative, not empty, and
 * with no "..", "." or empty component. */
int path_is_safe_relative(const char *p);

/* A single path component usable as a folder name: not empty, no '/', not
 * "." or "..". */
int name_is_safe_component(const char *s);

/* "dir/21_Conv2d_Add.py" -> "21_Conv2d_Add": the file name less its last
 * extension. */
char *model_name_from_path(const char *model_path);

/* "HuggingFaceTB/SmolVLM-256M-Instruct" -> "smolvlm_256m_instruct": a
 * Hugging Face model id's (or folder's) last part, lower case, with '_' for
 * what is not a letter or digit. */
char *model_name_from_hf(const char *model_ref);

/* Whether `s` can be a Hugging Face model id: "name" or "org/name" of
 * letters, digits, '-', '_' and '.', neither part "." or "..". */
int is_hf_model_id(const char *s);

/* "data/level2/x.py" -> "level2": the parent folder's name when it is
 * "level" followed by digits, "custom" otherwise. */
char *source_level_from_path(const char *model_path);

/* Where python_glue/ is, judged from the executable's own path and never
 * from the working directory. Candidates in order:
 *   <exe_dir>/../python_glue               (build tree: build/decompose)
 *   <exe_dir>/../share/decompose/python_glue (installed: bin/decompose)
 *   install_dir, then src_dir              (compiled in)
 * A candidate counts only if it holds decompose_glue/api.py. Returns the
 * canonical path, or NULL with *err listing what was tried. */
char *glue_dir_find(const char *exe_path, const char *install_dir,
                    const char *src_dir, char **err);

/* glue_dir_find with /proc/self/exe and the compiled-in directories. */
char *glue_dir_locate(char **err);

#endif
