/*
 * Small internal utilities shared by every layer: the diagnostic record
 * that carries a status and a message up to the API, a bump arena that
 * owns a model's IR, overflow-checked size arithmetic and a string->index
 * hash map.  Nothing here is exported.
 */
#ifndef EMBER_UTIL_H
#define EMBER_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/ember.h"

#define EMB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__) || defined(__clang__)
#define EMB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define EMB_PRINTF(f, a)
#endif

/* A status with its message.  Owned by whoever reports to the user (model,
 * session); passed down by pointer.  The first failure wins: later calls
 * to emb_fail on a diag that already failed do not overwrite it. */
typedef struct emb_diag {
  ember_status status;
  char msg[1024];
} emb_diag;

void emb_diag_clear(emb_diag *d);
/* Record a failure and return `st`, so callers can `return emb_fail(...)`. */
ember_status emb_fail(emb_diag *d, ember_status st, const char *fmt, ...)
    EMB_PRINTF(3, 4);
ember_status emb_vfail(emb_diag *d, ember_status st, const char *fmt,
                       va_list ap);
/* Prefix the message already in d with more context ("while loading x: "). */
void emb_diag_prefix(emb_diag *d, const char *fmt, ...) EMB_PRINTF(2, 3);

/* Bump arena: many small allocations freed at once.  Large requests get a
 * block of their own.  Memory is zeroed. */
typedef struct emb_arena_block emb_arena_block;
typedef struct emb_arena {
  emb_arena_block *head;
  size_t total;
} emb_arena;

void *emb_arena_alloc(emb_arena *a, size_t size);
void *emb_arena_array(emb_arena *a, size_t count, size_t elem);
char *emb_arena_strdup(emb_arena *a, const char *s);
char *emb_arena_strndup(emb_arena *a, const char *s, size_t n);
void *emb_arena_memdup(emb_arena *a, const void *p, size_t n);
void emb_arena_free(emb_arena *a);

/* Overflow-checked arithmetic: return 0 on overflow, 1 on success. */
int emb_mul_size(size_t a, size_t b, size_t *out);
int emb_add_size(size_t a, size_t b, size_t *out);
int emb_mul_i64(int64_t a, int64_t b, int64_t *out);

/* Open-addressing map from string to int, keys borrowed (must outlive the
 * map; in practice they live in the model arena). */
typedef struct emb_strmap {
  const char **keys;
  int *vals;
  size_t cap, count;
} emb_strmap;

int emb_strmap_put(emb_strmap *m, const char *key, int val); /* 0 on OOM */
int emb_strmap_get(const emb_strmap *m, const char *key, int *val);
void emb_strmap_free(emb_strmap *m);

/* Read a whole file into a malloc'ed buffer. */
ember_status emb_read_file(const char *path, void **data, size_t *size,
                           emb_diag *d);

/* Map a whole file read-only (falling back to emb_read_file where mmap
 * fails, e.g. on a pipe).  Release with emb_unmap_file(data, size, mapped). */
ember_status emb_map_file(const char *path, void **data, size_t *size,
                          bool *mapped, emb_diag *d);
void emb_unmap_file(void *data, size_t size, bool mapped);

#endif
