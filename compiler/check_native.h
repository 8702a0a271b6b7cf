/* check_native.h — `frc check` (check_native.c) and what it takes from
 * main.c and diag.c. Kept apart from frc.h: only the executable uses it,
 * never the pipeline library or the fuzz target. */
#ifndef FRC_CHECK_NATIVE_H
#define FRC_CHECK_NATIVE_H

#include <stddef.h>

/* Exit statuses of `frc check` besides frc's own (frc.h): rustc rejected
 * the generated Rust (its errors were printed at .frs positions), and
 * rustc could not be run at all. */
enum { EXIT_RUSTC_REJECTED = 1, EXIT_NO_RUSTC = 69 };

/* main.c: the whole file, NUL-terminated (length in *len); NULL with errno
 * set when it cannot be read or is larger than frc accepts. */
char *frc_read_file(const char *path, int *len);

/* main.c: prints "frc: MSG" and the usage; returns EXIT_USAGE. */
int frc_usage_error(const char *msg);

/* diag.c: source line `line` of cur_src and, when col > 0, a caret line
 * under [col, col+width), formatted as frc's own diagnostics echo them. */
char *diag_echo(int line, int col, int width);

/* check_native.c: `frc check [-l rust] [--rustc PATH] FILE.frs`; argv
 * starts at "check". Returns the exit status. */
int check_command(int argc, char **argv);

#endif
