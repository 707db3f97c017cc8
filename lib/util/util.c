/*
 * Implementation of the internal utilities declared in util.h: diagnostics,
 * the arena, checked arithmetic, the string map and whole-file reading.
 */
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void emb_diag_clear(emb_diag *d) {
  d->status = EMBER_OK;
  d->msg[0] = '\0';
}

ember_status emb_vfail(emb_diag *d, ember_status st, const char *fmt,
                       va_list ap) {
  if (d && d->status == EMBER_OK) {
    d->status = st;
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
  }
  return st;
}

ember_status emb_fail(emb_diag *d, ember_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emb_vfail(d, st, fmt, ap);
  va_end(ap);
  return st;
}

void emb_diag_prefix(emb_diag *d, const char *fmt, ...) {
  char pre[512];
  va_list ap;
  if (!d || d->status == EMBER_OK) return;
  va_start(ap, fmt);
  vsnprintf(pre, sizeof pre, fmt, ap);
  va_end(ap);
  size_t pl = strlen(pre), ml = strlen(d->msg), cap = sizeof d->msg - 1;
  if (pl > cap) pl = cap;
  if (pl + ml > cap) ml = cap - pl;
  memmove(d->msg + pl, d->msg, ml);
  memcpy(d->msg, pre, pl);
  d->msg[pl + ml] = '\0';
}

/* ---------------------------------------------------------------- arena */

struct emb_arena_block {
  emb_arena_block *next;
  size_t used, cap;
  max_align_t data[];
};

#define EMB_ARENA_BLOCK (64 * 1024)

void *emb_arena_alloc(emb_arena *a, size_t size) {
  size_t align = _Alignof(max_align_t);
  size = (size + align - 1) / align * align;
  if (size == 0) size = align;
  emb_arena_block *b = a->head;
  if (!b || b->cap - b->used < size) {
    size_t cap = size > EMB_ARENA_BLOCK / 4 ? size : EMB_ARENA_BLOCK;
    emb_arena_block *nb = calloc(1, sizeof *nb + cap);
    if (!nb) return NULL;
    nb->cap = cap;
    a->total += cap;
    if (cap == size && b) {
      /* A large block: keep the current small block at the head. */
      nb->next = b->next;
      b->next = nb;
      nb->used = size;
      return nb->data;
    }
    nb->next = b;
    a->head = b = nb;
  }
  void *p = (char *)b->data + b->used;
  b->used += size;
  return p;
}

void *emb_arena_array(emb_arena *a, size_t count, size_t elem) {
  size_t n;
  if (!emb_mul_size(count, elem, &n)) return NULL;
  return emb_arena_alloc(a, n);
}

char *emb_arena_strndup(emb_arena *a, const char *s, size_t n) {
  char *p = emb_arena_alloc(a, n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *emb_arena_strdup(emb_arena *a, const char *s) {
  return emb_arena_strndup(a, s ? s : "", s ? strlen(s) : 0);
}

void *emb_arena_memdup(emb_arena *a, const void *p, size_t n) {
  void *q = emb_arena_alloc(a, n);
  if (q && n) memcpy(q, p, n);
  return q;
}

void emb_arena_free(emb_arena *a) {
  emb_arena_block *b = a->head;
  while (b) {
    emb_arena_block *n = b->next;
    free(b);
    b = n;
  }
  a->head = NULL;
  a->total = 0;
}

/* ----------------------------------------------------------- arithmetic */

int emb_mul_size(size_t a, size_t b, size_t *out) {
  if (a && b > SIZE_MAX / a) return 0;
  *out = a * b;
  return 1;
}

int emb_add_size(size_t a, size_t b, size_t *out) {
  if (b > SIZE_MAX - a) return 0;
  *out = a + b;
  return 1;
}

int emb_mul_i64(int64_t a, int64_t b, int64_t *out) {
  if (a < 0 || b < 0) return 0;
  if (a && b > INT64_MAX / a) return 0;
  *out = a * b;
  return 1;
}

/* ------------------------------------------------------------ string map */

static uint64_t emb_hash(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  while (*s) {
    h ^= (unsigned char)*s++;
    h *= 1099511628211ull;
  }
  return h;
}

static int emb_strmap_grow(emb_strmap *m) {
  size_t cap = m->cap ? m->cap * 2 : 64;
  const char **keys = calloc(cap, sizeof *keys);
  int *vals = calloc(cap, sizeof *vals);
  if (!keys || !vals) {
    free(keys);
    free(vals);
    return 0;
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i]) continue;
    size_t j = emb_hash(m->keys[i]) & (cap - 1);
    while (keys[j]) j = (j + 1) & (cap - 1);
    keys[j] = m->keys[i];
    vals[j] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  m->keys = keys;
  m->vals = vals;
  m->cap = cap;
  return 1;
}

int emb_strmap_put(emb_strmap *m, const char *key, int val) {
  if ((m->count + 1) * 2 > m->cap && !emb_strmap_grow(m)) return 0;
  size_t j = emb_hash(key) & (m->cap - 1);
  while (m->keys[j]) {
    if (strcmp(m->keys[j], key) == 0) {
      m->vals[j] = val;
      return 1;
    }
    j = (j + 1) & (m->cap - 1);
  }
  m->keys[j] = key;
  m->vals[j] = val;
  m->count++;
  return 1;
}

int emb_strmap_get(const emb_strmap *m, const char *key, int *val) {
  if (!m->cap) return 0;
  size_t j = emb_hash(key) & (m->cap - 1);
  while (m->keys[j]) {
    if (strcmp(m->keys[j], key) == 0) {
      if (val) *val = m->vals[j];
      return 1;
    }
    j = (j + 1) & (m->cap - 1);
  }
  return 0;
}

void emb_strmap_free(emb_strmap *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ I/O */

ember_status emb_read_file(const char *path, void **data, size_t *size,
                           emb_diag *d) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return emb_fail(d, EMBER_ERR_IO, "cannot open '%s': %s", path,
                    strerror(errno));
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  if (!buf) {
    fclose(f);
    return emb_fail(d, EMBER_ERR_OUT_OF_MEMORY, "out of memory reading '%s'",
                    path);
  }
  for (;;) {
    if (n == cap) {
      char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        fclose(f);
        return emb_fail(d, EMBER_ERR_OUT_OF_MEMORY,
                        "out of memory reading '%s'", path);
      }
      buf = nb;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    free(buf);
    return emb_fail(d, EMBER_ERR_IO, "error reading '%s'", path);
  }
  *data = buf;
  *size = n;
  return EMBER_OK;
}

ember_status emb_map_file(const char *path, void **data, size_t *size,
                          bool *mapped, emb_diag *d) {
  *mapped = false;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return emb_fail(d, EMBER_ERR_IO, "cannot open '%s': %s", path,
                    strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
      (uint64_t)sb.st_size <= SIZE_MAX) {
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      close(fd);
      madvise(p, (size_t)sb.st_size, MADV_SEQUENTIAL);
      *data = p;
      *size = (size_t)sb.st_size;
      *mapped = true;
      return EMBER_OK;
    }
  }
  close(fd);
  return emb_read_file(path, data, size, d);
}

void emb_unmap_file(void *data, size_t size, bool mapped) {
  if (mapped)
    munmap(data, size);
  else
    free(data);
}
