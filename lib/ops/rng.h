/*
 * rng.h: Ember's random number generator, shared by the random operators
 * (random.c) and training-mode Dropout (elementwise.c).  It is counter
 * based: Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random
 * numbers: as easy as 1, 2, 3", SC 2011) maps a 128-bit counter and a
 * 64-bit key to 128 random bits, with no state carried from one call to
 * the next.  Element i of an operator's output is drawn from counter
 * block i / 2, so any range of elements can be computed alone (threads
 * split outputs freely), the result does not depend on the thread count,
 * and a smaller output with the same seed is a prefix of a larger one.
 * The key comes from the node's `seed` attribute when there is one, so
 * that the same seed gives the same bits on every run and every platform;
 * without a seed it comes from the monotonic clock mixed with the node's
 * and the session's addresses (there is no per-session operator state to
 * keep a run counter in, and Ember keeps no global mutable state).
 * Streams cannot match other runtimes' (numpy, PyTorch), which use other
 * generators.
 */
#ifndef EMBER_OPS_RNG_H
#define EMBER_OPS_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* A generator: the Philox key and the two high counter words, which
 * select a stream; the two low counter words are the block index. */
typedef struct emb_rng {
  uint32_t key[2];
  uint32_t stream[2];
} emb_rng;

/* One Philox4x32-10 block: out = bijection_key(ctr).  ctr[0] is the least
 * significant counter word.  Matches the Random123 known-answer vectors. */
void emb_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                       uint32_t out[4]);

/* The 64-bit seed of a node's `seed` attribute, false when it has none.
 * The attribute is a float for the Random* operators, Bernoulli and
 * Multinomial and an int for Dropout; both are accepted, and an integral
 * float seed (42.0) gives the same seed as the int (42). */
bool emb_rng_seed_attr(const emb_node *n, uint64_t *seed);

/* A generator from a seed (deterministic). */
void emb_rng_from_seed(emb_rng *r, uint64_t seed);

/* A generator that differs from run to run: the monotonic clock mixed with
 * `a` and `b` (the node and the session), so that two nodes or two
 * sessions running at the same instant still differ. */
void emb_rng_from_entropy(emb_rng *r, const void *a, const void *b);

/* The generator for one run of node n in `session`: from its seed
 * attribute when present, else from entropy. */
void emb_rng_for_node(emb_rng *r, const emb_node *n, const void *session);

/* out[k] = the uniform double in [0, 1) (53 random bits) of element
 * first + k, for k < n. */
void emb_rng_uniform(const emb_rng *r, uint64_t first, size_t n,
                     double *out);

/* out[k] = the standard normal double of element first + k, for k < n:
 * Box-Muller in double on the two uniforms of a block, the cosine branch
 * for even elements and the sine branch for odd ones. */
void emb_rng_normal(const emb_rng *r, uint64_t first, size_t n, double *out);

#endif
