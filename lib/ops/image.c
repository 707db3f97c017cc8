/*
 * ImageDecoder (opset 20): a 1-D uint8 tensor holding an encoded image
 * becomes a uint8 [height, width, channels] tensor, channels 3 for
 * pixel_format RGB / BGR and 1 for Grayscale.  The format is told by its
 * magic bytes.  BMP and PNM are decoded here; JPEG, PNG, WebP, TIFF and
 * JPEG 2000 by libjpeg(-turbo), libpng, libwebp, libtiff and OpenJPEG,
 * each optional at build time (image_config.h): a recognised format whose
 * library is absent fails with EMBER_ERR_UNSUPPORTED.  A stream that a
 * decoder rejects (corrupt, truncated, unknown format) gives an empty
 * [0, 0, channels] image, as the specification asks.  Every decoder yields
 * 8-bit gray or RGB (alpha dropped, palettes expanded, deeper samples
 * reduced); the pixel format is applied last, gray from RGB with the
 * ITU-R 601 luma weights in 16-bit fixed point, rounded, so the result
 * matches the common reference decoders.  Libraries report errors through
 * per-call handlers: nothing is printed, no global handler is touched.
 * The output size depends on the data, so the operator allocates its own
 * output (EMB_OP_OWN_OUTPUTS).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_config.h"
#include "ops/op.h"

#if EMBER_HAVE_JPEG
#include <jpeglib.h>
#endif
#if EMBER_HAVE_PNG
#include <png.h>
#endif
#if EMBER_HAVE_WEBP
#include <webp/decode.h>
#endif
#if EMBER_HAVE_TIFF
#include <tiffio.h>
#endif
#if EMBER_HAVE_OPENJPEG
#include <openjpeg.h>
#endif

/* Largest decoded image accepted (pixels); larger ones are refused with
 * EMBER_ERR_LIMIT before any pixel memory is taken. */
#define IMG_MAX_PIXELS ((size_t)1 << 28)

enum { IMG_RGB, IMG_BGR, IMG_GRAY };

typedef struct img_state {
  int format;
} img_state;

/* A decoded image: w * h pixels of ch (1 or 3) bytes, malloc'ed. */
typedef struct img_buf {
  size_t w, h;
  int ch;
  uint8_t *px;
} img_buf;

/* Decoders return EMBER_OK with px NULL when the stream cannot be
 * decoded, EMBER_OK with px set on success, or an error status (limits,
 * memory) after writing the message. */
typedef struct img_call {
  emb_run_ctx *c;
  const uint8_t *data;
  size_t size;
  img_buf *out;
} img_call;

static ember_status img_alloc(img_call *k, size_t w, size_t h, int ch,
                              const char *what) {
  if (!w || !h) return EMBER_OK; /* nothing to decode: treated as bad */
  if (w > IMG_MAX_PIXELS || h > IMG_MAX_PIXELS / w)
    return emb_op_fail(k->c->diag, k->c->node, EMBER_ERR_LIMIT,
                       "the %s image is %zu x %zu pixels, over the limit of "
                       "%zu",
                       what, w, h, IMG_MAX_PIXELS);
  uint8_t *p = malloc(w * h * (size_t)ch);
  if (!p)
    return emb_op_fail(k->c->diag, k->c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory for a %zu x %zu image", w, h);
  k->out->w = w;
  k->out->h = h;
  k->out->ch = ch;
  k->out->px = p;
  return EMBER_OK;
}

static void img_drop(img_buf *b) {
  free(b->px);
  b->px = NULL;
}

static ember_status img_missing(img_call *k, const char *format,
                                const char *library) {
  return emb_op_fail(k->c->diag, k->c->node, EMBER_ERR_UNSUPPORTED,
                     "the stream is %s, but Ember was built without %s", format,
                     library);
}

/* ------------------------------------------------------------------ BMP */

static uint32_t img_le16(const uint8_t *p) {
  return p[0] | (uint32_t)p[1] << 8;
}
static uint32_t img_le32(const uint8_t *p) {
  return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* One bitfield channel scaled to 8 bits. */
typedef struct bmp_field {
  uint32_t mask;
  int shift, bits;
} bmp_field;

static bmp_field bmp_field_of(uint32_t mask) {
  bmp_field f = {mask, 0, 0};
  if (!mask) return f;
  while (!(mask & 1)) {
    mask >>= 1;
    f.shift++;
  }
  while (mask & 1) {
    mask >>= 1;
    f.bits++;
  }
  return f;
}

static uint8_t bmp_field_get(const bmp_field *f, uint32_t v) {
  if (!f->bits) return 0;
  uint32_t x = (v & f->mask) >> f->shift;
  if (f->bits >= 8) return (uint8_t)(x >> (f->bits - 8));
  uint32_t max = (1u << f->bits) - 1;
  return (uint8_t)((x * 255 + max / 2) / max);
}

/* Run-length decoding (RLE8, RLE4) into palette indices, bottom-up rows
 * as stored; pixels never written keep index 0.  False on a bad stream. */
static bool bmp_rle(const uint8_t *p, size_t n, bool four, size_t w, size_t h,
                    uint8_t *idx) {
  size_t i = 0, x = 0, y = 0;
  while (i + 1 < n) {
    unsigned a = p[i], b = p[i + 1];
    i += 2;
    if (a) { /* a pixels of b (RLE4: alternating nibbles) */
      for (unsigned k = 0; k < a && y < h; k++, x++)
        if (x < w)
          idx[y * w + x] = four ? (k & 1 ? b & 15 : b >> 4) : (uint8_t)b;
    } else if (b == 0) {
      x = 0;
      y++;
    } else if (b == 1) {
      return true;
    } else if (b == 2) {
      if (i + 1 >= n) return false;
      x += p[i];
      y += p[i + 1];
      i += 2;
    } else { /* b literal pixels, padded to a 16-bit boundary */
      size_t bytes = four ? (b + 1u) / 2 : b;
      if (i + bytes > n) return false;
      for (unsigned k = 0; k < b && y < h; k++, x++)
        if (x < w) {
          unsigned v =
              four ? (k & 1 ? p[i + k / 2] & 15 : p[i + k / 2] >> 4) : p[i + k];
          idx[y * w + x] = (uint8_t)v;
        }
      i += bytes + (bytes & 1);
    }
    if (y >= h) return true;
  }
  return true;
}

static ember_status img_bmp(img_call *k) {
  const uint8_t *p = k->data;
  size_t n = k->size;
  if (n < 26) return EMBER_OK;
  uint32_t off = img_le32(p + 10), hsz = img_le32(p + 14);
  int64_t w, h;
  unsigned bpp, comp = 0, colors = 0, palette_entry = 4;
  uint32_t masks[3] = {0, 0, 0};
  bool have_masks = false;
  if (hsz == 12) {
    w = img_le16(p + 18);
    h = (int16_t)img_le16(p + 20);
    bpp = img_le16(p + 24);
    palette_entry = 3;
  } else if (hsz >= 40 && n >= 14 + (size_t)hsz) {
    w = (int32_t)img_le32(p + 18);
    h = (int32_t)img_le32(p + 22);
    bpp = img_le16(p + 28);
    comp = img_le32(p + 30);
    colors = img_le32(p + 46);
    if (comp == 3 || comp == 6) { /* (ALPHA)BITFIELDS */
      size_t at = 14 + 40;        /* after the header, or inside V2+ ones */
      if (at + 12 > n) return EMBER_OK;
      for (int i = 0; i < 3; i++) masks[i] = img_le32(p + at + 4 * i);
      have_masks = true;
    }
  } else {
    return EMBER_OK;
  }
  bool top_down = h < 0;
  if (top_down) h = -h;
  if (w <= 0 || h <= 0 || off >= n) return EMBER_OK;
  if (comp == 4 || comp == 5)
    return img_missing(
        k, comp == 4 ? "a BMP holding JPEG data" : "a BMP holding PNG data",
        "support for codecs inside BMP");
  if (!(comp <= 3 || comp == 6)) return EMBER_OK;
  if ((comp == 1 && bpp != 8) || (comp == 2 && bpp != 4) ||
      ((comp == 3 || comp == 6) && bpp != 16 && bpp != 32))
    return EMBER_OK;
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
    return EMBER_OK;
  size_t W = (size_t)w, H = (size_t)h;
  /* The palette sits between the headers (and masks) and the pixels. */
  uint8_t pal[256][3];
  memset(pal, 0, sizeof pal);
  if (bpp <= 8) {
    size_t at = 14 + hsz + (hsz == 40 && have_masks ? 12 : 0);
    size_t count = colors && colors <= 256 ? colors : (size_t)1 << bpp;
    for (size_t i = 0;
         i < count && at + palette_entry <= off && at + palette_entry <= n;
         i++, at += palette_entry) {
      pal[i][0] = p[at + 2];
      pal[i][1] = p[at + 1];
      pal[i][2] = p[at];
    }
  }
  const uint8_t *pix = p + off;
  size_t avail = n - off, stride = 0;
  bool rle = comp == 1 || comp == 2;
  if (!rle) { /* the pixel rows must all be there */
    if (W > (SIZE_MAX - 31) / bpp) return EMBER_OK;
    stride = (W * bpp + 31) / 32 * 4;
    if (stride > avail / H) return EMBER_OK;
  }
  ember_status st = img_alloc(k, W, H, 3, "BMP");
  if (st || !k->out->px) return st;
  uint8_t *dst = k->out->px;
  if (rle) {
    uint8_t *idx = calloc(W * H, 1);
    if (!idx) {
      img_drop(k->out);
      return emb_op_fail(k->c->diag, k->c->node, EMBER_ERR_OUT_OF_MEMORY,
                         "out of memory");
    }
    if (!bmp_rle(pix, avail, comp == 2, W, H, idx)) {
      free(idx);
      img_drop(k->out);
      return EMBER_OK;
    }
    for (size_t y = 0; y < H; y++) /* stored bottom-up */
      for (size_t x = 0; x < W; x++)
        memcpy(dst + ((H - 1 - y) * W + x) * 3, pal[idx[y * W + x]], 3);
    free(idx);
    return EMBER_OK;
  }
  if (!have_masks) {
    if (bpp == 16) {
      masks[0] = 0x7c00;
      masks[1] = 0x03e0;
      masks[2] = 0x001f;
    } else {
      masks[0] = 0xff0000;
      masks[1] = 0x00ff00;
      masks[2] = 0x0000ff;
    }
  }
  bmp_field f[3] = {bmp_field_of(masks[0]), bmp_field_of(masks[1]),
                    bmp_field_of(masks[2])};
  for (size_t y = 0; y < H; y++) {
    const uint8_t *row = pix + (top_down ? y : H - 1 - y) * stride;
    uint8_t *o = dst + y * W * 3;
    for (size_t x = 0; x < W; x++, o += 3) {
      if (bpp <= 8) {
        unsigned per = 8 / bpp, bit = (unsigned)(x % per) * bpp;
        unsigned v = (row[x / per] >> (8 - bpp - bit)) & ((1u << bpp) - 1);
        memcpy(o, pal[v], 3);
      } else if (bpp == 24) {
        o[0] = row[3 * x + 2];
        o[1] = row[3 * x + 1];
        o[2] = row[3 * x];
      } else {
        uint32_t v = bpp == 16 ? img_le16(row + 2 * x) : img_le32(row + 4 * x);
        for (int c = 0; c < 3; c++) o[c] = bmp_field_get(&f[c], v);
      }
    }
  }
  return EMBER_OK;
}

/* ------------------------------------------------------------------ PNM */

/* Next header or ASCII-sample number; skips whitespace and # comments. */
static bool pnm_number(const uint8_t *p, size_t n, size_t *i, uint32_t *v) {
  for (;;) {
    while (*i < n && (p[*i] == ' ' || (p[*i] >= 9 && p[*i] <= 13))) (*i)++;
    if (*i < n && p[*i] == '#') {
      while (*i < n && p[*i] != '\n' && p[*i] != '\r') (*i)++;
      continue;
    }
    break;
  }
  if (*i >= n || p[*i] < '0' || p[*i] > '9') return false;
  uint64_t x = 0;
  while (*i < n && p[*i] >= '0' && p[*i] <= '9') {
    x = x * 10 + (uint64_t)(p[*i] - '0');
    if (x > UINT32_MAX) return false;
    (*i)++;
  }
  *v = (uint32_t)x;
  return true;
}

/* P1 .. P6: ASCII or binary bitmap, graymap, pixmap. */
static ember_status img_pnm(img_call *k) {
  const uint8_t *p = k->data;
  size_t n = k->size, i = 2;
  int kind = p[1] - '0';
  bool bitmap = kind == 1 || kind == 4, ascii = kind <= 3;
  int ch = kind == 3 || kind == 6 ? 3 : 1;
  uint32_t w, h, maxval = 1;
  if (!pnm_number(p, n, &i, &w) || !pnm_number(p, n, &i, &h) ||
      (!bitmap && !pnm_number(p, n, &i, &maxval)))
    return EMBER_OK;
  if (maxval < 1 || maxval > 65535) return EMBER_OK;
  if (!ascii) i++; /* the single whitespace before the samples */
  if (!w || !h) return EMBER_OK;
  size_t bytes = maxval > 255 ? 2 : 1, stride = ((size_t)w + 7) / 8;
  /* The samples must all be there (checked before allocating). */
  if (kind == 4 && (i > n || stride > (n - i) / h)) return EMBER_OK;
  if ((kind == 5 || kind == 6) &&
      (i > n || (size_t)w * (size_t)ch > (n - i) / bytes / h))
    return EMBER_OK;
  if (ascii && (size_t)w * (size_t)ch > (n - i) / h) /* >= 1 byte each */
    return EMBER_OK;
  ember_status st = img_alloc(k, w, h, ch, "PNM");
  if (st || !k->out->px) return st;
  uint8_t *dst = k->out->px;
  size_t count = (size_t)w * h * (size_t)ch;
  if (kind == 4) { /* rows of bits, padded to bytes; 1 is black */
    for (size_t y = 0; y < h; y++)
      for (size_t x = 0; x < w; x++) {
        unsigned bit = p[i + y * stride + x / 8] >> (7 - x % 8) & 1;
        dst[y * w + x] = bit ? 0 : 255;
      }
    return EMBER_OK;
  }
  for (size_t j = 0; j < count; j++) {
    uint32_t v;
    if (kind == 1) { /* digits may touch: one character per sample */
      while (i < n && p[i] != '0' && p[i] != '1') {
        if (p[i] == '#')
          while (i < n && p[i] != '\n') i++;
        else
          i++;
      }
      if (i >= n) {
        img_drop(k->out);
        return EMBER_OK;
      }
      dst[j] = p[i++] == '1' ? 0 : 255;
      continue;
    }
    if (ascii) {
      if (!pnm_number(p, n, &i, &v)) {
        img_drop(k->out);
        return EMBER_OK;
      }
    } else {
      v = bytes == 2 ? (uint32_t)p[i + 2 * j] << 8 | p[i + 2 * j + 1]
                     : p[i + j];
    }
    if (v > maxval) v = maxval;
    dst[j] = maxval == 255 ? (uint8_t)v
                           : (uint8_t)((v * 255u + maxval / 2) / maxval);
  }
  return EMBER_OK;
}

/* ----------------------------------------------------------------- JPEG */

#if EMBER_HAVE_JPEG
/* Everything the decoder touches after setjmp lives here, in memory, so a
 * longjmp from the library leaves it intact. */
typedef struct jpeg_job {
  struct jpeg_decompress_struct ci;
  struct jpeg_error_mgr err;
  jmp_buf jb;
  img_call *k;
  uint8_t *raw; /* CMYK scanlines before conversion */
  ember_status st;
} jpeg_job;

static void jpeg_job_exit(j_common_ptr ci) {
  longjmp(((jpeg_job *)ci->client_data)->jb, 1);
}
static void jpeg_job_emit(j_common_ptr ci, int level) {
  (void)ci;
  (void)level;
}
static void jpeg_job_output(j_common_ptr ci) { (void)ci; }

static void jpeg_job_run(jpeg_job *j) {
  img_call *k = j->k;
  jpeg_read_header(&j->ci, TRUE);
  J_COLOR_SPACE cs = j->ci.jpeg_color_space;
  bool gray = cs == JCS_GRAYSCALE;
  bool cmyk = cs == JCS_CMYK || cs == JCS_YCCK;
  j->ci.out_color_space = gray ? JCS_GRAYSCALE : cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&j->ci);
  size_t w = j->ci.output_width, h = j->ci.output_height;
  j->st = img_alloc(k, w, h, gray ? 1 : 3, "JPEG");
  if (j->st || !k->out->px) return;
  if (cmyk && !(j->raw = malloc(w * 4))) {
    j->st = emb_op_fail(k->c->diag, k->c->node, EMBER_ERR_OUT_OF_MEMORY,
                        "out of memory");
    return;
  }
  while (j->ci.output_scanline < h) {
    size_t y = j->ci.output_scanline;
    uint8_t *row = j->raw ? j->raw : k->out->px + y * w * (gray ? 1 : 3);
    JSAMPROW rows[1] = {row};
    jpeg_read_scanlines(&j->ci, rows, 1);
    if (j->raw) {
      /* Adobe writes CMYK inverted; either way RGB = (1 - C)(1 - K). */
      bool inv = j->ci.saw_Adobe_marker;
      uint8_t *o = k->out->px + y * w * 3;
      for (size_t x = 0; x < w; x++) {
        unsigned kk = j->raw[4 * x + 3];
        if (!inv) kk = 255 - kk;
        for (int c = 0; c < 3; c++) {
          unsigned v = j->raw[4 * x + c];
          if (!inv) v = 255 - v;
          o[3 * x + c] = (uint8_t)((v * kk + 127) / 255);
        }
      }
    }
  }
  jpeg_finish_decompress(&j->ci);
}
#endif

static ember_status img_jpeg(img_call *k) {
#if EMBER_HAVE_JPEG
  jpeg_job *j = calloc(1, sizeof *j);
  if (!j)
    return emb_op_fail(k->c->diag, k->c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  j->k = k;
  j->ci.err = jpeg_std_error(&j->err);
  j->err.error_exit = jpeg_job_exit;
  j->err.emit_message = jpeg_job_emit;
  j->err.output_message = jpeg_job_output;
  j->ci.client_data = j; /* kept by jpeg_create_decompress */
  if (k->size > ULONG_MAX) {
    img_drop(k->out);
  } else if (setjmp(j->jb) == 0) {
    jpeg_create_decompress(&j->ci);
    jpeg_mem_src(&j->ci, k->data, (unsigned long)k->size);
    jpeg_job_run(j);
  } else { /* the library gave up: an undecodable stream */
    img_drop(k->out);
  }
  ember_status st = j->st;
  if (st) img_drop(k->out);
  jpeg_destroy_decompress(&j->ci);
  free(j->raw);
  free(j);
  return st;
#else
  return img_missing(k, "JPEG", "libjpeg (meson option 'jpeg')");
#endif
}

/* ------------------------------------------------------------------ PNG */

#if EMBER_HAVE_PNG
typedef struct png_job {
  png_structp png;
  png_infop info;
  img_call *k;
  size_t pos;
  png_bytep *rows;
  ember_status st;
} png_job;

static void png_job_error(png_structp png, png_const_charp msg) {
  (void)msg;
  png_longjmp(png, 1);
}
static void png_job_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}
static void png_job_read(png_structp png, png_bytep out, size_t len) {
  png_job *j = png_get_io_ptr(png);
  if (len > j->k->size - j->pos) png_error(png, "truncated");
  memcpy(out, j->k->data + j->pos, len);
  j->pos += len;
}

static void png_job_run(png_job *j) {
  img_call *k = j->k;
  png_structp png = j->png;
  png_infop info = j->info;
  png_set_read_fn(png, j, png_job_read);
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_read_info(png, info);
  int ct = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
  /* 8-bit gray or RGB: palettes expanded, alpha and tRNS ignored. */
  if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (ct == PNG_COLOR_TYPE_GRAY && depth < 8)
    png_set_expand_gray_1_2_4_to_8(png);
  if (depth == 16) png_set_strip_16(png);
  /* Expanding a palette also turns tRNS into alpha: strip that too. */
  if ((ct & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS))
    png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  size_t w = png_get_image_width(png, info),
         h = png_get_image_height(png, info);
  int ch = png_get_channels(png, info);
  if ((ch != 1 && ch != 3) || png_get_rowbytes(png, info) != w * (size_t)ch)
    return; /* not a layout the transforms above can give */
  j->st = img_alloc(k, w, h, ch, "PNG");
  if (j->st || !k->out->px) return;
  if (!(j->rows = malloc(h * sizeof *j->rows))) {
    j->st = emb_op_fail(k->c->diag, k->c->node, EMBER_ERR_OUT_OF_MEMORY,
                        "out of memory");
    return;
  }
  for (size_t y = 0; y < h; y++) j->rows[y] = k->out->px + y * w * ch;
  png_read_image(png, j->rows);
}
#endif

static ember_status img_png(img_call *k) {
#if EMBER_HAVE_PNG
  png_job *j = calloc(1, sizeof *j);
  if (!j)
    return emb_op_fail(k->c->diag, k->c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  j->k = k;
  j->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, png_job_error,
                                  png_job_warning);
  if (j->png) j->info = png_create_info_struct(j->png);
  if (!j->png || !j->info) {
    png_destroy_read_struct(j->png ? &j->png : NULL, NULL, NULL);
    free(j);
    return emb_op_fail(k->c->diag, k->c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  }
  if (setjmp(png_jmpbuf(j->png)) == 0)
    png_job_run(j);
  else
    img_drop(k->out);
  ember_status st = j->st;
  if (st) img_drop(k->out);
  png_destroy_read_struct(&j->png, &j->info, NULL);
  free(j->rows);
  free(j);
  return st;
#else
  return img_missing(k, "PNG", "libpng (meson option 'png')");
#endif
}

/* ----------------------------------------------------------------- WebP */

static ember_status img_webp(img_call *k) {
#if EMBER_HAVE_WEBP
  int w, h;
  if (!WebPGetInfo(k->data, k->size, &w, &h) || w <= 0 || h <= 0)
    return EMBER_OK;
  ember_status st = img_alloc(k, (size_t)w, (size_t)h, 3, "WebP");
  if (st || !k->out->px) return st;
  size_t bytes = (size_t)w * (size_t)h * 3;
  if (!WebPDecodeRGBInto(k->data, k->size, k->out->px, bytes, w * 3))
    img_drop(k->out);
  return EMBER_OK;
#else
  return img_missing(k, "WebP", "libwebp (meson option 'webp')");
#endif
}

/* ----------------------------------------------------------------- TIFF */

#if EMBER_HAVE_TIFF
typedef struct tiff_src {
  const uint8_t *data;
  size_t size, pos;
} tiff_src;

static tmsize_t tiff_read(thandle_t h, void *buf, tmsize_t n) {
  tiff_src *s = h;
  if (n < 0) return -1;
  size_t left = s->size - s->pos, take = (size_t)n < left ? (size_t)n : left;
  memcpy(buf, s->data + s->pos, take);
  s->pos += take;
  return (tmsize_t)take;
}
static tmsize_t tiff_write(thandle_t h, void *buf, tmsize_t n) {
  (void)h;
  (void)buf;
  (void)n;
  return -1;
}
static toff_t tiff_seek(thandle_t h, toff_t off, int whence) {
  tiff_src *s = h;
  uint64_t base = whence == SEEK_CUR   ? s->pos
                  : whence == SEEK_END ? s->size
                                       : 0;
  if (off > UINT64_MAX - base) return (toff_t)-1;
  uint64_t to = base + off;
  if (to > s->size) to = s->size; /* reads past the end return 0 bytes */
  s->pos = (size_t)to;
  return to;
}
static int tiff_close(thandle_t h) {
  (void)h;
  return 0;
}
static toff_t tiff_size(thandle_t h) { return ((tiff_src *)h)->size; }
static int tiff_map(thandle_t h, void **base, toff_t *size) {
  (void)h;
  (void)base;
  (void)size;
  return 0;
}
static void tiff_unmap(thandle_t h, void *base, toff_t size) {
  (void)h;
  (void)base;
  (void)size;
}
#if TIFFLIB_VERSION >= 20221213
static int tiff_quiet(TIFF *t, void *user, const char *module, const char *fmt,
                      va_list ap) {
  (void)t;
  (void)user;
  (void)module;
  (void)fmt;
  (void)ap;
  return 1; /* handled: the library prints nothing */
}
#endif
#endif

static ember_status img_tiff(img_call *k) {
#if EMBER_HAVE_TIFF
  tiff_src src = {k->data, k->size, 0};
  TIFF *t;
#if TIFFLIB_VERSION >= 20221213
  TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
  if (!opts)
    return emb_op_fail(k->c->diag, k->c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  TIFFOpenOptionsSetErrorHandlerExtR(opts, tiff_quiet, NULL);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, tiff_quiet, NULL);
  t = TIFFClientOpenExt("memory", "rm", &src, tiff_read, tiff_write, tiff_seek,
                        tiff_close, tiff_size, tiff_map, tiff_unmap, opts);
  TIFFOpenOptionsFree(opts);
#else
  t = TIFFClientOpen("memory", "rm", &src, tiff_read, tiff_write, tiff_seek,
                     tiff_close, tiff_size, tiff_map, tiff_unmap);
#endif
  if (!t) return EMBER_OK;
  uint32_t w = 0, h = 0;
  uint16_t spp = 1, photo = PHOTOMETRIC_RGB;
  ember_status st = EMBER_OK;
  TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);
  bool gray =
      (photo == PHOTOMETRIC_MINISBLACK || photo == PHOTOMETRIC_MINISWHITE) &&
      spp <= 2;
  uint32_t *raster = NULL;
  st = img_alloc(k, w, h, gray ? 1 : 3, "TIFF");
  if (!st && k->out->px) {
    /* libtiff's RGBA interface handles every layout and compression it
     * knows; pixels come back as packed ABGR words. */
    raster = malloc((size_t)w * h * sizeof *raster);
    if (!raster) {
      st = emb_op_fail(k->c->diag, k->c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
    } else if (!TIFFReadRGBAImageOriented(t, w, h, raster, ORIENTATION_TOPLEFT,
                                          0)) {
      img_drop(k->out);
    } else {
      size_t np = (size_t)w * h;
      uint8_t *o = k->out->px;
      for (size_t i = 0; i < np; i++) {
        uint32_t v = raster[i];
        if (gray) {
          o[i] = (uint8_t)TIFFGetR(v);
        } else {
          o[3 * i] = (uint8_t)TIFFGetR(v);
          o[3 * i + 1] = (uint8_t)TIFFGetG(v);
          o[3 * i + 2] = (uint8_t)TIFFGetB(v);
        }
      }
    }
  }
  if (st) img_drop(k->out);
  free(raster);
  TIFFClose(t);
  return st;
#else
  return img_missing(k, "TIFF", "libtiff (meson option 'tiff')");
#endif
}

/* ------------------------------------------------------------ JPEG 2000 */

#if EMBER_HAVE_OPENJPEG
typedef struct j2k_src {
  const uint8_t *data;
  size_t size, pos;
} j2k_src;

static OPJ_SIZE_T j2k_read(void *buf, OPJ_SIZE_T n, void *user) {
  j2k_src *s = user;
  size_t left = s->size - s->pos;
  if (!left) return (OPJ_SIZE_T)-1;
  size_t take = n < left ? n : left;
  memcpy(buf, s->data + s->pos, take);
  s->pos += take;
  return take;
}
static OPJ_OFF_T j2k_skip(OPJ_OFF_T n, void *user) {
  j2k_src *s = user;
  if (n < 0) {
    if ((uint64_t)-n > s->pos) return -1;
    s->pos -= (size_t)-n;
    return n;
  }
  size_t left = s->size - s->pos, take = (uint64_t)n < left ? (size_t)n : left;
  s->pos += take;
  return (OPJ_OFF_T)take;
}
static OPJ_BOOL j2k_seek(OPJ_OFF_T to, void *user) {
  j2k_src *s = user;
  if (to < 0 || (uint64_t)to > s->size) return OPJ_FALSE;
  s->pos = (size_t)to;
  return OPJ_TRUE;
}
static void j2k_quiet(const char *msg, void *user) {
  (void)msg;
  (void)user;
}

/* Sample (x, y) of the image grid from component c, scaled to 8 bits;
 * subsampled components are read at the nearest position. */
static int j2k_sample(const opj_image_comp_t *c, size_t x, size_t y, size_t w,
                      size_t h) {
  size_t cx = x * c->w / w, cy = y * c->h / h;
  int64_t v = c->data[cy * c->w + cx];
  if (c->sgnd) v += (int64_t)1 << (c->prec - 1);
  if (c->prec > 8)
    v >>= c->prec - 8;
  else if (c->prec < 8)
    v = (v * 255 + ((1 << c->prec) - 1) / 2) / ((1 << c->prec) - 1);
  return v < 0 ? 0 : v > 255 ? 255 : (int)v;
}
#endif

static ember_status img_j2k(img_call *k, bool jp2) {
#if EMBER_HAVE_OPENJPEG
  j2k_src src = {k->data, k->size, 0};
  opj_stream_t *s = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE);
  opj_codec_t *codec =
      opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
  opj_image_t *im = NULL;
  ember_status st = EMBER_OK;
  if (!s || !codec) {
    st = emb_op_fail(k->c->diag, k->c->node, EMBER_ERR_OUT_OF_MEMORY,
                     "out of memory");
    goto done;
  }
  opj_stream_set_read_function(s, j2k_read);
  opj_stream_set_skip_function(s, j2k_skip);
  opj_stream_set_seek_function(s, j2k_seek);
  opj_stream_set_user_data(s, &src, NULL);
  opj_stream_set_user_data_length(s, k->size);
  opj_set_info_handler(codec, j2k_quiet, NULL);
  opj_set_warning_handler(codec, j2k_quiet, NULL);
  opj_set_error_handler(codec, j2k_quiet, NULL);
  opj_dparameters_t par;
  opj_set_default_decoder_parameters(&par);
  if (!opj_setup_decoder(codec, &par) || !opj_read_header(s, codec, &im) ||
      !im || !im->numcomps)
    goto done;
  /* The size check comes before the (memory-heavy) decode. */
  size_t w = im->x1 > im->x0 ? im->x1 - im->x0 : 0;
  size_t h = im->y1 > im->y0 ? im->y1 - im->y0 : 0;
  if (w && h && (w > IMG_MAX_PIXELS || h > IMG_MAX_PIXELS / w)) {
    st = img_alloc(k, w, h, 1, "JPEG 2000"); /* reports the limit */
    goto done;
  }
  if (!opj_decode(codec, s, im) || !opj_end_decompress(codec, s)) goto done;
  const opj_image_comp_t *c = im->comps;
  w = c[0].w; /* the first component is full size in practice; others */
  h = c[0].h; /* that are subsampled are read at the nearest sample    */
  for (unsigned i = 0; i < im->numcomps && i < 3; i++)
    if (!c[i].data || !c[i].w || !c[i].h || c[i].prec < 1 || c[i].prec > 31)
      goto done;
  bool rgb = im->numcomps >= 3;
  bool ycc = rgb && (im->color_space == OPJ_CLRSPC_SYCC ||
                     im->color_space == OPJ_CLRSPC_EYCC);
  if ((st = img_alloc(k, w, h, rgb ? 3 : 1, "JPEG 2000")) || !k->out->px)
    goto done;
  uint8_t *o = k->out->px;
  for (size_t y = 0; y < h; y++)
    for (size_t x = 0; x < w; x++) {
      if (!rgb) {
        *o++ = (uint8_t)j2k_sample(&c[0], x, y, w, h);
        continue;
      }
      int v[3];
      for (int i = 0; i < 3; i++) v[i] = j2k_sample(&c[i], x, y, w, h);
      if (ycc) { /* YCbCr (ITU-R 601, full range) to RGB */
        double yy = v[0], cb = v[1] - 128.0, cr = v[2] - 128.0;
        double r = yy + 1.402 * cr, g = yy - 0.344136 * cb - 0.714136 * cr,
               b = yy + 1.772 * cb;
        double rgbv[3] = {r, g, b};
        for (int i = 0; i < 3; i++)
          v[i] = rgbv[i] < 0 ? 0 : rgbv[i] > 255 ? 255 : (int)(rgbv[i] + 0.5);
      }
      for (int i = 0; i < 3; i++) *o++ = (uint8_t)v[i];
    }
done:
  if (st) img_drop(k->out);
  if (im) opj_image_destroy(im);
  if (codec) opj_destroy_codec(codec);
  if (s) opj_stream_destroy(s);
  return st;
#else
  (void)jp2;
  return img_missing(k, "JPEG 2000", "OpenJPEG (meson option 'jpeg2000')");
#endif
}

/* ------------------------------------------------------------- operator */

static ember_status img_init(emb_init_ctx *c) {
  const char *pf;
  ember_status st =
      emb_attr_string(c->node, "pixel_format", "RGB", &pf, c->diag);
  if (st) return st;
  int format;
  if (!strcmp(pf, "RGB"))
    format = IMG_RGB;
  else if (!strcmp(pf, "BGR"))
    format = IMG_BGR;
  else if (!strcmp(pf, "Grayscale"))
    format = IMG_GRAY;
  else
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'pixel_format' is '%s', not RGB, BGR or "
                       "Grayscale",
                       pf);
  img_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->format = format;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status img_infer(emb_infer_ctx *c) {
  static const int32_t u8[] = {EMBER_UINT8, 0};
  const img_state *s = c->node->state;
  ember_status st = emb_infer_check_dtype(c, 0, u8);
  if (st) return st;
  const emb_type *x = c->in[0];
  if (x && x->kind == EMBER_KIND_TENSOR && x->rank >= 0 && x->rank != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "the encoded stream has rank %d; it must be 1-D",
                       (int)x->rank);
  int64_t dims[3] = {-1, -1, s->format == IMG_GRAY ? 1 : 3};
  emb_type_tensor(&c->out[0], EMBER_UINT8, 3, dims);
  return EMBER_OK;
}

static bool img_magic(const uint8_t *p, size_t n, const char *m, size_t len) {
  return n >= len && !memcmp(p, m, len);
}

static ember_status img_decode(img_call *k) {
  const uint8_t *p = k->data;
  size_t n = k->size;
  if (img_magic(p, n, "\xff\xd8\xff", 3)) return img_jpeg(k);
  if (img_magic(p, n, "\x89PNG\r\n\x1a\n", 8)) return img_png(k);
  if (img_magic(p, n, "BM", 2)) return img_bmp(k);
  if (img_magic(p, n, "II*\0", 4) || img_magic(p, n, "MM\0*", 4) ||
      img_magic(p, n, "II+\0", 4) || img_magic(p, n, "MM\0+", 4))
    return img_tiff(k);
  if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
    return img_webp(k);
  if (img_magic(p, n, "\0\0\0\x0cjP  \r\n\x87\n", 12)) return img_j2k(k, true);
  if (img_magic(p, n, "\xff\x4f\xff\x51", 4)) return img_j2k(k, false);
  if (n >= 3 && p[0] == 'P' && p[1] >= '1' && p[1] <= '6') return img_pnm(k);
  return EMBER_OK; /* not a format this decoder knows: empty image */
}

static ember_status img_run(emb_run_ctx *c) {
  const img_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  img_buf im = {0, 0, 0, NULL};
  img_call k = {c, x->data, x->nbytes, &im};
  ember_status st = img_decode(&k);
  if (st) {
    free(im.px);
    return st;
  }
  int ch = s->format == IMG_GRAY ? 1 : 3;
  int64_t dims[3] = {(int64_t)im.h, (int64_t)im.w, ch};
  if (!im.px) dims[0] = dims[1] = 0;
  emb_value v;
  memset(&v, 0, sizeof v);
  v.kind = EMB_VK_TENSOR;
  st = emb_tensor_alloc(&v.t, EMBER_UINT8, 3, dims, c->diag);
  if (st) {
    free(im.px);
    return st;
  }
  size_t np = im.px ? im.w * im.h : 0;
  const uint8_t *src = im.px;
  uint8_t *dst = v.t.data;
  for (size_t i = 0; i < np; i++) {
    if (im.ch == 1) {
      memset(dst + i * (size_t)ch, src[i], (size_t)ch);
    } else if (s->format == IMG_GRAY) {
      const uint8_t *q = src + 3 * i;
      dst[i] =
          (uint8_t)((q[0] * 19595u + q[1] * 38470u + q[2] * 7471u + 0x8000u) >>
                    16);
    } else {
      const uint8_t *q = src + 3 * i;
      bool bgr = s->format == IMG_BGR;
      dst[3 * i] = q[bgr ? 2 : 0];
      dst[3 * i + 1] = q[1];
      dst[3 * i + 2] = q[bgr ? 0 : 2];
    }
  }
  free(im.px);
  if (c->n_out > 0 && c->out[0]) {
    emb_value_clear(c->out[0]);
    *c->out[0] = v;
  } else {
    emb_value_clear(&v);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_imagedecoder = {
    1,        1,         1,      1, EMB_OP_OWN_OUTPUTS | EMB_OP_NO_FOLD,
    img_init, img_infer, img_run};
