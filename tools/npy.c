/*
 * npy.c: the .npy reader and writer of the `ember` tool (see npy.h).  The
 * header of a .npy file is a Python dict literal such as
 * {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }; the small
 * parser below accepts exactly that grammar (strings, True/False, tuples
 * of integers) and nothing else, which is all numpy ever writes.
 */
#include "npy.h"

#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void seterr(char *err, size_t errsize, const char *fmt, ...)
    CLI_PRINTF(3, 4);
static void seterr(char *err, size_t errsize, const char *fmt, ...) {
  va_list ap;
  if (!err || !errsize)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errsize, fmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------ header parsing */

#define NPY_MAX_RANK 64

typedef struct hdr {
  const char *p, *end;
  char descr[64];
  int have_descr, have_order, have_shape;
  int fortran;
  int rank;
  int64_t dims[NPY_MAX_RANK];
} hdr;

static void skip_ws(hdr *h) {
  while (h->p < h->end &&
         (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
    h->p++;
}

static int accept(hdr *h, char c) {
  skip_ws(h);
  if (h->p < h->end && *h->p == c) {
    h->p++;
    return 1;
  }
  return 0;
}

/* A quoted string without escapes (numpy never writes any in the keys and
 * type strings this reader accepts). */
static int parse_str(hdr *h, char *buf, size_t size) {
  char q;
  size_t n = 0;
  skip_ws(h);
  if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
    return -1;
  q = *h->p++;
  while (h->p < h->end && *h->p != q) {
    if (*h->p == '\\' || n + 1 >= size)
      return -1;
    buf[n++] = *h->p++;
  }
  if (h->p >= h->end)
    return -1;
  h->p++;
  buf[n] = '\0';
  return 0;
}

static int parse_word(hdr *h, const char *w) {
  size_t n = strlen(w);
  skip_ws(h);
  if ((size_t)(h->end - h->p) >= n && memcmp(h->p, w, n) == 0) {
    h->p += n;
    return 1;
  }
  return 0;
}

static int parse_shape(hdr *h, char *err, size_t errsize) {
  h->rank = 0;
  if (!accept(h, '(')) {
    seterr(err, errsize, "'shape' is not a tuple");
    return -1;
  }
  for (;;) {
    int64_t v = 0;
    int digits = 0;
    if (accept(h, ')'))
      return 0;
    skip_ws(h);
    while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
      if (v > (INT64_MAX - 9) / 10) {
        seterr(err, errsize, "a dimension in 'shape' is too large");
        return -1;
      }
      v = v * 10 + (*h->p - '0');
      h->p++;
      digits++;
    }
    if (h->p < h->end && *h->p == 'L') /* Python 2 long */
      h->p++;
    if (!digits) {
      seterr(err, errsize, "'shape' holds something other than integers");
      return -1;
    }
    if (h->rank >= NPY_MAX_RANK) {
      seterr(err, errsize, "more than %d dimensions", NPY_MAX_RANK);
      return -1;
    }
    h->dims[h->rank++] = v;
    if (accept(h, ','))
      continue;
    if (accept(h, ')'))
      return 0;
    seterr(err, errsize, "malformed 'shape' tuple");
    return -1;
  }
}

static int parse_header(hdr *h, char *err, size_t errsize) {
  if (!accept(h, '{')) {
    seterr(err, errsize, "header is not a Python dict");
    return -1;
  }
  for (;;) {
    char key[32];
    if (accept(h, '}'))
      break;
    if (parse_str(h, key, sizeof key) != 0 || !accept(h, ':')) {
      seterr(err, errsize, "malformed header dict");
      return -1;
    }
    if (strcmp(key, "descr") == 0) {
      skip_ws(h);
      if (h->p < h->end && *h->p == '[') {
        seterr(err, errsize, "structured arrays are not supported");
        return -1;
      }
      if (parse_str(h, h->descr, sizeof h->descr) != 0) {
        seterr(err, errsize, "malformed 'descr' in header");
        return -1;
      }
      h->have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0) {
      if (parse_word(h, "True"))
        h->fortran = 1;
      else if (parse_word(h, "False"))
        h->fortran = 0;
      else {
        seterr(err, errsize, "malformed 'fortran_order' in header");
        return -1;
      }
      h->have_order = 1;
    } else if (strcmp(key, "shape") == 0) {
      if (parse_shape(h, err, errsize) != 0)
        return -1;
      h->have_shape = 1;
    } else {
      seterr(err, errsize, "unknown key '%s' in header", key);
      return -1;
    }
    if (!accept(h, ',')) {
      if (accept(h, '}'))
        break;
      seterr(err, errsize, "malformed header dict");
      return -1;
    }
  }
  if (!h->have_descr || !h->have_order || !h->have_shape) {
    seterr(err, errsize, "header lacks '%s'",
           !h->have_descr ? "descr"
                          : (!h->have_order ? "fortran_order" : "shape"));
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------- reading */

/* Map a descr such as "<f4" to an ember dtype and item size. */
static int map_descr(const char *d, int32_t *dtype, size_t *itemsize,
                     char *err, size_t errsize) {
  char order = d[0], kind;
  char *end;
  long size;
  if (order != '<' && order != '>' && order != '|' && order != '=') {
    seterr(err, errsize, "unsupported array type '%s'", d);
    return -1;
  }
  kind = d[1];
  errno = 0;
  size = strtol(d + 2, &end, 10);
  if (kind == '\0' || end == d + 2 || *end != '\0' || size <= 0 ||
      errno) {
    if (kind == 'O')
      seterr(err, errsize, "object arrays are not supported");
    else
      seterr(err, errsize, "unsupported array type '%s'", d);
    return -1;
  }
  *itemsize = (size_t)size;
  if (order == '>' && (size > 1 || kind == 'U')) {
    seterr(err, errsize,
           "big-endian data ('%s') is not supported; save a little-endian "
           "array (a.astype(a.dtype.newbyteorder('<')))", d);
    return -1;
  }
  *dtype = EMBER_UNDEFINED;
  switch (kind) {
  case 'f':
    *dtype = size == 2 ? EMBER_FLOAT16
           : size == 4 ? EMBER_FLOAT
           : size == 8 ? EMBER_DOUBLE : EMBER_UNDEFINED;
    break;
  case 'i':
    *dtype = size == 1 ? EMBER_INT8
           : size == 2 ? EMBER_INT16
           : size == 4 ? EMBER_INT32
           : size == 8 ? EMBER_INT64 : EMBER_UNDEFINED;
    break;
  case 'u':
    *dtype = size == 1 ? EMBER_UINT8
           : size == 2 ? EMBER_UINT16
           : size == 4 ? EMBER_UINT32
           : size == 8 ? EMBER_UINT64 : EMBER_UNDEFINED;
    break;
  case 'b':
    *dtype = size == 1 ? EMBER_BOOL : EMBER_UNDEFINED;
    break;
  case 'c':
    *dtype = size == 8 ? EMBER_COMPLEX64
           : size == 16 ? EMBER_COMPLEX128 : EMBER_UNDEFINED;
    break;
  case 'U':
    *dtype = EMBER_STRING;
    *itemsize = (size_t)size * 4;
    if (*itemsize / 4 != (size_t)size)
      *dtype = EMBER_UNDEFINED;
    break;
  case 'S':
    *dtype = EMBER_STRING;
    break;
  default:
    break;
  }
  if (*dtype == EMBER_UNDEFINED) {
    seterr(err, errsize, "unsupported array type '%s'", d);
    return -1;
  }
  return 0;
}

/* Append code point `c` as UTF-8; returns bytes written (at most 4). */
static size_t utf8_put(uint32_t c, char *out) {
  if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    c = 0xfffd;
  if (c < 0x80) {
    out[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (char)(0xc0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3f));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (char)(0xe0 | (c >> 12));
    out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[2] = (char)(0x80 | (c & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (c >> 18));
  out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
  out[3] = (char)(0x80 | (c & 0x3f));
  return 4;
}

/* Build the char * array and string storage for `count` fixed-width
 * string items (UTF-32LE when `wide`, bytes otherwise). */
static int read_strings(const unsigned char *src, size_t count,
                        size_t itemsize, int wide, npy_array *out, char *err,
                        size_t errsize) {
  size_t chars = wide ? itemsize / 4 : itemsize;
  size_t per = wide ? chars * 4 + 1 : chars + 1;
  size_t head, total, i;
  char **ptrs;
  char *text;
  if (count > (SIZE_MAX / 2) / (per + sizeof(char *))) {
    seterr(err, errsize, "string array is too large");
    return -1;
  }
  head = count * sizeof(char *);
  total = head + count * per;
  ptrs = malloc(total ? total : 1);
  if (!ptrs) {
    seterr(err, errsize, "out of memory");
    return -1;
  }
  text = (char *)ptrs + head;
  for (i = 0; i < count; i++) {
    const unsigned char *s = src + i * itemsize;
    char *o = text;
    size_t k;
    ptrs[i] = text;
    for (k = 0; k < chars; k++) {
      if (wide) {
        uint32_t c = (uint32_t)s[4 * k] | (uint32_t)s[4 * k + 1] << 8 |
                     (uint32_t)s[4 * k + 2] << 16 |
                     (uint32_t)s[4 * k + 3] << 24;
        if (c == 0)
          break;
        o += utf8_put(c, o);
      } else {
        if (s[k] == 0)
          break;
        *o++ = (char)s[k];
      }
    }
    *o = '\0';
    text += per;
  }
  out->data = ptrs;
  out->tensor.data = ptrs;
  out->tensor.nbytes = head;
  return 0;
}

int npy_parse(const unsigned char *b, size_t size, npy_array *out, char *err,
              size_t errsize) {
  hdr h;
  size_t hlen, start, count = 1, itemsize = 0, need;
  int32_t dtype;
  int d;
  memset(out, 0, sizeof *out);
  memset(&h, 0, sizeof h);
  if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0) {
    seterr(err, errsize, "not a .npy file (bad magic)");
    return -1;
  }
  if (b[6] == 1) {
    hlen = (size_t)b[8] | (size_t)b[9] << 8;
    start = 10;
  } else if (b[6] == 2 || b[6] == 3) {
    if (size < 12) {
      seterr(err, errsize, "truncated .npy header");
      return -1;
    }
    hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 |
           (size_t)b[11] << 24;
    start = 12;
  } else {
    seterr(err, errsize, "unsupported .npy format version %u.%u", b[6], b[7]);
    return -1;
  }
  if (hlen > size - start) {
    seterr(err, errsize, "truncated .npy header");
    return -1;
  }
  h.p = (const char *)b + start;
  h.end = h.p + hlen;
  if (parse_header(&h, err, errsize) != 0)
    return -1;
  if (map_descr(h.descr, &dtype, &itemsize, err, errsize) != 0)
    return -1;
  if (h.fortran && h.rank > 1) {
    seterr(err, errsize,
           "Fortran-ordered arrays are not supported; save a C-ordered "
           "array (np.ascontiguousarray)");
    return -1;
  }
  for (d = 0; d < h.rank; d++) {
    if (h.dims[d] > 0 && (uint64_t)h.dims[d] > SIZE_MAX / count) {
      seterr(err, errsize, "array is too large");
      return -1;
    }
    count *= (size_t)h.dims[d];
  }
  if (count && itemsize > SIZE_MAX / count) {
    seterr(err, errsize, "array is too large");
    return -1;
  }
  need = count * itemsize;
  start += hlen;
  if (size - start < need) {
    seterr(err, errsize, "truncated data: %zu bytes expected, %zu found",
           need, size - start);
    return -1;
  }
  out->dims = malloc(sizeof(int64_t) * (h.rank ? (size_t)h.rank : 1));
  if (!out->dims) {
    seterr(err, errsize, "out of memory");
    return -1;
  }
  memcpy(out->dims, h.dims, sizeof(int64_t) * (size_t)h.rank);
  out->tensor.dtype = dtype;
  out->tensor.rank = h.rank;
  out->tensor.dims = out->dims;
  if (dtype == EMBER_STRING) {
    if (read_strings(b + start, count, itemsize, h.descr[1] == 'U', out, err,
                     errsize) != 0) {
      npy_array_free(out);
      return -1;
    }
    return 0;
  }
  out->data = malloc(need ? need : 1);
  if (!out->data) {
    npy_array_free(out);
    seterr(err, errsize, "out of memory");
    return -1;
  }
  memcpy(out->data, b + start, need);
  if (dtype == EMBER_BOOL) { /* numpy bools are 0/1, but be sure */
    size_t i;
    unsigned char *p = out->data;
    for (i = 0; i < count; i++)
      p[i] = p[i] != 0;
  }
  out->tensor.data = out->data;
  out->tensor.nbytes = need;
  return 0;
}

int npy_read(const char *path, npy_array *out, char *err, size_t errsize) {
  unsigned char *bytes;
  size_t size;
  char msg[256];
  int rc;
  memset(out, 0, sizeof *out);
  if (cli_read_file(path, &bytes, &size, err, errsize) != 0)
    return -1;
  rc = npy_parse(bytes, size, out, msg, sizeof msg);
  if (rc != 0)
    seterr(err, errsize, "%s: %s", path, msg);
  free(bytes);
  return rc;
}

void npy_array_free(npy_array *a) {
  if (!a)
    return;
  free(a->dims);
  free(a->data);
  memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------- writing */

/* Decode one UTF-8 code point at *s (advancing it); invalid bytes give
 * U+FFFD one byte at a time. */
static uint32_t utf8_get(const unsigned char **s) {
  const unsigned char *p = *s;
  uint32_t c = p[0];
  int n, k;
  if (c < 0x80) {
    *s = p + 1;
    return c;
  }
  if ((c & 0xe0) == 0xc0) { n = 1; c &= 0x1f; }
  else if ((c & 0xf0) == 0xe0) { n = 2; c &= 0x0f; }
  else if ((c & 0xf8) == 0xf0) { n = 3; c &= 0x07; }
  else { *s = p + 1; return 0xfffd; }
  for (k = 1; k <= n; k++) {
    if ((p[k] & 0xc0) != 0x80) {
      *s = p + 1;
      return 0xfffd;
    }
    c = (c << 6) | (p[k] & 0x3f);
  }
  *s = p + n + 1;
  return c;
}

static size_t utf8_len(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = 0;
  while (*p) {
    utf8_get(&p);
    n++;
  }
  return n;
}

static int write_header(FILE *f, const char *descr, int32_t rank,
                        const int64_t *dims) {
  char dict[4096];
  size_t pos, len, total, pre;
  int32_t d;
  int n = snprintf(dict, sizeof dict,
                   "{'descr': '%s', 'fortran_order': False, 'shape': (",
                   descr);
  if (n < 0)
    return -1;
  pos = (size_t)n;
  for (d = 0; d < rank && pos < sizeof dict; d++) {
    n = snprintf(dict + pos, sizeof dict - pos, "%s%lld%s", d ? ", " : "",
                 (long long)dims[d], rank == 1 ? "," : "");
    if (n < 0)
      return -1;
    pos += (size_t)n;
  }
  if (pos >= sizeof dict - 8)
    return -1;
  pos += (size_t)snprintf(dict + pos, sizeof dict - pos, "), }");
  /* pad with spaces and end with '\n' so that the data starts on a
   * 64-byte boundary, as numpy does */
  len = pos + 1;
  pre = len + 10 > 65535 ? 12 : 10;
  total = (pre + len + 63) / 64 * 64;
  len = total - pre;
  if (len > sizeof dict)
    return -1;
  memset(dict + pos, ' ', len - pos - 1);
  dict[len - 1] = '\n';
  if (pre == 10) {
    unsigned char m[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    m[8] = (unsigned char)(len & 0xff);
    m[9] = (unsigned char)(len >> 8);
    if (fwrite(m, 1, 10, f) != 10)
      return -1;
  } else {
    unsigned char m[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0, 0, 0, 0};
    m[8] = (unsigned char)(len & 0xff);
    m[9] = (unsigned char)(len >> 8);
    m[10] = (unsigned char)(len >> 16);
    m[11] = (unsigned char)(len >> 24);
    if (fwrite(m, 1, 12, f) != 12)
      return -1;
  }
  return fwrite(dict, 1, len, f) == len ? 0 : -1;
}

/* The descr numpy uses for a type it has; NULL otherwise. */
static const char *native_descr(int32_t dtype) {
  switch (dtype) {
  case EMBER_FLOAT: return "<f4";
  case EMBER_DOUBLE: return "<f8";
  case EMBER_FLOAT16: return "<f2";
  case EMBER_INT8: return "|i1";
  case EMBER_INT16: return "<i2";
  case EMBER_INT32: return "<i4";
  case EMBER_INT64: return "<i8";
  case EMBER_UINT8: return "|u1";
  case EMBER_UINT16: return "<u2";
  case EMBER_UINT32: return "<u4";
  case EMBER_UINT64: return "<u8";
  case EMBER_BOOL: return "|b1";
  case EMBER_COMPLEX64: return "<c8";
  case EMBER_COMPLEX128: return "<c16";
  default: return NULL;
  }
}

static int write_body(FILE *f, const ember_tensor *t, size_t count,
                      const char **note) {
  const char *native = native_descr(t->dtype);
  size_t i;
  if (native) {
    if (write_header(f, native, t->rank, t->dims) != 0)
      return -1;
    return fwrite(t->data, 1, ember_dtype_bytes(t->dtype, count), f) ==
                   ember_dtype_bytes(t->dtype, count)
               ? 0
               : -1;
  }
  if (t->dtype == EMBER_STRING) {
    const char *const *s = t->data;
    size_t width = 1;
    char descr[32];
    for (i = 0; i < count; i++) {
      size_t n = s[i] ? utf8_len(s[i]) : 0;
      if (n > width)
        width = n;
    }
    snprintf(descr, sizeof descr, "<U%zu", width);
    if (write_header(f, descr, t->rank, t->dims) != 0)
      return -1;
    for (i = 0; i < count; i++) {
      const unsigned char *p = (const unsigned char *)(s[i] ? s[i] : "");
      size_t k = 0;
      while (k < width) {
        uint32_t c = *p ? utf8_get(&p) : 0;
        unsigned char w[4] = {(unsigned char)c, (unsigned char)(c >> 8),
                              (unsigned char)(c >> 16),
                              (unsigned char)(c >> 24)};
        if (fwrite(w, 1, 4, f) != 4)
          return -1;
        k++;
      }
    }
    return 0;
  }
  if (t->dtype == EMBER_INT4 || t->dtype == EMBER_INT2 ||
      t->dtype == EMBER_UINT4 || t->dtype == EMBER_UINT2) {
    int sign = t->dtype == EMBER_INT4 || t->dtype == EMBER_INT2;
    if (note)
      *note = sign ? "packed integers written as int8"
                   : "packed integers written as uint8";
    if (write_header(f, sign ? "|i1" : "|u1", t->rank, t->dims) != 0)
      return -1;
    for (i = 0; i < count; i++) {
      unsigned char v = (unsigned char)cli_elem_int(t->dtype, t->data, i);
      if (fputc(v, f) == EOF)
        return -1;
    }
    return 0;
  }
  if (cli_dtype_is_real(t->dtype)) {
    if (note)
      *note = "written as float32";
    if (write_header(f, "<f4", t->rank, t->dims) != 0)
      return -1;
    for (i = 0; i < count; i++) {
      float v = (float)cli_elem_double(t->dtype, t->data, i);
      if (fwrite(&v, sizeof v, 1, f) != 1)
        return -1;
    }
    return 0;
  }
  errno = EINVAL;
  return -2;
}

int npy_write(const char *path, const ember_tensor *t, const char **note,
              char *err, size_t errsize) {
  FILE *f;
  size_t count;
  int ok, rc;
  if (note)
    *note = NULL;
  count = cli_tensor_count(t, &ok);
  if (!ok || t->rank > NPY_MAX_RANK) {
    seterr(err, errsize, "%s: the tensor has an invalid shape", path);
    return -1;
  }
  if (count && (!t->data || t->nbytes < ember_dtype_bytes(t->dtype, count))) {
    seterr(err, errsize, "%s: the tensor holds fewer bytes than its shape "
           "needs", path);
    return -1;
  }
  if (!native_descr(t->dtype) && t->dtype != EMBER_STRING &&
      !cli_dtype_is_real(t->dtype)) {
    seterr(err, errsize, "%s: element type %s cannot be saved as .npy",
           path, ember_dtype_name(t->dtype));
    return -1;
  }
  f = fopen(path, "wb");
  if (!f) {
    seterr(err, errsize, "cannot create %s: %s", path, strerror(errno));
    return -1;
  }
  rc = write_body(f, t, count, note);
  if (fclose(f) != 0)
    rc = -1;
  if (rc != 0) {
    seterr(err, errsize, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}
