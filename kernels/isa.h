/*
 * Instruction-set selection for the kernels.  The CPU (CPUID, and XGETBV
 * for the operating system's support of the AVX and AVX-512 register
 * state) is examined once, under pthread_once, together with the EMBER_ISA
 * environment variable; the result is read-only afterwards.  Each kernel
 * family keeps a const table indexed by these ISA values and asks
 * ember_kernels_isa() which entry to use.  Tests (and benchmarks) may force
 * any ISA the machine supports with ember_kernels_force_isa, which is the
 * one other global: an atomic int.
 */
#ifndef EMBER_KERNELS_ISA_H
#define EMBER_KERNELS_ISA_H

/* The fixed list, lowest first; a higher value is preferred when
 * supported.  The numbers index the kernel tables and never change. */
enum ember_isa {
  EMBER_ISA_SCALAR = 0,
  EMBER_ISA_AVX2 = 1,    /* AVX2 + FMA                          */
  EMBER_ISA_AVX512F = 2, /* AVX-512 F, VL, BW, DQ + FMA         */
  EMBER_ISA_COUNT = 3
};

/* The ISA kernels use now: the one forced by ember_kernels_force_isa if
 * any, else the one chosen at initialization (EMBER_ISA when it names a
 * supported ISA, else the best supported).  Thread-safe. */
int ember_kernels_isa(void);

/* Whether `isa` was compiled in and the CPU and OS support it.
 * EMBER_ISA_SCALAR is always supported.  Thread-safe. */
int ember_kernels_isa_supported(int isa);

/* "scalar", "avx2", "avx512f"; NULL for an unknown value. */
const char *ember_kernels_isa_name(int isa);

/* Forces the ISA named `isa` ("scalar", "avx2", "avx512f") for every later
 * kernel call in the process, or returns to the automatic choice when
 * `isa` is NULL or "auto".  Returns 0, or -1 (and changes nothing) when the
 * name is unknown or the machine lacks that ISA.  Meant for tests and
 * benchmarks: a kernel call running concurrently may use either ISA, and
 * data pre-packed for one ISA keeps using that ISA's kernels. */
int ember_kernels_force_isa(const char *isa);

#endif
