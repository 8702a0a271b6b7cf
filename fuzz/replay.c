/* replay.c — runs fuzz_frc.c's LLVMFuzzerTestOneInput over files and
 * directories without libFuzzer: the test suite replays the seed corpus and
 * every input in fuzz/regressions/ through the exact fuzzing path (under
 * ASan/UBSan in `make test-sanitize`). A crash or a broken promise aborts;
 * exit 0 means every input was answered.
 *
 * usage: frc-fuzz-replay FILE_OR_DIR... */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	size_t cap = 1 << 16, n = 0;
	unsigned char *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	if (!buf) {
		fprintf(stderr, "%s: out of memory\n", path);
		return 1;
	}
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int replay(const char *path, int *count)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		perror(path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	DIR *d = opendir(path);
	if (!d) {
		perror(path);
		return 1;
	}
	int bad = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		size_t n = strlen(path) + strlen(e->d_name) + 2;
		char *p = malloc(n);
		snprintf(p, n, "%s/%s", path, e->d_name);
		struct stat es;
		if (stat(p, &es) == 0 && S_ISREG(es.st_mode)) {
			(*count)++;
			bad |= replay_file(p);
		}
		free(p);
	}
	closedir(d);
	return bad;
}

int main(int argc, char **argv)
{
	int bad = 0, count = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: frc-fuzz-replay FILE_OR_DIR...\n");
		return 64;
	}
	for (int i = 1; i < argc; i++)
		bad |= replay(argv[i], &count);
	printf("replayed %d input(s) through the fuzz target: %s\n", count, bad ? "some unreadable" : "no crash");
	return bad;
}
