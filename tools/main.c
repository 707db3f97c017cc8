/*
 * main.c: entry point of the `ember` command-line tool.  It dispatches to
 * the sub-commands (inspect, run, bench, conform, each in its own file),
 * prints the version and the help texts, and maps an unknown command to a
 * one-line usage error with exit code 2.
 */
#include "cli.h"

#include <string.h>

static const char main_usage[] =
    "usage: ember COMMAND [ARGS...]\n"
    "\n"
    "Commands:\n"
    "  inspect MODEL            describe a model: inputs, outputs, opsets,\n"
    "                           metadata, operators, parameter count\n"
    "  run MODEL [OPTIONS]      run a model once and summarize its outputs\n"
    "  bench MODEL [OPTIONS]    measure load time and run latency\n"
    "  conform [OPTIONS] PATH...\n"
    "                           run ONNX backend test cases and compare\n"
    "  help [COMMAND]           show this text or a command's options\n"
    "  --version                print the version\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

typedef struct command {
  const char *name;
  int (*main)(int argc, char **argv);
  const char *usage;
} command;

static const command commands[] = {
    {"inspect", cli_inspect_main, cli_inspect_usage},
    {"run", cli_run_main, cli_run_usage},
    {"bench", cli_bench_main, cli_bench_usage},
    {"conform", cli_conform_main, cli_conform_usage},
};

static const command *find_command(const char *name) {
  size_t i;
  for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static int is_help(const char *arg) {
  return strcmp(arg, "help") == 0 || strcmp(arg, "--help") == 0 ||
         strcmp(arg, "-h") == 0;
}

int main(int argc, char **argv) {
  const command *cmd;
  if (argc < 2) {
    fputs(main_usage, stderr);
    return CLI_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
    printf("ember %s (library %s)\n", EMBER_VERSION_STRING,
           ember_version_string());
    return CLI_EXIT_OK;
  }
  if (is_help(argv[1])) {
    if (argc > 2) {
      cmd = find_command(argv[2]);
      if (!cmd) {
        cli_error("unknown command '%s' (see 'ember help')", argv[2]);
        return CLI_EXIT_USAGE;
      }
      fputs(cmd->usage, stdout);
    } else {
      fputs(main_usage, stdout);
    }
    return CLI_EXIT_OK;
  }
  cmd = find_command(argv[1]);
  if (!cmd) {
    if (argv[1][0] == '-')
      cli_error("unknown option '%s' (see 'ember help')", argv[1]);
    else
      cli_error("unknown command '%s' (see 'ember help')", argv[1]);
    return CLI_EXIT_USAGE;
  }
  /* `ember CMD --help` anywhere before "--" shows the command's help */
  {
    int i;
    for (i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
      if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
        fputs(cmd->usage, stdout);
        return CLI_EXIT_OK;
      }
  }
  return cmd->main(argc - 1, argv + 1);
}
