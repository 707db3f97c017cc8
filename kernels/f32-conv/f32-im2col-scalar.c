/*
 * Portable C im2col / col2im for N-dimensional convolutions (geometry in
 * f32-conv.h).  Both walk the same way: per channel and kernel tap, over
 * the requested grid positions one run along the last axis at a time.
 * For each run the valid part (taps landing inside the image) is found
 * arithmetically, so the inner loops are plain strided copies or adds
 * with no per-element bounds test.
 */
#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include "f32-conv/f32-conv.h"

#define MAX_AXES 16

/* Grid positions [lo, hi) along an axis whose taps land inside
 * [0, img): image position = grid * s + off. */
static void valid_range(ptrdiff_t off, size_t s, size_t img, size_t *lo,
                        size_t *hi) {
  ptrdiff_t sd = (ptrdiff_t)s;
  ptrdiff_t l = off >= 0 ? 0 : (-off + sd - 1) / sd;
  ptrdiff_t top = (ptrdiff_t)img - 1 - off;
  ptrdiff_t h = top < 0 ? 0 : top / sd + 1;
  if (h < l) h = l;
  *lo = (size_t)l;
  *hi = (size_t)h;
}

static void walk(const ember_conv_geom *g, size_t channels, size_t first,
                 size_t count, float *col, float *img, bool scatter) {
  size_t nsp = g->nsp, last = nsp - 1;
  assert(nsp >= 1 && nsp <= MAX_AXES);
  if (count == 0 || channels == 0) return;
  size_t img_stride[MAX_AXES], img_size = 1, ksize = 1;
  for (size_t d = nsp; d-- > 0;) {
    img_stride[d] = img_size;
    img_size *= g->img[d];
    ksize *= g->kernel[d];
  }
  size_t start[MAX_AXES];
  for (size_t d = nsp, r = first; d-- > 0;) {
    start[d] = r % g->grid[d];
    r /= g->grid[d];
  }
  const size_t s_last = g->stride[last], in_last = g->img[last];
  float *row = col;
  for (size_t c = 0; c < channels; c++) {
    float *imc = img + c * img_size;
    size_t k[MAX_AXES] = {0};
    for (size_t t = 0; t < ksize; t++, row += count) {
      size_t o[MAX_AXES];
      memcpy(o, start, nsp * sizeof *o);
      ptrdiff_t off_last =
          (ptrdiff_t)(k[last] * g->dilation[last]) - g->pad[last];
      size_t vlo, vhi;
      valid_range(off_last, s_last, in_last, &vlo, &vhi);
      for (size_t done = 0; done < count;) {
        size_t ow0 = o[last];
        size_t len = g->grid[last] - ow0;
        if (len > count - done) len = count - done;
        float *seg = row + done; /* seg[i] is grid position ow0 + i */
        bool inside = true;
        ptrdiff_t base = 0;
        for (size_t d = 0; d < last && inside; d++) {
          ptrdiff_t ih =
              (ptrdiff_t)(o[d] * g->stride[d] + k[d] * g->dilation[d]) -
              g->pad[d];
          inside = ih >= 0 && ih < (ptrdiff_t)g->img[d];
          base += ih * (ptrdiff_t)img_stride[d];
        }
        size_t lo = vlo < ow0 ? ow0 : vlo;
        size_t hi = vhi > ow0 + len ? ow0 + len : vhi;
        if (!inside || lo >= hi) lo = hi = ow0;
        size_t n_lo = lo - ow0, n_in = hi - lo, n_hi = ow0 + len - hi;
        /* The image element under grid position lo; only formed when
         * some position is inside, so it points into the image. */
        float *src =
            n_in ? imc + (base + off_last + (ptrdiff_t)(lo * s_last)) : imc;
        float *dst = seg + n_lo;
        if (!scatter) {
          for (size_t i = 0; i < n_lo; i++) seg[i] = 0.0f;
          if (s_last == 1)
            memcpy(dst, src, n_in * sizeof *dst);
          else
            for (size_t i = 0; i < n_in; i++) dst[i] = src[i * s_last];
          for (size_t i = 0; i < n_hi; i++) dst[n_in + i] = 0.0f;
        } else if (s_last == 1) {
          for (size_t i = 0; i < n_in; i++) src[i] += dst[i];
        } else {
          for (size_t i = 0; i < n_in; i++) src[i * s_last] += dst[i];
        }
        done += len;
        o[last] += len;
        for (size_t d = last; d > 0 && o[d] == g->grid[d]; d--) {
          o[d] = 0;
          o[d - 1]++;
        }
      }
      for (size_t d = last + 1; d-- > 0;) {
        if (++k[d] < g->kernel[d]) break;
        k[d] = 0;
      }
    }
  }
}

void ember_f32_im2col__scalar(const ember_conv_geom *g, size_t channels,
                              const float *x, size_t first, size_t count,
                              float *col) {
  /* walk only writes through img when scattering. */
  walk(g, channels, first, count, col, (float *)x, false);
}

void ember_f32_col2im__scalar(const ember_conv_geom *g, size_t channels,
                              const float *col, size_t first, size_t count,
                              float *y) {
  walk(g, channels, first, count, (float *)col, y, true);
}
