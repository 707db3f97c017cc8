/*
 * Run-time ISA selection (see isa.h).  Detection runs once under
 * pthread_once: CPUID says what the processor implements, XGETBV whether
 * the operating system saves the wider registers on a context switch
 * (without that, AVX code faults or silently loses state).  An ISA is
 * usable only when it was also compiled in (EMBER_HAVE_AVX2 and
 * EMBER_HAVE_AVX512F come from kernels/meson.build, set when the compiler
 * accepts that ISA's flags).  The environment variable EMBER_ISA is read at
 * that moment and never again.
 */
#include "isa.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define EMBER_X86 1
#endif

static const char *const isa_names[EMBER_ISA_COUNT] = {"scalar", "avx2",
                                                       "avx512f"};

/* Written once inside pthread_once, read-only afterwards. */
static struct {
  int supported[EMBER_ISA_COUNT];
  int chosen;
} isa_state;
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

/* -1: automatic; otherwise the forced ISA. */
static atomic_int isa_forced = -1;

#ifdef EMBER_X86
static unsigned long long read_xcr0(void) {
  unsigned lo, hi;
  /* XCR0 (ecx = 0).  Inline asm rather than _xgetbv(), which would need
   * -mxsave on the baseline build. */
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}

static void detect_x86(int *supported) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return;
  int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  if (!osxsave || !avx) return;
  unsigned long long xcr0 = read_xcr0();
  /* Bits 1 and 2: SSE and AVX (YMM upper halves) state. */
  int os_avx = (xcr0 & 0x6) == 0x6;
  /* Bits 5, 6, 7: opmask, ZMM0-15 upper halves, ZMM16-31. */
  int os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;
  if (__get_cpuid_max(0, NULL) < 7) return;
  __cpuid_count(7, 0, a, b, c, d);
  int avx2 = (b >> 5) & 1;
  int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1;
  int avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
#ifdef EMBER_HAVE_AVX2
  supported[EMBER_ISA_AVX2] = os_avx && avx2 && fma;
#endif
#ifdef EMBER_HAVE_AVX512F
  supported[EMBER_ISA_AVX512F] = os_avx512 && avx512f && avx512dq &&
                                 avx512bw && avx512vl && fma && avx2;
#endif
  (void)avx2, (void)avx512f, (void)avx512dq, (void)avx512bw, (void)avx512vl;
  (void)fma, (void)os_avx512, (void)supported;
}
#endif

static int isa_from_name(const char *name) {
  for (int i = 0; i < EMBER_ISA_COUNT; i++)
    if (strcmp(name, isa_names[i]) == 0) return i;
  return -1;
}

static void isa_init(void) {
  isa_state.supported[EMBER_ISA_SCALAR] = 1;
#ifdef EMBER_X86
  detect_x86(isa_state.supported);
#endif
  int best = EMBER_ISA_SCALAR;
  for (int i = 0; i < EMBER_ISA_COUNT; i++)
    if (isa_state.supported[i]) best = i;
  /* EMBER_ISA may lower the choice (or name the best); an unknown or
   * unsupported name is ignored rather than failing later. */
  const char *env = getenv("EMBER_ISA");
  if (env && *env) {
    int want = isa_from_name(env);
    if (want >= 0 && isa_state.supported[want]) best = want;
  }
  isa_state.chosen = best;
}

int ember_kernels_isa_supported(int isa) {
  if (isa < 0 || isa >= EMBER_ISA_COUNT) return 0;
  pthread_once(&isa_once, isa_init);
  return isa_state.supported[isa];
}

int ember_kernels_isa(void) {
  int forced = atomic_load_explicit(&isa_forced, memory_order_relaxed);
  if (forced >= 0) return forced;
  pthread_once(&isa_once, isa_init);
  return isa_state.chosen;
}

const char *ember_kernels_isa_name(int isa) {
  return isa >= 0 && isa < EMBER_ISA_COUNT ? isa_names[isa] : NULL;
}

int ember_kernels_force_isa(const char *isa) {
  if (!isa || strcmp(isa, "auto") == 0) {
    atomic_store(&isa_forced, -1);
    return 0;
  }
  int want = isa_from_name(isa);
  if (want < 0 || !ember_kernels_isa_supported(want)) return -1;
  atomic_store(&isa_forced, want);
  return 0;
}
