/*
 * npy.h: reading and writing NumPy .npy files (format versions 1.0, 2.0
 * and 3.0) for the `ember` tool, so that inputs can be prepared and
 * outputs checked with numpy.  Only little-endian, C-ordered arrays of the
 * plain element types are read (f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1 c8 c16,
 * and U/S strings); Fortran order, big-endian data, object and structured
 * arrays are refused with a message that says so.  Written files use
 * version 1.0 (2.0 when the header needs it) and the nearest numpy type
 * for element types numpy lacks (bfloat16 and float8 as float32, packed
 * 4- and 2-bit integers as int8/uint8).
 */
#ifndef EMBER_TOOLS_NPY_H
#define EMBER_TOOLS_NPY_H

#include <stddef.h>
#include <stdint.h>

#include <ember/ember.h>

/* An array read from a .npy file.  `tensor` points into the owned
 * buffers; for EMBER_STRING, data is an array of char * whose strings live
 * in the same block. */
typedef struct npy_array {
  ember_tensor tensor;
  int64_t *dims;  /* owned */
  void *data;     /* owned */
} npy_array;

/* Read `path`.  Returns 0, or -1 with a one-line message in err. */
int npy_read(const char *path, npy_array *out, char *err, size_t errsize);
/* Parse a .npy image of `size` bytes (borrowed for the call). */
int npy_parse(const unsigned char *bytes, size_t size, npy_array *out,
              char *err, size_t errsize);
void npy_array_free(npy_array *a);

/* Write tensor `t` to `path`.  Returns 0, or -1 with a message in err.
 * When the element type had to be converted, *note (if not NULL) is set to
 * a static phrase such as "bfloat16 written as float32", else to NULL. */
int npy_write(const char *path, const ember_tensor *t, const char **note,
              char *err, size_t errsize);

#endif /* EMBER_TOOLS_NPY_H */
