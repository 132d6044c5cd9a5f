/*
 * Runs a command N times and prints its mean CPU time (user + system) and
 * its peak resident set size, read from the kernel (wait4), so that two
 * programs doing the same work are measured the same way.
 *
 *	rusage N command [args...]
 * prints "cpu_ms <mean> maxrss_kib <max> failures <n>"
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sprov/str.h"

int
main(int argc, char *argv[])
{
	struct rusage ru;
	uint64_t n;
	double cpu = 0;
	long rss = 0;
	int status, fails = 0;
	uint64_t i;
	pid_t pid;

	if (argc < 3 || sp_str_u64z(argv[1], 1, 100000, &n) == -1) {
		fprintf(stderr, "usage: rusage N command [args...]\n");
		return 2;
	}
	for (i = 0; i < n; i++) {
		if ((pid = fork()) == 0) {
			if (freopen("/dev/null", "w", stdout) == NULL ||
			    freopen("/dev/null", "w", stderr) == NULL)
				_exit(127);
			execvp(argv[2], argv + 2);
			_exit(127);
		}
		if (pid == -1 || wait4(pid, &status, 0, &ru) == -1)
			return 1;
		if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 &&
		    WEXITSTATUS(status) != 2))	/* 2: agent "unchanged" */
			fails++;
		cpu += (double)ru.ru_utime.tv_sec * 1e3 +
		    (double)ru.ru_utime.tv_usec / 1e3 +
		    (double)ru.ru_stime.tv_sec * 1e3 +
		    (double)ru.ru_stime.tv_usec / 1e3;
		if (ru.ru_maxrss > rss)
			rss = ru.ru_maxrss;
	}
	printf("cpu_ms %.2f maxrss_kib %ld failures %d\n", cpu / (double)n, rss,
	    fails);
	return 0;
}
