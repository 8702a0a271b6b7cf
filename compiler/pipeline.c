/* pipeline.c — the whole pipeline on an in-memory buffer, shared by the
 * frc executable (main.c) and the fuzz target (fuzz/fuzz_frc.c):
 * text check → lex → parse → check → emit. Nothing here exits the process
 * or touches the file system. */
#include "frc.h"

#include <limits.h>

static Source src;

int frc_compile_buffer(const char *path, const char *data, size_t len, FILE *diag, char **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	diag_out = diag;
	if (len > INT_MAX / 2)
		die("source of %zu bytes is too large", len);  /* main.c refuses such files first */
	char *text = xalloc(len + 1);  /* NUL-terminated: the scanners may peek one byte ahead */
	if (len)
		memcpy(text, data, len);
	src = (Source){path, text, (int)len};
	if (src.len >= 3 && memcmp(src.text, "\xEF\xBB\xBF", 3) == 0) {
		src.text += 3;  /* a UTF-8 BOM would land mid-file after our banner */
		src.len -= 3;
	}
	cur_src = &src;
	Program prog = {0};
	bool ok = check_text();
	ok = ok && lex_file(&prog.toks);
	ok = ok && parse_program(&prog);
	ok = ok && check_program(&prog);
	flush_diagnostics();
	if (!ok) {
		fprintf(diag ? diag : stderr, "frc: %s: %d error%s; no output written\n", path, error_count(),
		        error_count() == 1 ? "" : "s");
		return EXIT_REJECTED;
	}
	Out o = {0};
	emit_program(&prog, &o);
	*out = o.buf;
	*out_len = o.len;
	return EXIT_OK;
}

void frc_release(void)
{
	arena_free_all();
	diag_reset();
	check_reset();
	src_toks = (TokList){0};
	cur_src = NULL;
	diag_out = NULL;
}
