/*
 * Replays fuzz corpora without a fuzzing engine, so that `make test` runs
 * every committed input (seeds and past crashes) through its target under
 * the sanitizer build.  Prints one TAP case per target (a crash or a
 * sanitizer report ends the process, which the runner counts as failed).
 *
 *	replay TARGET-NAME CORPUS-DIR
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/fsutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
main(int argc, char *argv[])
{
	struct dirent **ents;
	struct sp_err err;
	char path[4096], *data;
	size_t len;
	int i, n, t = 0, bad = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: replay TARGET CORPUS-DIR\n");
		return 2;
	}
	if ((n = scandir(argv[2], &ents, NULL, alphasort)) < 0) {
		perror(argv[2]);
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", argv[2],
			    ents[i]->d_name);
			if (sp_fs_read(path, 1 << 20, &data, &len, &err) == -1) {
				printf("# %s\n", err.msg);
				bad++;
			} else {
				LLVMFuzzerTestOneInput((const uint8_t *)data,
				    len);
				free(data);
				t++;
			}
		}
		free(ents[i]);
	}
	free(ents);
	printf("%sok 1 - %s: %d corpus inputs replayed\n1..1\n",
	    (bad || t == 0) ? "not " : "", argv[1], t);
	return bad ? 1 : 0;
}
