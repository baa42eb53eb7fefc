/* util.h - allocation that cannot fail quietly, error strings, small JSON helpers.
 *
 * Out of memory is not an error this program can recover from: the x*
 * allocators print one line and abort, like redis' zmalloc. Every other error
 * travels as an allocated one-line string through a `char **err` argument:
 * the first error set wins, the caller prints it and frees it. */
#ifndef DECOMPOSE_UTIL_H
#define DECOMPOSE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <jansson.h>

#define ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) ATTR_PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap);

/* Set *err to a formatted message unless err is NULL or already holds one. */
void set_error(char **err, const char *fmt, ...) ATTR_PRINTF(2, 3);

/* Replace newlines and tabs by spaces and trim trailing blanks, in place, so
 * that a message from anywhere fits the one-line error format. */
void one_line(char *s);

/* Parse a JSON text into an object or array. Python's json module writes
 * NaN and Infinity where strict JSON has no number; they are read as null
 * rather than failing the whole reply. Returns NULL and sets *err. */
json_t *json_parse_lenient(const char *text, size_t len, char **err);

/* The way every JSON file of ours is written: 2-space indent, readable reals,
 * a final newline. Returns an allocated string. */
char *json_to_text(const json_t *j);

/* s with every occurrence of `from` replaced by `to`, allocated; NULL when
 * there is none (or from is empty). */
char *str_replace_all(const char *s, const char *from, const char *to);

/* Which JSON containers a field or option takes: a list, an object, or
 * either (TAKES_LIST | TAKES_OBJECT). */
enum { TAKES_LIST = 1, TAKES_OBJECT = 2 };
int json_is_kind(const json_t *v, int kinds);

/* Accessors that tolerate a missing or mistyped member. */
const char *json_str(const json_t *obj, const char *key);         /* NULL if absent */
int json_num(const json_t *obj, const char *key, double *out);    /* 0 if a number */

/* A measured difference: 1 with *out set when obj[key] is a number, -1 when
 * it is present but not finite (the glue writes inf and nan as the strings
 * "inf", "-inf", "nan"; the lenient reader turns bare NaN/Infinity into
 * null), 0 when absent. */
int json_diff(const json_t *obj, const char *key, double *out);

/* "2024-05-01T12:00:00Z" for now, into buf (at least 21 bytes). */
void utc_timestamp(char *buf, size_t len);

#endif
