/*
 * util.c: the helpers shared by the sub-commands of the `ember` tool:
 * one-line error messages, the small option parser, conversions between
 * the element types of ember.h and double (float16, bfloat16, the float8
 * and float4 formats, packed 4- and 2-bit integers), shape formatting,
 * timing, whole-file reading, folder creation and the model/session
 * loading wrappers that turn a failure into one clear line on stderr.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ messages */

void cli_error(const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fputs("ember: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fprintf(stderr, "ember %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see 'ember help %s')\n", cmd);
  return CLI_EXIT_USAGE;
}

/* -------------------------------------------------------- option parsing */

int cli_opt(cli_args *a, const char *name, const char **value) {
  const char *arg;
  size_t n;
  if (a->i >= a->argc || a->only_positional)
    return 0;
  arg = a->argv[a->i];
  n = strlen(name);
  if (strncmp(arg, name, n) != 0)
    return 0;
  if (arg[n] == '=') {
    if (!value) {
      cli_usage_error(a->cmd, "option %s takes no value", name);
      return -1;
    }
    *value = arg + n + 1;
    a->i += 1;
    return 1;
  }
  if (arg[n] != '\0')
    return 0;
  if (value) {
    if (a->i + 1 >= a->argc) {
      cli_usage_error(a->cmd, "option %s needs a value", name);
      return -1;
    }
    *value = a->argv[a->i + 1];
    a->i += 2;
  } else {
    a->i += 1;
  }
  return 1;
}

int cli_parse_count(const char *cmd, const char *opt, const char *text,
                    long long max, long long *out) {
  char *end;
  long long v;
  errno = 0;
  if (text[0] < '0' || text[0] > '9')
    goto bad;
  v = strtoll(text, &end, 10);
  if (errno || *end != '\0' || v < 0 || v > max)
    goto bad;
  *out = v;
  return 0;
bad:
  cli_usage_error(cmd, "%s wants a whole number from 0 to %lld, not '%s'",
                  opt, max, text);
  return -1;
}

int cli_parse_double(const char *cmd, const char *opt, const char *text,
                     double *out) {
  char *end;
  double v;
  errno = 0;
  v = strtod(text, &end);
  if (errno || end == text || *end != '\0' || !isfinite(v) || v < 0) {
    cli_usage_error(cmd, "%s wants a non-negative number, not '%s'", opt,
                    text);
    return -1;
  }
  *out = v;
  return 0;
}

/* ---------------------------------------------------------- elements */

float cli_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  float f;
  if (exp == 0) {
    /* zero or subnormal: mant * 2^-24, exact in float */
    f = (float)mant * (1.0f / 16777216.0f);
    return sign ? -f : f;
  }
  if (exp == 31)
    bits = sign | 0x7f800000u | (mant << 13);
  else
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t cli_float_to_half(float f) {
  uint32_t x, absx, mant, round;
  uint16_t sign, h;
  int32_t exp;
  memcpy(&x, &f, sizeof x);
  sign = (uint16_t)((x >> 16) & 0x8000);
  absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) /* inf or NaN */
    return (uint16_t)(sign | (absx > 0x7f800000u ? 0x7e00 : 0x7c00));
  if (absx >= 0x477ff000u) /* rounds to a magnitude of 65536 or more */
    return (uint16_t)(sign | 0x7c00);
  if (absx < 0x38800000u) { /* below 2^-14: a half subnormal or zero */
    float a;
    memcpy(&a, &absx, sizeof a);
    /* scaling by 2^24 is exact; lrintf rounds half to even */
    return (uint16_t)(sign | (uint16_t)lrintf(a * 16777216.0f));
  }
  exp = (int32_t)(absx >> 23) - 127 + 15;
  mant = absx & 0x7fffffu;
  h = (uint16_t)(((uint32_t)exp << 10) | (mant >> 13));
  round = mant & 0x1fffu;
  if (round > 0x1000u || (round == 0x1000u && (h & 1u)))
    h++; /* a carry into the exponent is the right result */
  return (uint16_t)(sign | h);
}

float cli_bf16_to_float(uint16_t b) {
  uint32_t bits = (uint32_t)b << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t cli_float_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  if ((x & 0x7fffffffu) > 0x7f800000u)
    return (uint16_t)((x >> 16) | 0x40);
  x += 0x7fffu + ((x >> 16) & 1u);
  return (uint16_t)(x >> 16);
}

/* Decode one float8 byte.  `fnuz` formats have no infinity and no negative
 * zero: 0x80 is their only NaN.  The others are IEEE-like; E4M3FN has no
 * infinity and NaN only at S.1111.111. */
static double f8_decode(uint8_t b, int ebits, int mbits, int bias, int fnuz,
                        int has_inf) {
  int s = b >> 7;
  int emax = (1 << ebits) - 1, mmax = (1 << mbits) - 1;
  int e = (b >> mbits) & emax;
  int m = b & mmax;
  double v;
  if (fnuz && b == 0x80)
    return NAN;
  if (!fnuz) {
    if (has_inf && e == emax)
      return m ? NAN : (s ? -INFINITY : INFINITY);
    if (!has_inf && e == emax && m == mmax)
      return NAN;
  }
  if (e == 0)
    v = ldexp((double)m, 1 - bias - mbits);
  else
    v = ldexp((double)((1 << mbits) + m), e - bias - mbits);
  return s ? -v : v;
}

int cli_dtype_is_float(int32_t dtype) {
  switch (dtype) {
  case EMBER_FLOAT: case EMBER_DOUBLE: case EMBER_FLOAT16:
  case EMBER_BFLOAT16: case EMBER_FLOAT8E4M3FN: case EMBER_FLOAT8E4M3FNUZ:
  case EMBER_FLOAT8E5M2: case EMBER_FLOAT8E5M2FNUZ: case EMBER_FLOAT4E2M1:
  case EMBER_FLOAT8E8M0: case EMBER_COMPLEX64: case EMBER_COMPLEX128:
    return 1;
  default:
    return 0;
  }
}

int cli_dtype_is_real(int32_t dtype) {
  switch (dtype) {
  case EMBER_FLOAT: case EMBER_UINT8: case EMBER_INT8: case EMBER_UINT16:
  case EMBER_INT16: case EMBER_INT32: case EMBER_INT64: case EMBER_BOOL:
  case EMBER_FLOAT16: case EMBER_DOUBLE: case EMBER_UINT32:
  case EMBER_UINT64: case EMBER_BFLOAT16: case EMBER_FLOAT8E4M3FN:
  case EMBER_FLOAT8E4M3FNUZ: case EMBER_FLOAT8E5M2:
  case EMBER_FLOAT8E5M2FNUZ: case EMBER_UINT4: case EMBER_INT4:
  case EMBER_FLOAT4E2M1: case EMBER_FLOAT8E8M0: case EMBER_UINT2:
  case EMBER_INT2:
    return 1;
  default:
    return 0;
  }
}

static unsigned nibble(const void *data, size_t i) {
  uint8_t b = ((const uint8_t *)data)[i / 2];
  return (i & 1) ? (unsigned)(b >> 4) : (unsigned)(b & 0xf);
}

static unsigned crumb(const void *data, size_t i) {
  uint8_t b = ((const uint8_t *)data)[i / 4];
  return (unsigned)(b >> (2 * (i & 3))) & 3u;
}

int64_t cli_elem_int(int32_t dtype, const void *data, size_t i) {
  const uint8_t *p = data;
  switch (dtype) {
  case EMBER_UINT8: return p[i];
  case EMBER_INT8: return (int8_t)p[i];
  case EMBER_BOOL: return p[i] != 0;
  case EMBER_UINT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return v; }
  case EMBER_INT16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
  case EMBER_UINT32: { uint32_t v; memcpy(&v, p + 4 * i, 4); return v; }
  case EMBER_INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
  case EMBER_UINT64: { uint64_t v; memcpy(&v, p + 8 * i, 8); return (int64_t)v; }
  case EMBER_INT64: { int64_t v; memcpy(&v, p + 8 * i, 8); return v; }
  case EMBER_UINT4: return nibble(data, i);
  case EMBER_INT4: { int v = (int)nibble(data, i); return v >= 8 ? v - 16 : v; }
  case EMBER_UINT2: return crumb(data, i);
  case EMBER_INT2: { int v = (int)crumb(data, i); return v >= 2 ? v - 4 : v; }
  default: return 0;
  }
}

double cli_elem_double(int32_t dtype, const void *data, size_t i) {
  const uint8_t *p = data;
  static const double fp4[8] = {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0};
  switch (dtype) {
  case EMBER_FLOAT: { float v; memcpy(&v, p + 4 * i, 4); return v; }
  case EMBER_DOUBLE: { double v; memcpy(&v, p + 8 * i, 8); return v; }
  case EMBER_FLOAT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return cli_half_to_float(v); }
  case EMBER_BFLOAT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return cli_bf16_to_float(v); }
  case EMBER_FLOAT8E4M3FN: return f8_decode(p[i], 4, 3, 7, 0, 0);
  case EMBER_FLOAT8E4M3FNUZ: return f8_decode(p[i], 4, 3, 8, 1, 0);
  case EMBER_FLOAT8E5M2: return f8_decode(p[i], 5, 2, 15, 0, 1);
  case EMBER_FLOAT8E5M2FNUZ: return f8_decode(p[i], 5, 2, 16, 1, 0);
  case EMBER_FLOAT8E8M0: return p[i] == 0xff ? NAN : ldexp(1.0, (int)p[i] - 127);
  case EMBER_FLOAT4E2M1: {
    unsigned v = nibble(data, i);
    return (v & 8) ? -fp4[v & 7] : fp4[v & 7];
  }
  case EMBER_UINT64: return (double)(uint64_t)cli_elem_int(dtype, data, i);
  default: return (double)cli_elem_int(dtype, data, i);
  }
}

size_t cli_tensor_count(const ember_tensor *t, int *ok) {
  size_t n = 1;
  int32_t d;
  *ok = 1;
  if (t->rank < 0 || (t->rank > 0 && !t->dims)) {
    *ok = 0;
    return 0;
  }
  for (d = 0; d < t->rank; d++) {
    int64_t v = t->dims[d];
    if (v < 0 || (v > 0 && (uint64_t)v > SIZE_MAX / (n ? n : 1))) {
      *ok = 0;
      return 0;
    }
    n *= (size_t)v;
  }
  return n;
}

/* ------------------------------------------------------------- shapes */

/* Append formatted text at *pos, never past size; keeps buf terminated. */
static void appendf(char *buf, size_t size, size_t *pos, const char *fmt, ...)
    CLI_PRINTF(4, 5);
static void appendf(char *buf, size_t size, size_t *pos, const char *fmt,
                    ...) {
  va_list ap;
  int n;
  if (*pos >= size)
    return;
  va_start(ap, fmt);
  n = vsnprintf(buf + *pos, size - *pos, fmt, ap);
  va_end(ap);
  if (n > 0)
    *pos += (size_t)n;
  if (*pos >= size)
    *pos = size; /* truncated; snprintf already terminated */
}

void cli_format_dims(char *buf, size_t size, int32_t rank,
                     const int64_t *dims) {
  size_t pos = 0;
  int32_t d;
  if (!size)
    return;
  buf[0] = '\0';
  appendf(buf, size, &pos, "[");
  for (d = 0; d < rank; d++)
    appendf(buf, size, &pos, "%s%lld", d ? "," : "", (long long)dims[d]);
  appendf(buf, size, &pos, "]");
}

void cli_format_info_shape(char *buf, size_t size,
                           const ember_value_info *info) {
  size_t pos = 0;
  int32_t d;
  if (!size)
    return;
  buf[0] = '\0';
  if (info->rank < 0) {
    appendf(buf, size, &pos, "(unknown rank)");
    return;
  }
  appendf(buf, size, &pos, "[");
  for (d = 0; d < info->rank; d++) {
    const char *sep = d ? "," : "";
    const char *sym = info->dim_names ? info->dim_names[d] : NULL;
    int64_t v = info->dims ? info->dims[d] : -1;
    if (sym && sym[0])
      appendf(buf, size, &pos, "%s%s", sep, sym);
    else if (v < 0)
      appendf(buf, size, &pos, "%s?", sep);
    else
      appendf(buf, size, &pos, "%s%lld", sep, (long long)v);
  }
  appendf(buf, size, &pos, "]");
}

const char *cli_kind_name(int32_t kind) {
  switch (kind) {
  case EMBER_KIND_TENSOR: return "tensor";
  case EMBER_KIND_SEQUENCE: return "sequence";
  case EMBER_KIND_MAP: return "map";
  case EMBER_KIND_OPTIONAL: return "optional";
  case EMBER_KIND_SPARSE_TENSOR: return "sparse_tensor";
  default: return "unknown";
  }
}

/* ------------------------------------------------------------- misc */

double cli_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int cli_read_file(const char *path, unsigned char **out, size_t *size,
                  char *errbuf, size_t errsize) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf = NULL;
  size_t len = 0, cap = 0;
  *out = NULL;
  *size = 0;
  if (!f) {
    snprintf(errbuf, errsize, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  for (;;) {
    size_t got;
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      unsigned char *nb = realloc(buf, ncap);
      if (!nb) {
        snprintf(errbuf, errsize, "out of memory reading %s", path);
        goto fail;
      }
      buf = nb;
      cap = ncap;
    }
    got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) {
      if (ferror(f)) {
        snprintf(errbuf, errsize, "cannot read %s: %s", path,
                 strerror(errno));
        goto fail;
      }
      break;
    }
  }
  fclose(f);
  *out = buf ? buf : malloc(1);
  *size = len;
  if (!*out) {
    snprintf(errbuf, errsize, "out of memory reading %s", path);
    return -1;
  }
  return 0;
fail:
  fclose(f);
  free(buf);
  return -1;
}

int cli_mkdir_p(const char *path) {
  char tmp[4096];
  size_t len = strlen(path), i;
  struct stat st;
  if (len == 0 || len >= sizeof tmp) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(tmp, path, len + 1);
  for (i = 1; i <= len; i++) {
    if (tmp[i] == '/' || tmp[i] == '\0') {
      char c = tmp[i];
      tmp[i] = '\0';
      if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return -1;
      tmp[i] = c;
    }
  }
  if (stat(path, &st) != 0)
    return -1;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

void cli_sanitize_name(const char *name, char *buf, size_t size) {
  size_t i, n = 0;
  if (!size)
    return;
  for (i = 0; name[i] && n + 1 < size; i++) {
    char c = name[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    buf[n++] = ok ? c : '_';
  }
  buf[n] = '\0';
  if (n == 0 || strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0)
    snprintf(buf, size, "_");
}

ember_status cli_load_model(const char *path, ember_model **out) {
  ember_model *m = NULL;
  ember_status st = ember_model_load_file(path, NULL, &m);
  if (st != EMBER_OK) {
    cli_error("cannot load %s: %s: %s", path, ember_status_str(st),
              ember_model_errmsg(m));
    ember_model_free(m);
    m = NULL;
  }
  *out = m;
  return st;
}

ember_status cli_create_session(const ember_model *model, int threads,
                                ember_session **out) {
  ember_session_options opts;
  ember_session *s = NULL;
  ember_status st;
  ember_session_options_init(&opts);
  opts.struct_size = sizeof opts;
  opts.num_threads = threads;
  st = ember_session_create(model, &opts, &s);
  if (st != EMBER_OK) {
    cli_error("cannot create a session: %s: %s", ember_status_str(st),
              ember_session_errmsg(s));
    ember_session_free(s);
    s = NULL;
  }
  *out = s;
  return st;
}

int cli_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (n > INT_MAX ? INT_MAX : (int)n);
}
