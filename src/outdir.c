/* outdir.c - see outdir.h. */
#include "outdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"
#include "util.h"

int mkdir_p(const char *path, char **err) {
    /* Most calls are for a folder an earlier file of the run made (ResNet18
     * writes 237 files into 40 folders): one stat, not a mkdir per
     * component of the path. */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    char *p = xstrdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            set_error(err, "cannot create %s: %s", p, strerror(errno));
            rc = -1;
            break;
        }
        *s = saved;
        if (saved == '\0') break;
    }
    if (rc == 0) {
        if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
            set_error(err, "cannot create %s: not a directory", p);
            rc = -1;
        }
    }
    free(p);
    return rc;
}

static int rm_one(const char *fpath, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    int rc = (flag == FTW_DP) ? rmdir(fpath) : unlink(fpath);
    return rc == 0 || errno == ENOENT ? 0 : -1;
}

int rm_rf(const char *path, char **err) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return 0;
        set_error(err, "cannot remove %s: %s", path, strerror(errno));
        return -1;
    }
    if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) != 0) {
        set_error(err, "cannot remove %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* write(2) until all of data is written; 0, or -1 with errno set. */
static int write_all(int fd, const char *data, size_t len) {
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len, char **err) {
    char *dir = path_dirname(path);
    char *base = path_basename(path);
    char *tmp = xasprintf("%s/.%s.tmp-%ld-XXXXXX", dir, base, (long)getpid());
    int rc = -1;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        set_error(err, "cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    if (write_all(fd, data, len) != 0) {
        set_error(err, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    /* mkstemp makes the file 0600; output files are ordinary 0644 files. */
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        set_error(err, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        set_error(err, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        set_error(err, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    rc = 0;
    goto done;
fail:
    if (fd >= 0) close(fd);
    unlink(tmp);
done:
    free(tmp);
    free(dir);
    free(base);
    return rc;
}

int write_json_atomic(const char *path, const json_t *j, char **err) {
    char *text = json_to_text(j);
    int rc = write_file_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* Create or truncate path and write data, without a sync: for files inside
 * a staging folder, which no reader sees before staging_commit syncs them
 * all at once. */
static int write_file_plain(const char *path, const char *data, size_t len, char **err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        set_error(err, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    if (write_all(fd, data, len) != 0) {
        set_error(err, "cannot write %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (close(fd) != 0 && rc == 0) {
        set_error(err, "cannot write %s: %s", path, strerror(errno));
        rc = -1;
    }
    return rc;
}

int write_file_under(const char *root, const char *rel, const char *data,
                     size_t len, char **err) {
    if (!path_is_safe_relative(rel)) {
        set_error(err, "refusing to write '%s': not a relative path inside the output folder", rel);
        return -1;
    }
    char *full = path_join(root, rel);
    char *dir = path_dirname(full);
    int rc = mkdir_p(dir, err);
    if (rc == 0) rc = write_file_plain(full, data, len, err);
    free(dir);
    free(full);
    return rc;
}

char *read_file(const char *path, size_t *len, char **err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_error(err, "%s: %s", path, errno == ENOENT ? "no such file" : strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (cap - n < 2) buf = xrealloc(buf, cap *= 2);
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        set_error(err, "%s: read error", path);
        return NULL;
    }
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int check_readable_file(const char *path, char **err) {
    struct stat st;
    if (stat(path, &st) != 0) {
        set_error(err, "%s: %s", path, errno == ENOENT ? "no such file" : strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        set_error(err, "%s: not a regular file", path);
        return -1;
    }
    if (access(path, R_OK) != 0) {
        set_error(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int is_file(const char *dir, const char *rel) {
    char *p = path_join(dir, rel);
    struct stat st;
    int ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

int outdir_replaceable(const char *out_dir, char **err) {
    struct stat st;
    if (lstat(out_dir, &st) != 0) {
        if (errno == ENOENT) return 0;
        set_error(err, "%s: %s", out_dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        set_error(err, "%s: exists and is not a directory", out_dir);
        return -1;
    }
    if (is_file(out_dir, "decomposition_tree.json") ||
        is_file(out_dir, "verification/step_verification_summary.json"))
        return 0;
    DIR *d = opendir(out_dir);
    if (!d) {
        set_error(err, "%s: %s", out_dir, strerror(errno));
        return -1;
    }
    int empty = 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    if (empty) return 0;
    set_error(err, "%s: refusing to replace a non-empty folder that is not a decompose output", out_dir);
    return -1;
}

struct staging {
    char *target;   /* absolute output folder */
    char *path;     /* the staging folder */
    int committed;
};

/* Remove .<base>.partial-<pid> and .<base>.old-<pid> folders left in parent
 * by runs that were killed: those whose process no longer exists. */
static void remove_stale(const char *parent, const char *base) {
    DIR *d = opendir(parent);
    if (!d) return;
    size_t bl = strlen(base);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (n[0] != '.' || strncmp(n + 1, base, bl) != 0) continue;
        const char *rest = n + 1 + bl;
        if (strncmp(rest, ".partial-", 9) == 0) rest += 9;
        else if (strncmp(rest, ".old-", 5) == 0) rest += 5;
        else continue;
        char *end;
        long pid = strtol(rest, &end, 10);
        if (end == rest || *end != '\0' || pid <= 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char *p = path_join(parent, n);
        rm_rf(p, NULL);
        free(p);
    }
    closedir(d);
}

staging *staging_open(const char *out_dir, char **err) {
    char *target = path_absolute(out_dir);
    if (!target) {
        set_error(err, "cannot read the working directory: %s", strerror(errno));
        return NULL;
    }
    if (strcmp(target, "/") == 0 || outdir_replaceable(target, err) != 0) {
        set_error(err, "%s: cannot be used as the output folder", target);
        free(target);
        return NULL;
    }
    char *parent = path_dirname(target);
    char *base = path_basename(target);
    staging *s = NULL;
    if (mkdir_p(parent, err) != 0) goto done;
    remove_stale(parent, base);
    char *tmp = xasprintf("%s/.%s.partial-%ld", parent, base, (long)getpid());
    /* A leftover from a crashed run with our pid is ours to reuse. */
    if (rm_rf(tmp, err) != 0 || mkdir(tmp, 0777) != 0) {
        set_error(err, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        goto done;
    }
    s = xcalloc(1, sizeof *s);
    s->target = target;
    s->path = tmp;
    target = NULL;
done:
    free(parent);
    free(base);
    free(target);
    return s;
}

const char *staging_path(const staging *s) { return s->path; }
const char *staging_target(const staging *s) { return s->target; }

/* Flush the file system that holds path: one call for the few hundred files
 * of a staging folder, where a sync per file took a second (MobileNetV1:
 * 296 files). */
static int sync_folder(const char *path, char **err) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || syncfs(fd) != 0) {
        set_error(err, "cannot sync %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int staging_commit(staging *s, char **err) {
    if (s->committed) return 0;
    /* Re-check: the folder may have appeared while we worked. */
    if (outdir_replaceable(s->target, err) != 0) return -1;
    /* Every file on disk before the folder takes the target's name: a crash
     * after the rename must not leave a result of empty files. */
    if (sync_folder(s->path, err) != 0) return -1;
    char *parent = path_dirname(s->target);
    char *base = path_basename(s->target);
    char *old = xasprintf("%s/.%s.old-%ld", parent, base, (long)getpid());
    int rc = -1;
    struct stat st;
    int had_old = lstat(s->target, &st) == 0;
    if (had_old) {
        if (rm_rf(old, err) != 0) goto done;
        if (rename(s->target, old) != 0) {
            set_error(err, "cannot move %s aside: %s", s->target, strerror(errno));
            goto done;
        }
    }
    if (rename(s->path, s->target) != 0) {
        set_error(err, "cannot move %s to %s: %s", s->path, s->target, strerror(errno));
        if (had_old) rename(old, s->target);    /* put the old result back */
        goto done;
    }
    s->committed = 1;
    rc = 0;
    if (had_old) rm_rf(old, NULL);
done:
    free(parent);
    free(base);
    free(old);
    return rc;
}

void staging_free(staging *s) {
    if (!s) return;
    if (!s->committed) rm_rf(s->path, NULL);
    free(s->path);
    free(s->target);
    free(s);
}
