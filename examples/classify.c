/*
 * The smallest complete Ember program: load a model, inspect its input,
 * run it on a generated image and print the top class.  Build against an
 * installed Ember with
 *     cc classify.c $(pkg-config --cflags --libs ember) -o classify
 * and run as `./classify models/tiny_cnn.onnx`.
 */
#include <stdio.h>
#include <stdlib.h>

#include <ember/ember.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.onnx\n", argv[0]);
    return 2;
  }
  ember_model *model;
  if (ember_model_load_file(argv[1], NULL, &model) != EMBER_OK) {
    fprintf(stderr, "load: %s\n", ember_model_errmsg(model));
    ember_model_free(model);
    return 1;
  }
  /* One float input; symbolic dimensions (the batch) are set to 1. */
  ember_value_info in;
  if (ember_model_input_info(model, 0, &in) != EMBER_OK ||
      in.dtype != EMBER_FLOAT || in.rank < 0) {
    fprintf(stderr, "expected a float input of known rank\n");
    ember_model_free(model);
    return 1;
  }
  int64_t dims[8];
  size_t count = 1;
  for (int i = 0; i < in.rank && i < 8; i++) {
    dims[i] = in.dims[i] < 0 ? 1 : in.dims[i];
    count *= (size_t)dims[i];
  }
  float *pixels = malloc(count * sizeof *pixels);
  for (size_t i = 0; i < count; i++) pixels[i] = (float)i / (float)count;

  ember_session *session;
  if (ember_session_create(model, NULL, &session) != EMBER_OK) {
    fprintf(stderr, "session: %s\n", ember_session_errmsg(session));
    ember_session_free(session);
    ember_model_free(model);
    free(pixels);
    return 1;
  }
  ember_tensor input = {EMBER_FLOAT, in.rank, dims, pixels,
                        count * sizeof *pixels};
  ember_tensor output = {0}; /* data NULL: the library owns the result */
  int rc = 0;
  if (ember_session_run(session, 1, &in.name, &input, 1, NULL, &output) !=
      EMBER_OK) {
    fprintf(stderr, "run: %s\n", ember_session_errmsg(session));
    rc = 1;
  } else {
    const float *scores = output.data;
    size_t n = output.nbytes / sizeof *scores, best = 0;
    for (size_t i = 1; i < n; i++)
      if (scores[i] > scores[best]) best = i;
    printf("class %zu (score %.4f of %zu)\n", best, scores[best], n);
  }
  /* output.data stays valid until the next run or the session's free. */
  ember_session_free(session);
  ember_model_free(model);
  free(pixels);
  return rc;
}
