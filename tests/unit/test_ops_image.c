/*
 * Unit tests for ImageDecoder (lib/ops/image.c).  Each test encodes a
 * known image itself -- BMP and PNM by hand-written encoders here, PNG,
 * lossless WebP, TIFF and JPEG with the codec libraries' own encoders when
 * Ember was built with them (image_config.h) -- and checks the decoded
 * pixels: exactly for the lossless formats, and for JPEG that BGR is RGB
 * reversed and Grayscale the 601 luma of RGB (rounded fixed point), with
 * RGB close to the source.  Layout variants cover palettes, bit depths,
 * bitfields, RLE, top-down rows, row padding, ASCII and 16-bit PNM,
 * interlaced and alpha PNGs.  Broken streams must give an empty image,
 * missing libraries EMBER_ERR_UNSUPPORTED, bad attributes and inputs an
 * error naming node 'n0'.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "image_config.h"
#include "optest.h"

#if EMBER_HAVE_PNG
#include <png.h>
#endif
#if EMBER_HAVE_JPEG
#include <jpeglib.h>
#endif
#if EMBER_HAVE_WEBP
#include <webp/encode.h>
#endif
#if EMBER_HAVE_TIFF
#include <tiffio.h>
#endif

/* ------------------------------------------------------------ helpers */

/* A growable byte buffer for the encoders. */
typedef struct bytes {
  uint8_t *p;
  size_t n, cap;
} bytes;

static void put(bytes *b, const void *src, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, src, n);
  b->n += n;
}
static void put8(bytes *b, unsigned v) {
  uint8_t c = (uint8_t)v;
  put(b, &c, 1);
}
static void put16(bytes *b, unsigned v) {
  put8(b, v & 255);
  put8(b, v >> 8 & 255);
}
static void put32(bytes *b, uint32_t v) {
  put16(b, v & 0xffff);
  put16(b, v >> 16);
}
static void puts_(bytes *b, const char *s) { put(b, s, strlen(s)); }

/* A test image: w x h RGB, varied enough that channel swaps show. */
static uint8_t *test_rgb(int w, int h) {
  uint8_t *p = malloc((size_t)w * h * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *q = p + ((size_t)y * w + x) * 3;
      q[0] = (uint8_t)(x * 37 + y * 11);
      q[1] = (uint8_t)(255 - x * 13 - y * 29);
      q[2] = (uint8_t)(x * y * 7 + 3);
    }
  return p;
}

static uint8_t luma(const uint8_t *q) {
  return (uint8_t)((q[0] * 19595u + q[1] * 38470u + q[2] * 7471u + 0x8000u) >>
                   16);
}

/* Decode `data` with pixel_format `pf`; the caller frees the optest. */
static optest *decode(const bytes *data, const char *pf, ember_status *st) {
  optest *t = optest_new("ImageDecoder", 20);
  if (pf) optest_attr_string(t, "pixel_format", pf);
  int64_t n = (int64_t)data->n;
  static const uint8_t none = 0;
  optest_input(t, EMBER_UINT8, 1, &n, data->n ? data->p : &none);
  *st = optest_run(t);
  return t;
}

/* The output must be h x w x ch and equal `want` (h*w*ch bytes). */
static void expect_image(optest *t, int h, int w, int ch, const uint8_t *want,
                         const char *what) {
  const emb_value *v = optest_output(t, 0);
  assert_int_equal(v->kind, EMB_VK_TENSOR);
  assert_int_equal(v->t.dtype, EMBER_UINT8);
  assert_int_equal(v->t.rank, 3);
  if (v->t.dims[0] != h || v->t.dims[1] != w || v->t.dims[2] != ch)
    fail_msg("%s: shape [%lld, %lld, %lld], expected [%d, %d, %d]", what,
             (long long)v->t.dims[0], (long long)v->t.dims[1],
             (long long)v->t.dims[2], h, w, ch);
  const uint8_t *g = v->t.data;
  for (size_t i = 0; i < (size_t)h * w * ch; i++)
    if (g[i] != want[i])
      fail_msg("%s: byte %zu (pixel %zu, channel %zu) is %u, expected %u", what,
               i, i / ch, i % ch, g[i], want[i]);
}

/* Decode an RGB source as RGB, BGR and Grayscale and check all three. */
static void check_rgb_formats(const bytes *data, int w, int h,
                              const uint8_t *rgb, const char *what) {
  size_t np = (size_t)w * h;
  uint8_t *bgr = malloc(np * 3), *gray = malloc(np);
  for (size_t i = 0; i < np; i++) {
    bgr[3 * i] = rgb[3 * i + 2];
    bgr[3 * i + 1] = rgb[3 * i + 1];
    bgr[3 * i + 2] = rgb[3 * i];
    gray[i] = luma(rgb + 3 * i);
  }
  const char *pfs[3] = {"RGB", "BGR", "Grayscale"};
  const uint8_t *want[3] = {rgb, bgr, gray};
  for (int f = 0; f < 3; f++) {
    ember_status st;
    optest *t = decode(data, f == 0 ? NULL : pfs[f], &st); /* RGB default */
    if (st) fail_msg("%s as %s: %s", what, pfs[f], optest_errmsg(t));
    char label[96];
    snprintf(label, sizeof label, "%s as %s", what, pfs[f]);
    expect_image(t, h, w, f == 2 ? 1 : 3, want[f], label);
    optest_free(t);
  }
  free(bgr);
  free(gray);
}

/* A gray source decodes to itself (Grayscale) or replicated (RGB, BGR). */
static void check_gray_formats(const bytes *data, int w, int h,
                               const uint8_t *g, const char *what) {
  size_t np = (size_t)w * h;
  uint8_t *rgb = malloc(np * 3);
  for (size_t i = 0; i < np; i++) memset(rgb + 3 * i, g[i], 3);
  const char *pfs[3] = {"RGB", "BGR", "Grayscale"};
  for (int f = 0; f < 3; f++) {
    ember_status st;
    optest *t = decode(data, pfs[f], &st);
    if (st) fail_msg("%s as %s: %s", what, pfs[f], optest_errmsg(t));
    char label[96];
    snprintf(label, sizeof label, "%s as %s", what, pfs[f]);
    expect_image(t, h, w, f == 2 ? 1 : 3, f == 2 ? g : rgb, label);
    optest_free(t);
  }
  free(rgb);
}

static void expect_empty(const bytes *data, const char *what) {
  for (int gray = 0; gray <= 1; gray++) {
    ember_status st;
    optest *t = decode(data, gray ? "Grayscale" : "RGB", &st);
    if (st) fail_msg("%s: %s", what, optest_errmsg(t));
    expect_image(t, 0, 0, gray ? 1 : 3, NULL, what);
    optest_free(t);
  }
}

#if !EMBER_HAVE_PNG || !EMBER_HAVE_WEBP || !EMBER_HAVE_JPEG || \
    !EMBER_HAVE_TIFF || !EMBER_HAVE_OPENJPEG
static void expect_unsupported(const bytes *data, const char *format) {
  ember_status st;
  optest *t = decode(data, "RGB", &st);
  if (st != EMBER_ERR_UNSUPPORTED)
    fail_msg("%s without its library: status %d (%s)", format, (int)st,
             optest_errmsg(t));
  const char *msg = optest_errmsg(t);
  if (!strstr(msg, "'n0'") || !strstr(msg, format))
    fail_msg("message '%s' should name node 'n0' and %s", msg, format);
  optest_free(t);
}
#endif

/* ------------------------------------------------------------------ BMP */

enum {
  BMP_24,
  BMP_24_TOPDOWN,
  BMP_32,
  BMP_32_FIELDS,
  BMP_16,
  BMP_8,
  BMP_4,
  BMP_1,
  BMP_RLE8
};

/* Encode with a palette `pal` (n_pal entries) for the indexed kinds; the
 * expected RGB is written back into `rgb` for lossy kinds (16-bit). */
static bytes bmp_encode(int kind, int w, int h, uint8_t *rgb,
                        const uint8_t (*pal)[3], int n_pal,
                        const uint8_t *idx) {
  int bpp = kind == BMP_24 || kind == BMP_24_TOPDOWN  ? 24
            : kind == BMP_32 || kind == BMP_32_FIELDS ? 32
            : kind == BMP_16                          ? 16
            : kind == BMP_8 || kind == BMP_RLE8       ? 8
            : kind == BMP_4                           ? 4
                                                      : 1;
  bytes px = {0};
  size_t stride = ((size_t)w * bpp + 31) / 32 * 4;
  if (kind == BMP_RLE8) {
    for (int y = h - 1; y >= 0; y--) { /* bottom-up; runs, then literals */
      int x = 0;
      while (x < w) {
        int run = 1;
        while (x + run < w && run < 255 &&
               idx[y * w + x + run] == idx[y * w + x])
          run++;
        if (run >= 2 || w - x < 3) {
          put8(&px, (unsigned)run);
          put8(&px, idx[y * w + x]);
          x += run;
        } else { /* a literal group of 3 */
          put8(&px, 0);
          put8(&px, 3);
          for (int k = 0; k < 3; k++) put8(&px, idx[y * w + x + k]);
          put8(&px, 0); /* pad to 16 bits */
          x += 3;
        }
      }
      put8(&px, 0);
      put8(&px, 0);
    }
    put8(&px, 0);
    put8(&px, 1);
  } else {
    uint8_t *row = calloc(stride, 1);
    for (int r = 0; r < h; r++) {
      int y = kind == BMP_24_TOPDOWN ? r : h - 1 - r;
      memset(row, 0, stride);
      for (int x = 0; x < w; x++) {
        uint8_t *q = rgb + ((size_t)y * w + x) * 3;
        switch (bpp) {
          case 24:
            row[3 * x] = q[2];
            row[3 * x + 1] = q[1];
            row[3 * x + 2] = q[0];
            break;
          case 32:
            if (kind == BMP_32) { /* B G R X */
              row[4 * x] = q[2];
              row[4 * x + 1] = q[1];
              row[4 * x + 2] = q[0];
            } else { /* masks R 0xff, G 0xff00, B 0xff0000 */
              row[4 * x] = q[0];
              row[4 * x + 1] = q[1];
              row[4 * x + 2] = q[2];
            }
            row[4 * x + 3] = 0x5a;
            break;
          case 16: { /* 5-5-5; the expected value is the 5-bit scaled back */
            unsigned r5 = q[0] >> 3, g5 = q[1] >> 3, b5 = q[2] >> 3;
            unsigned v = r5 << 10 | g5 << 5 | b5;
            row[2 * x] = (uint8_t)v;
            row[2 * x + 1] = (uint8_t)(v >> 8);
            q[0] = (uint8_t)((r5 * 255 + 15) / 31);
            q[1] = (uint8_t)((g5 * 255 + 15) / 31);
            q[2] = (uint8_t)((b5 * 255 + 15) / 31);
            break;
          }
          default: {
            unsigned v = idx[y * w + x], per = 8 / (unsigned)bpp;
            row[x / per] |= (uint8_t)(v << (8 - bpp - (x % per) * bpp));
          }
        }
      }
      put(&px, row, stride);
    }
    free(row);
  }
  int fields = kind == BMP_32_FIELDS;
  uint32_t off = 14 + 40 + (fields ? 12 : 0) + (bpp <= 8 ? 4 * n_pal : 0);
  bytes b = {0};
  puts_(&b, "BM");
  put32(&b, off + (uint32_t)px.n);
  put32(&b, 0);
  put32(&b, off);
  put32(&b, 40);
  put32(&b, (uint32_t)w);
  put32(&b, (uint32_t)(kind == BMP_24_TOPDOWN ? -h : h));
  put16(&b, 1);
  put16(&b, (unsigned)bpp);
  put32(&b, kind == BMP_RLE8 ? 1 : fields ? 3 : 0);
  put32(&b, (uint32_t)px.n);
  put32(&b, 2835);
  put32(&b, 2835);
  put32(&b, bpp <= 8 ? (uint32_t)n_pal : 0);
  put32(&b, 0);
  if (fields) {
    put32(&b, 0x000000ff);
    put32(&b, 0x0000ff00);
    put32(&b, 0x00ff0000);
  }
  for (int i = 0; bpp <= 8 && i < n_pal; i++) {
    put8(&b, pal[i][2]);
    put8(&b, pal[i][1]);
    put8(&b, pal[i][0]);
    put8(&b, 0);
  }
  put(&b, px.p, px.n);
  free(px.p);
  return b;
}

static void test_bmp(void **state) {
  (void)state;
  static const uint8_t pal[16][3] = {
      {0, 0, 0},     {255, 255, 255}, {200, 10, 30},   {10, 200, 30},
      {30, 10, 200}, {90, 90, 0},     {0, 90, 90},     {90, 0, 90},
      {17, 34, 51},  {68, 85, 102},   {119, 136, 153}, {170, 187, 204},
      {221, 238, 1}, {2, 3, 4},       {250, 128, 6},   {7, 8, 255}};
  int sizes[][2] = {{5, 3}, {1, 1}, {8, 2}, {13, 7}};
  const char *names[] = {"24-bit",           "24-bit top-down", "32-bit",
                         "32-bit bitfields", "16-bit 555",      "8-bit palette",
                         "4-bit palette",    "1-bit palette",   "RLE8"};
  for (int kind = BMP_24; kind <= BMP_RLE8; kind++)
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
      int w = sizes[s][0], h = sizes[s][1];
      uint8_t *rgb = test_rgb(w, h);
      uint8_t *idx = malloc((size_t)w * h);
      int n_pal = kind == BMP_1 ? 2 : 16;
      for (int i = 0; i < w * h; i++) {
        /* runs of equal indices, so RLE8 has both runs and literals */
        idx[i] = (uint8_t)((i / 3 + i % 2 * (i > w)) % n_pal);
        if (kind >= BMP_8) memcpy(rgb + 3 * i, pal[idx[i]], 3);
      }
      bytes b = bmp_encode(kind, w, h, rgb, pal, n_pal, idx);
      char what[64];
      snprintf(what, sizeof what, "BMP %s %dx%d", names[kind], w, h);
      check_rgb_formats(&b, w, h, rgb, what);
      /* cut the pixel data short: an empty image */
      if (kind != BMP_RLE8 && b.n > 60) {
        b.n -= 3;
        expect_empty(&b, "truncated BMP");
      }
      free(b.p);
      free(rgb);
      free(idx);
    }
}

/* ------------------------------------------------------------------ PNM */

static void test_pnm(void **state) {
  (void)state;
  int w = 6, h = 4;
  uint8_t *rgb = test_rgb(w, h);
  uint8_t gray[24], bits[24];
  for (int i = 0; i < 24; i++) {
    gray[i] = rgb[3 * i];
    bits[i] = (uint8_t)((i * 5 + i / 6) % 3 == 0);
  }
  char hdr[64];
  /* P6 binary RGB with a comment */
  bytes b = {0};
  snprintf(hdr, sizeof hdr, "P6\n# made by the test\n%d %d\n255\n", w, h);
  puts_(&b, hdr);
  put(&b, rgb, (size_t)w * h * 3);
  check_rgb_formats(&b, w, h, rgb, "PNM P6");
  b.n -= 2;
  expect_empty(&b, "truncated P6");
  free(b.p);
  /* P3 ASCII RGB */
  b = (bytes){0};
  snprintf(hdr, sizeof hdr, "P3 %d %d 255", w, h);
  puts_(&b, hdr);
  for (int i = 0; i < w * h * 3; i++) {
    snprintf(hdr, sizeof hdr, i % 7 ? " %u" : "\n%u", rgb[i]);
    puts_(&b, hdr);
  }
  puts_(&b, "\n");
  check_rgb_formats(&b, w, h, rgb, "PNM P3");
  free(b.p);
  /* P5 binary gray, P2 ASCII gray */
  b = (bytes){0};
  snprintf(hdr, sizeof hdr, "P5 %d %d 255\n", w, h);
  puts_(&b, hdr);
  put(&b, gray, 24);
  check_gray_formats(&b, w, h, gray, "PNM P5");
  free(b.p);
  b = (bytes){0};
  snprintf(hdr, sizeof hdr, "P2\n%d %d\n255\n", w, h);
  puts_(&b, hdr);
  for (int i = 0; i < 24; i++) {
    snprintf(hdr, sizeof hdr, "%u\n", gray[i]);
    puts_(&b, hdr);
  }
  check_gray_formats(&b, w, h, gray, "PNM P2");
  free(b.p);
  /* 16-bit P5 (maxval 1000) and 4-bit P5 (maxval 15): scaled, rounded */
  uint8_t scaled[24];
  b = (bytes){0};
  snprintf(hdr, sizeof hdr, "P5 %d %d 1000\n", w, h);
  puts_(&b, hdr);
  for (int i = 0; i < 24; i++) {
    unsigned v = (unsigned)(i * 43) % 1001;
    put8(&b, v >> 8);
    put8(&b, v & 255);
    scaled[i] = (uint8_t)((v * 255 + 500) / 1000);
  }
  check_gray_formats(&b, w, h, scaled, "PNM P5 maxval 1000");
  free(b.p);
  b = (bytes){0};
  snprintf(hdr, sizeof hdr, "P5 %d %d 15\n", w, h);
  puts_(&b, hdr);
  for (int i = 0; i < 24; i++) {
    put8(&b, (unsigned)i % 16);
    scaled[i] = (uint8_t)(((unsigned)i % 16 * 255 + 7) / 15);
  }
  check_gray_formats(&b, w, h, scaled, "PNM P5 maxval 15");
  free(b.p);
  /* P1 ASCII and P4 binary bitmaps: 1 is black */
  uint8_t bw[24];
  for (int i = 0; i < 24; i++) bw[i] = bits[i] ? 0 : 255;
  b = (bytes){0};
  snprintf(hdr, sizeof hdr, "P1\n%d %d\n", w, h);
  puts_(&b, hdr);
  for (int i = 0; i < 24; i++) puts_(&b, bits[i] ? "1" : "0 ");
  check_gray_formats(&b, w, h, bw, "PNM P1");
  free(b.p);
  b = (bytes){0};
  snprintf(hdr, sizeof hdr, "P4\n%d %d\n", w, h);
  puts_(&b, hdr);
  for (int y = 0; y < h; y++) {
    unsigned byte = 0;
    for (int x = 0; x < w; x++) byte |= (unsigned)bits[y * w + x] << (7 - x);
    put8(&b, byte);
  }
  check_gray_formats(&b, w, h, bw, "PNM P4");
  free(b.p);
  free(rgb);
}

/* ------------------------------------------------------------------ PNG */

#if EMBER_HAVE_PNG
static void png_put(png_structp png, png_bytep data, size_t n) {
  put(png_get_io_ptr(png), data, n);
}
static void png_flush_(png_structp png) { (void)png; }

/* Encode rows of `ch` samples of `depth` bits (16-bit big-endian). */
static bytes png_encode(int w, int h, int color_type, int depth,
                        const uint8_t *px, size_t row_bytes, int interlace,
                        const png_color *pal, int n_pal, const uint8_t *trns,
                        int n_trns) {
  bytes b = {0};
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) fail_msg("libpng failed to encode");
  png_set_write_fn(png, &b, png_put, png_flush_);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type,
               interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (pal) png_set_PLTE(png, info, pal, n_pal);
  if (trns) png_set_tRNS(png, info, trns, n_trns, NULL);
  png_bytep *rows = malloc((size_t)h * sizeof *rows);
  for (int y = 0; y < h; y++) rows[y] = (png_bytep)px + (size_t)y * row_bytes;
  png_set_rows(png, info, rows);
  png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
  png_destroy_write_struct(&png, &info);
  free(rows);
  return b;
}
#endif

static void test_png(void **state) {
  (void)state;
#if EMBER_HAVE_PNG
  int w = 9, h = 5;
  size_t np = (size_t)w * h;
  uint8_t *rgb = test_rgb(w, h);
  for (int il = 0; il <= 1; il++) {
    bytes b = png_encode(w, h, PNG_COLOR_TYPE_RGB, 8, rgb, (size_t)w * 3, il,
                         NULL, 0, NULL, 0);
    check_rgb_formats(&b, w, h, rgb, il ? "PNG RGB interlaced" : "PNG RGB");
    /* a broken stream: cut in the middle of the image data */
    b.n = b.n / 2;
    expect_empty(&b, "truncated PNG");
    free(b.p);
  }
  /* RGBA: alpha dropped, colour kept */
  uint8_t *rgba = malloc(np * 4);
  for (size_t i = 0; i < np; i++) {
    memcpy(rgba + 4 * i, rgb + 3 * i, 3);
    rgba[4 * i + 3] = (uint8_t)(i * 5);
  }
  bytes b = png_encode(w, h, PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, (size_t)w * 4,
                       0, NULL, 0, NULL, 0);
  check_rgb_formats(&b, w, h, rgb, "PNG RGBA");
  free(b.p);
  /* 16-bit RGB: the high byte */
  uint8_t *rgb16 = malloc(np * 6);
  for (size_t i = 0; i < np * 3; i++) {
    rgb16[2 * i] = rgb[i];
    rgb16[2 * i + 1] = (uint8_t)(i * 77);
  }
  b = png_encode(w, h, PNG_COLOR_TYPE_RGB, 16, rgb16, (size_t)w * 6, 0, NULL, 0,
                 NULL, 0);
  check_rgb_formats(&b, w, h, rgb, "PNG RGB 16-bit");
  free(b.p);
  /* 8-bit gray, gray + alpha, 2-bit gray (scaled to 0, 85, 170, 255) */
  uint8_t gray[45], ga[90], g2[45], packed[5 * 3];
  for (size_t i = 0; i < np; i++) {
    gray[i] = rgb[3 * i + 1];
    ga[2 * i] = gray[i];
    ga[2 * i + 1] = (uint8_t)(255 - i);
    g2[i] = (uint8_t)((i % 4) * 85);
  }
  b = png_encode(w, h, PNG_COLOR_TYPE_GRAY, 8, gray, (size_t)w, 0, NULL, 0,
                 NULL, 0);
  check_gray_formats(&b, w, h, gray, "PNG gray");
  free(b.p);
  b = png_encode(w, h, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, (size_t)w * 2, 0, NULL,
                 0, NULL, 0);
  check_gray_formats(&b, w, h, gray, "PNG gray+alpha");
  free(b.p);
  memset(packed, 0, sizeof packed);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      packed[y * 3 + x / 4] |=
          (uint8_t)((g2[y * w + x] / 85) << (6 - 2 * (x % 4)));
  b = png_encode(w, h, PNG_COLOR_TYPE_GRAY, 2, packed, 3, 0, NULL, 0, NULL, 0);
  check_gray_formats(&b, w, h, g2, "PNG gray 2-bit");
  free(b.p);
  /* palette with transparency: expanded to RGB, tRNS ignored */
  png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {9, 99, 199}};
  uint8_t trns[4] = {0, 128, 255, 7};
  uint8_t idx[45], want[135];
  for (size_t i = 0; i < np; i++) {
    idx[i] = (uint8_t)(i * 7 % 4);
    want[3 * i] = pal[idx[i]].red;
    want[3 * i + 1] = pal[idx[i]].green;
    want[3 * i + 2] = pal[idx[i]].blue;
  }
  b = png_encode(w, h, PNG_COLOR_TYPE_PALETTE, 8, idx, (size_t)w, 0, pal, 4,
                 trns, 4);
  check_rgb_formats(&b, w, h, want, "PNG palette + tRNS");
  free(b.p);
  free(rgba);
  free(rgb16);
  free(rgb);
#else
  bytes b = {0};
  put(&b, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  expect_unsupported(&b, "PNG");
  free(b.p);
#endif
}

/* ----------------------------------------------------------------- WebP */

static void test_webp(void **state) {
  (void)state;
#if EMBER_HAVE_WEBP
  int w = 11, h = 6;
  uint8_t *rgb = test_rgb(w, h), *out = NULL;
  size_t n = WebPEncodeLosslessRGB(rgb, w, h, w * 3, &out);
  assert_true(n > 0);
  bytes b = {0};
  put(&b, out, n);
  WebPFree(out);
  check_rgb_formats(&b, w, h, rgb, "WebP lossless");
  b.n -= 5;
  expect_empty(&b, "truncated WebP");
  free(b.p);
  free(rgb);
#else
  bytes b = {0};
  put(&b, "RIFF\x20\0\0\0WEBPVP8 ", 16);
  expect_unsupported(&b, "WebP");
  free(b.p);
#endif
}

/* ----------------------------------------------------------------- JPEG */

#if EMBER_HAVE_JPEG
static bytes jpeg_encode(int w, int h, int ch, const uint8_t *px) {
  struct jpeg_compress_struct ci;
  struct jpeg_error_mgr err;
  ci.err = jpeg_std_error(&err);
  jpeg_create_compress(&ci);
  unsigned char *mem = NULL;
  unsigned long size = 0;
  jpeg_mem_dest(&ci, &mem, &size);
  ci.image_width = (JDIMENSION)w;
  ci.image_height = (JDIMENSION)h;
  ci.input_components = ch;
  ci.in_color_space = ch == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&ci);
  jpeg_set_quality(&ci, 95, TRUE);
  jpeg_start_compress(&ci, TRUE);
  while (ci.next_scanline < ci.image_height) {
    JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * w * ch);
    jpeg_write_scanlines(&ci, &row, 1);
  }
  jpeg_finish_compress(&ci);
  jpeg_destroy_compress(&ci);
  bytes b = {0};
  put(&b, mem, size);
  free(mem);
  return b;
}
#endif

static void test_jpeg(void **state) {
  (void)state;
#if EMBER_HAVE_JPEG
  /* A smooth image, so the lossy round trip stays close. */
  int w = 24, h = 17;
  size_t np = (size_t)w * h;
  uint8_t *src = malloc(np * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *q = src + ((size_t)y * w + x) * 3;
      q[0] = (uint8_t)(40 + x * 6);
      q[1] = (uint8_t)(200 - y * 8);
      q[2] = (uint8_t)(100 + x * 2 + y * 3);
    }
  bytes b = jpeg_encode(w, h, 3, src);
  ember_status st;
  optest *t = decode(&b, "RGB", &st);
  if (st) fail_msg("JPEG: %s", optest_errmsg(t));
  const emb_value *v = optest_output(t, 0);
  assert_int_equal(v->t.dims[0], h);
  assert_int_equal(v->t.dims[1], w);
  assert_int_equal(v->t.dims[2], 3);
  uint8_t *rgb = malloc(np * 3);
  memcpy(rgb, v->t.data, np * 3);
  optest_free(t);
  for (size_t i = 0; i < np * 3; i++) {
    int d = (int)rgb[i] - (int)src[i];
    if (d < -12 || d > 12)
      fail_msg("JPEG byte %zu is %u, the source has %u", i, rgb[i], src[i]);
  }
  /* BGR and Grayscale derive exactly from the decoded RGB */
  check_rgb_formats(&b, w, h, rgb, "JPEG");
  free(b.p);
  /* a grayscale JPEG */
  uint8_t *g = malloc(np);
  for (size_t i = 0; i < np; i++) g[i] = src[3 * i];
  b = jpeg_encode(w, h, 1, g);
  t = decode(&b, "Grayscale", &st);
  if (st) fail_msg("gray JPEG: %s", optest_errmsg(t));
  v = optest_output(t, 0);
  assert_int_equal(v->t.dims[2], 1);
  memcpy(g, v->t.data, np);
  optest_free(t);
  check_gray_formats(&b, w, h, g, "gray JPEG");
  /* a JPEG that stops inside its header */
  b.n = 40;
  expect_empty(&b, "truncated JPEG header");
  free(b.p);
  free(g);
  free(rgb);
  free(src);
#else
  bytes b = {0};
  put(&b, "\xff\xd8\xff\xe0\0\x10JFIF", 10);
  expect_unsupported(&b, "JPEG");
  free(b.p);
#endif
}

/* ----------------------------------------------------------------- TIFF */

static void test_tiff(void **state) {
  (void)state;
#if EMBER_HAVE_TIFF
  int w = 7, h = 5;
  uint8_t *rgb = test_rgb(w, h);
  for (int spp = 1; spp <= 3; spp += 2) {
    char path[] = "/tmp/ember-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    TIFF *tf = TIFFOpen(path, "w");
    assert_non_null(tf);
    TIFFSetField(tf, TIFFTAG_IMAGEWIDTH, (uint32_t)w);
    TIFFSetField(tf, TIFFTAG_IMAGELENGTH, (uint32_t)h);
    TIFFSetField(tf, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)spp);
    TIFFSetField(tf, TIFFTAG_BITSPERSAMPLE, (uint16_t)8);
    TIFFSetField(tf, TIFFTAG_PHOTOMETRIC,
                 spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tf, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tf, TIFFTAG_COMPRESSION,
                 spp == 3 ? COMPRESSION_LZW : COMPRESSION_NONE);
    TIFFSetField(tf, TIFFTAG_ROWSPERSTRIP, (uint32_t)2);
    uint8_t gray[35];
    for (int i = 0; i < w * h; i++) gray[i] = rgb[3 * i + 2];
    for (int y = 0; y < h; y++)
      TIFFWriteScanline(tf, spp == 3 ? rgb + (size_t)y * w * 3 : gray + y * w,
                        (uint32_t)y, 0);
    TIFFClose(tf);
    FILE *f = fopen(path, "rb");
    bytes b = {0};
    uint8_t buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) put(&b, buf, got);
    fclose(f);
    remove(path);
    if (spp == 3)
      check_rgb_formats(&b, w, h, rgb, "TIFF RGB LZW");
    else
      check_gray_formats(&b, w, h, gray, "TIFF gray");
    b.n = 6; /* header cut: no IFD */
    expect_empty(&b, "truncated TIFF");
    free(b.p);
  }
  free(rgb);
#else
  bytes b = {0};
  put(&b, "II*\0\x08\0\0\0", 8);
  expect_unsupported(&b, "TIFF");
  free(b.p);
#endif
}

/* ------------------------------------------------------- other streams */

static void test_undecodable_and_jpeg2000(void **state) {
  (void)state;
  bytes b = {0};
  expect_empty(&b, "no bytes");
  puts_(&b, "GIF89a not a format listed by the specification");
  expect_empty(&b, "GIF");
  free(b.p);
  b = (bytes){0};
  puts_(&b, "BM short");
  expect_empty(&b, "short BMP");
  free(b.p);
  b = (bytes){0};
  puts_(&b, "P6 4 x 255\n");
  expect_empty(&b, "bad PNM header");
  free(b.p);
  b = (bytes){0};
  puts_(&b, "P5 100000 100000 255\n\1\2\3");
  expect_empty(&b, "PNM with far too few samples");
  free(b.p);
  b = (bytes){0};
  puts_(&b, "P2 3 3 255\n1 2 3 4");
  expect_empty(&b, "ASCII PNM with too few samples");
  free(b.p);
  /* a JPEG 2000 signature with nothing after it */
  b = (bytes){0};
  put(&b, "\0\0\0\x0cjP  \r\n\x87\n\0\0\0\x14", 16);
#if EMBER_HAVE_OPENJPEG
  expect_empty(&b, "truncated JPEG 2000");
#else
  expect_unsupported(&b, "JPEG 2000");
#endif
  free(b.p);
}

static void test_errors(void **state) {
  (void)state;
  uint8_t data[4] = {'P', '5', ' ', '1'};
  int64_t n = 4, d2[2] = {2, 2};
  optest *t = optest_new("ImageDecoder", 20);
  optest_attr_string(t, "pixel_format", "RGBA");
  optest_input(t, EMBER_UINT8, 1, &n, data);
  ember_status st = optest_run(t);
  assert_int_equal(st, EMBER_ERR_INVALID_MODEL);
  assert_non_null(strstr(optest_errmsg(t), "'n0'"));
  assert_non_null(strstr(optest_errmsg(t), "pixel_format"));
  optest_free(t);
  t = optest_new("ImageDecoder", 20);
  optest_input(t, EMBER_UINT8, 2, d2, data);
  st = optest_run(t);
  assert_int_equal(st, EMBER_ERR_SHAPE);
  assert_non_null(strstr(optest_errmsg(t), "'n0'"));
  optest_free(t);
  float f[4] = {0};
  t = optest_new("ImageDecoder", 20);
  optest_input(t, EMBER_FLOAT, 1, &n, f);
  st = optest_run(t);
  assert_int_equal(st, EMBER_ERR_UNSUPPORTED);
  assert_non_null(strstr(optest_errmsg(t), "'n0'"));
  optest_free(t);
  /* an image over the size limit is refused, not allocated (run-length
   * data can be short, so the claimed size alone decides) */
  static const uint8_t pal[2][3] = {{0, 0, 0}, {1, 2, 3}};
  uint8_t idx = 1, one[3] = {1, 2, 3};
  bytes b = bmp_encode(BMP_RLE8, 1, 1, one, pal, 2, &idx);
  for (int k = 0; k < 8; k++) /* width and height 100000, little-endian */
    b.p[18 + k] = (uint8_t)(100000u >> (8 * (k % 4)));
  t = optest_new("ImageDecoder", 20);
  int64_t bn = (int64_t)b.n;
  optest_input(t, EMBER_UINT8, 1, &bn, b.p);
  st = optest_run(t);
  assert_int_equal(st, EMBER_ERR_LIMIT);
  assert_non_null(strstr(optest_errmsg(t), "'n0'"));
  optest_free(t);
  free(b.p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bmp),
      cmocka_unit_test(test_pnm),
      cmocka_unit_test(test_png),
      cmocka_unit_test(test_webp),
      cmocka_unit_test(test_jpeg),
      cmocka_unit_test(test_tiff),
      cmocka_unit_test(test_undecodable_and_jpeg2000),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
