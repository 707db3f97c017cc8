/*
 * cli.h: declarations shared by the files of the `ember` command-line tool
 * (tools/).  The tool is a client of the public API only: it includes
 * <ember/ember.h> and nothing from lib/.  This header gathers the small
 * helpers every sub-command needs (messages, option parsing, element
 * conversion, shapes, timing, input preparation) and the entry point of
 * each sub-command.  Exit codes follow one rule everywhere: 0 success,
 * 1 failure (bad file, failed load or run, failed conformance case),
 * 2 usage error.
 */
#ifndef EMBER_TOOLS_CLI_H
#define EMBER_TOOLS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ember/ember.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

#if defined(__GNUC__) || defined(__clang__)
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLI_PRINTF(f, a)
#endif

/* ------------------------------------------------------------ messages */

/* Print "ember: <message>" as one line on stderr. */
void cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Print a usage error for `cmd` plus a hint to `ember help CMD`; returns
 * CLI_EXIT_USAGE so callers can `return cli_usage_error(...)`. */
int cli_usage_error(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);

/* -------------------------------------------------------- option parsing */

/* A cursor over argv for one sub-command.  Options may be written
 * `--name value` or `--name=value`; "--" ends the options. */
typedef struct cli_args {
  int argc;
  char **argv;
  int i;            /* next argument to look at                         */
  const char *cmd;  /* sub-command name, for messages                   */
  int only_positional; /* set once "--" was seen                         */
} cli_args;

/* If argv[i] is the option `name` (e.g. "--threads"), consume it and, when
 * `value` is not NULL, its value (next argument or text after '=').
 * Returns 1 when matched, 0 when not, -1 (after printing a usage error)
 * when the value is missing or a value was given to a flag. */
int cli_opt(cli_args *a, const char *name, const char **value);
/* Parse a non-negative decimal integer option value; -1 after printing a
 * usage error. */
int cli_parse_count(const char *cmd, const char *opt, const char *text,
                    long long max, long long *out);
/* Parse a non-negative finite floating point option value. */
int cli_parse_double(const char *cmd, const char *opt, const char *text,
                     double *out);

/* ---------------------------------------------------------- elements */

float cli_half_to_float(uint16_t h);
uint16_t cli_float_to_half(float f);
float cli_bf16_to_float(uint16_t b);
uint16_t cli_float_to_bf16(float f);

/* Whether element values of `dtype` are read as floating point (float,
 * double, float16, bfloat16, the float8/float4 family, complex parts). */
int cli_dtype_is_float(int32_t dtype);
/* Whether cli_elem_double can read `dtype` (every numeric type and bool;
 * not strings, not complex). */
int cli_dtype_is_real(int32_t dtype);
/* Element `i` of a tensor of a real `dtype` at `data`, as a double (packed
 * sub-byte types unpacked). */
double cli_elem_double(int32_t dtype, const void *data, size_t i);
/* For integer types (and bool), element `i` exactly.  For EMBER_UINT64 the
 * result is the same 64 bits read as signed: cast it back to uint64_t. */
int64_t cli_elem_int(int32_t dtype, const void *data, size_t i);

/* Number of elements of `t` (product of dims; 1 for rank 0).  Returns 0 and
 * sets *ok = 0 when a dimension is negative or the product overflows. */
size_t cli_tensor_count(const ember_tensor *t, int *ok);

/* ------------------------------------------------------------- shapes */

/* Write "[1,3,224,224]" for a tensor shape into buf (truncated). */
void cli_format_dims(char *buf, size_t size, int32_t rank,
                     const int64_t *dims);
/* Write the declared shape of an input/output: symbolic dimensions by
 * name, unknown ones as "?", "(unknown rank)" for rank -1. */
void cli_format_info_shape(char *buf, size_t size,
                           const ember_value_info *info);
const char *cli_kind_name(int32_t kind);

/* ------------------------------------------------------------- misc */

/* Monotonic time in milliseconds. */
double cli_now_ms(void);
/* Read a whole file; *out is yours (free()).  Returns 0, or -1 with a
 * message in errbuf. */
int cli_read_file(const char *path, unsigned char **out, size_t *size,
                  char *errbuf, size_t errsize);
/* Create a folder and its parents; 0 or -1 with errno set. */
int cli_mkdir_p(const char *path);
/* Copy `name` into buf with every character that is not a letter, digit,
 * '.', '_' or '-' replaced by '_'; "." and ".." and "" become "_". */
void cli_sanitize_name(const char *name, char *buf, size_t size);
/* Load a model, printing "ember: cannot load PATH: ..." on failure.
 * Returns the status; *out is NULL on failure. */
ember_status cli_load_model(const char *path, ember_model **out);
/* Create a session with `threads` threads, printing a message on
 * failure.  *out is NULL on failure. */
ember_status cli_create_session(const ember_model *model, int threads,
                                ember_session **out);
/* Number of online processors (at least 1). */
int cli_cpu_count(void);

/* ------------------------------------------------------------- inputs */

/* One `--input NAME=FILE` argument. */
typedef struct cli_input_spec {
  const char *name;
  const char *path;
} cli_input_spec;

/* The inputs of one run, one per graph input, in graph order. */
typedef struct cli_inputs {
  size_t count;
  const char **names;     /* borrowed from the model                    */
  ember_value *values;    /* what ember_session_run_values reads        */
  int *generated;         /* 1 where the value was made up              */
  /* Everything below is owned and released by cli_inputs_free. */
  ember_value **parsed;   /* from ember_value_parse, per input or NULL  */
  void **blocks;          /* other allocations                          */
  size_t nblocks, capblocks;
} cli_inputs;

/* Parse "NAME=FILE" into *spec, splitting `text` in place at the first
 * '=' (spec points into it); -1 after a usage error. */
int cli_input_spec_parse(const char *cmd, char *text, cli_input_spec *spec);
/* Build the inputs of `model`: those named in `specs` from their files
 * (.npy or .pb), every other one generated deterministically from its
 * declared shape.  Prints a one-line error and returns -1 on failure. */
int cli_inputs_prepare(const ember_model *model, const cli_input_spec *specs,
                       size_t nspecs, cli_inputs *out);
void cli_inputs_free(cli_inputs *in);
/* Fill a float32 buffer with arange(n)/n (the light/ convention). */
void cli_fill_arange(float *data, size_t n);

/* ----------------------------------------------------- sub-commands */

int cli_inspect_main(int argc, char **argv);
int cli_run_main(int argc, char **argv);
int cli_bench_main(int argc, char **argv);
int cli_conform_main(int argc, char **argv);

extern const char cli_inspect_usage[];
extern const char cli_run_usage[];
extern const char cli_bench_usage[];
extern const char cli_conform_usage[];

#endif /* EMBER_TOOLS_CLI_H */
