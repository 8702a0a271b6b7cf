/* main.c — frc's command line (framec-compatible):
 *
 *   frc compile -l rust -o DIR FILE.frs    writes DIR/<stem>.rs
 *   frc compile -l c -o DIR FILE.frs       writes DIR/<stem>.c
 *   frc check [-l rust] [--rustc PATH] FILE.frs
 *                                           rustc's errors at .frs positions
 *                                           (check_native.c)
 *   frc --help | --version
 *
 * Exit: 0 ok, 64 usage, 65 source rejected, 66 input unreadable; check
 * also 1 (rustc rejected the generated Rust) and 69 (rustc cannot run). */
#include "frc.h"
#include "check_native.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <sys/stat.h>

static const char *usage =
	"usage: frc compile -l rust -o DIR FILE.frs\n"
	"       frc compile -l c -o DIR FILE.frs\n"
	"       frc check [-l rust] [--rustc PATH] FILE.frs\n"
	"       frc --help | --version\n"
	"\n"
	"Compiles the Frame systems in FILE.frs (native Rust with @@system blocks)\n"
	"to the Rust module DIR/<stem>.rs. A system marked @@[no_alloc] gets the\n"
	"zero-allocation shape (RFC-0036); any other system gets framec 4.x's\n"
	"allocating RFC-0020 shape. With -l c, FILE.frs is native C (@@[target(\"c\")])\n"
	"and the output the C file DIR/<stem>.c, in framec's C runtime shape or,\n"
	"under @@[no_alloc], one that calls no allocator.\n"
	"\n"
	"check compiles FILE.frs in both shapes (as written, and with @@[no_alloc]\n"
	"toggled without moving a line), runs rustc on each output (the no_alloc one\n"
	"under #![no_std]; rustc is --rustc PATH, else $RUSTC, else rustc on PATH)\n"
	"and prints rustc's errors at FILE.frs:LINE:COL with the generated line.\n"
	"\n"
	"exit status: 0 ok, 64 usage error, 65 source rejected, 66 input unreadable;\n"
	"check: 0 both shapes build, 1 rustc rejected the generated Rust, 69 rustc\n"
	"could not be run\n";

int frc_usage_error(const char *msg)
{
	fprintf(stderr, "frc: %s\n%s", msg, usage);
	return EXIT_USAGE;
}

/* Larger sources are refused as unreadable (66): token offsets are ints. */
#define MAX_SOURCE (256u << 20)

char *frc_read_file(const char *path, int *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *buf = xalloc(cap);
	for (;;) {
		if (n + 1 >= cap) {
			char *nb = xalloc(cap * 2);
			memcpy(nb, buf, n);
			buf = nb;
			cap *= 2;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		if (r == 0)
			break;
		n += r;
		if (n > MAX_SOURCE) {
			fclose(f);
			errno = EFBIG;
			return NULL;
		}
	}
	bool bad = ferror(f);
	fclose(f);
	if (bad)
		return NULL;
	buf[n] = 0;
	*len = (int)n;
	return buf;
}

/* DIR/<basename without .frs>.rs (.c for -l c) */
static char *output_path(const char *dir, const char *file)
{
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	size_t n = strlen(base);
	const char *dot = strrchr(base, '.');
	if (dot && dot != base)
		n = (size_t)(dot - base);
	return xsprintf("%s/%.*s.%s", dir, (int)n, base, frc_target == TARGET_C ? "c" : "rs");
}

static int compile(const char *dir, const char *file)
{
	int len;
	char *text = frc_read_file(file, &len);
	if (!text) {
		fprintf(stderr, "frc: cannot read %s: %s\n", file, strerror(errno));
		return EXIT_NOINPUT;
	}
	char *out;
	size_t out_len;
	int status = frc_compile_buffer(file, text, (size_t)len, stderr, &out, &out_len);
	if (status != EXIT_OK)
		return status;
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "frc: cannot create %s: %s\n", dir, strerror(errno));
		return EXIT_USAGE;
	}
	char *path = output_path(dir, file);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(out, 1, out_len, f) != out_len || fclose(f) != 0) {
		fprintf(stderr, "frc: cannot write %s: %s\n", path, strerror(errno));
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* compile's options: -l LANG, -o DIR (or --language, --output) and one
 * FILE, in any order.  getopt_long sees argv from "compile" on. */
static int compile_command(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "language", required_argument, NULL, 'l' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *lang = NULL, *dir = NULL, *file = NULL;
	opterr = 0; /* frc words its own usage errors */
	for (int c; (c = getopt_long(argc, argv, ":l:o:", longopts, NULL)) != -1;) {
		if (c == 'l')
			lang = optarg;
		else if (c == 'o')
			dir = optarg;
		else
			return frc_usage_error(xsprintf("unknown or incomplete option '%s'",
				optopt && optopt != 'l' && optopt != 'o' ?
				xsprintf("-%c", optopt) : argv[optind - 1]));
	}
	if (optind < argc - 1)
		return frc_usage_error("more than one input file");
	if (optind == argc - 1)
		file = argv[optind];
	if (!lang || !dir || !file)
		return frc_usage_error("compile needs -l rust, -o DIR and one FILE");
	if (strcmp(lang, "rust") == 0)
		frc_target = TARGET_RUST;
	else if (strcmp(lang, "c") == 0)
		frc_target = TARGET_C;
	else
		return frc_usage_error(xsprintf("unsupported language '%s' (frc emits rust and c)", lang));
	return compile(dir, file);
}

/* `--help` or `-h` anywhere: `frc --help`, `frc compile --help`, `frc check -h`. */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("frc %s\n", FRC_VERSION);
		return EXIT_OK;
	}
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return check_command(argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "compile") != 0)
		return frc_usage_error(argc < 2 ? "missing command" : xsprintf("unknown command '%s'", argv[1]));
	return compile_command(argc - 1, argv + 1);
}
