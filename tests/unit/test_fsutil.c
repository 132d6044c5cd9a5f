#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include "harness.h"

#include "sprov/fsutil.h"

static char *dir;

static int
count_entries(const char *d)
{
	struct dirent *de;
	DIR *dd = opendir(d);
	int n = 0;

	while (dd != NULL && (de = readdir(dd)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	if (dd != NULL)
		closedir(dd);
	return n;
}

static void
t_atomic_write_and_replace(void)
{
	char path[512], *data;
	struct sp_err err;
	struct stat st;
	size_t len;

	snprintf(path, sizeof(path), "%s/a.txt", dir);
	CHECK(sp_fs_write_atomic(path, "one", 3, 0640, &err) == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
	CHECK(sp_fs_write_atomic(path, "second", 6, 0600, &err) == 0);
	CHECK(sp_fs_read(path, 100, &data, &len, &err) == 0);
	CHECK(len == 6 && memcmp(data, "second", 6) == 0);
	free(data);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(count_entries(dir) == 1);		/* no temp file left */
	unlink(path);
}

static void
t_atomic_write_failure_keeps_old(void)
{
	char path[512], sub[512], *data;
	struct sp_err err;
	size_t len;

	snprintf(path, sizeof(path), "%s/nodir/a.txt", dir);
	CHECK(sp_fs_write_atomic(path, "x", 1, 0600, &err) == -1);
	CHECK_HAS(err.msg, "nodir");
	/* A read-only directory: the old file stays as it was. */
	snprintf(sub, sizeof(sub), "%s/ro", dir);
	mkdir(sub, 0755);
	snprintf(path, sizeof(path), "%s/ro/f", dir);
	CHECK(sp_fs_write_atomic(path, "old", 3, 0644, &err) == 0);
	chmod(sub, 0555);
	if (geteuid() != 0) {
		CHECK(sp_fs_write_atomic(path, "new", 3, 0644, &err) == -1);
		CHECK(sp_fs_read(path, 100, &data, &len, &err) == 0);
		CHECK(len == 3 && memcmp(data, "old", 3) == 0);
		free(data);
	} else
		printf("# skipped read-only directory check: root ignores "
		    "directory permissions\n");
	chmod(sub, 0755);
	CHECK(sp_fs_rmtree(sub, &err) == 0);
}

/* A write that fails midway (as on a full disk) leaves the old file whole. */
static void
t_atomic_write_full_disk(void)
{
	char path[512], *data;
	struct sp_err err;
	struct rlimit old, lim;
	size_t len;

	snprintf(path, sizeof(path), "%s/full.txt", dir);
	CHECK(sp_fs_write_atomic(path, "old", 3, 0644, &err) == 0);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 4;
	setrlimit(RLIMIT_FSIZE, &lim);
	CHECK(sp_fs_write_atomic(path, "much longer content", 19, 0644,
	    &err) == -1);
	setrlimit(RLIMIT_FSIZE, &old);
	CHECK_HAS(err.msg, "File too large");
	CHECK(sp_fs_read(path, 100, &data, &len, &err) == 0);
	CHECK(len == 3 && memcmp(data, "old", 3) == 0);
	free(data);
	CHECK(count_entries(dir) == 1);		/* temp file removed */
	unlink(path);
}

static void
t_write_new_is_exclusive(void)
{
	char path[512];
	struct sp_err err;
	struct stat st;

	snprintf(path, sizeof(path), "%s/k.key", dir);
	CHECK(sp_fs_write_new(path, "secret", 6, 0600, 0, &err) == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(sp_fs_write_new(path, "other", 5, 0600, 0, &err) == -1);
	CHECK_HAS(err.msg, "File exists");
	unlink(path);
	/* Never through a symbolic link. */
	CHECK(symlink("/nonexistent-target", path) == 0);
	CHECK(sp_fs_write_new(path, "x", 1, 0600, SP_FS_NOSYNC, &err) == -1);
	unlink(path);
}

static void
t_read_limits(void)
{
	char path[512], *data = NULL;
	struct sp_err err;
	size_t len;

	snprintf(path, sizeof(path), "%s/big", dir);
	CHECK(sp_fs_write_atomic(path, "0123456789", 10, 0644, &err) == 0);
	CHECK(sp_fs_read(path, 9, &data, &len, &err) == -1);
	CHECK_HAS(err.msg, "too large");
	CHECK(sp_fs_read(path, 10, &data, &len, &err) == 0 && len == 10);
	CHECK(data[10] == '\0');
	free(data);
	CHECK(sp_fs_read(dir, 10, &data, &len, &err) == -1);
	CHECK_HAS(err.msg, "not a regular file");
	unlink(path);
}

static void
t_secret_permissions(void)
{
	char path[512], *data;
	struct sp_err err;
	size_t len;

	snprintf(path, sizeof(path), "%s/s.key", dir);
	CHECK(sp_fs_write_atomic(path, "k", 1, 0600, &err) == 0);
	CHECK(sp_fs_read_secret(path, 10, &data, &len, &err) == 0);
	sp_fs_free_secret(data, len);
	CHECK(sp_fs_check_secret(path, &err) == 0);
	chmod(path, 0640);
	CHECK(sp_fs_read_secret(path, 10, &data, &len, &err) == -1);
	CHECK_HAS(err.msg, "group/others");
	CHECK_HAS(err.msg, "chmod 600");
	chmod(path, 0604);
	CHECK(sp_fs_check_secret(path, &err) == -1);
	chmod(path, 0602);
	CHECK(sp_fs_check_secret(path, &err) == -1);
	unlink(path);
}

static void
t_mkdirs_rmtree(void)
{
	char path[512], f[600];
	struct sp_err err;
	struct stat st;

	snprintf(path, sizeof(path), "%s/x/y/z", dir);
	CHECK(sp_fs_mkdirs(path, 0755, &err) == 0);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(sp_fs_mkdirs(path, 0755, &err) == 0);	/* idempotent */
	snprintf(f, sizeof(f), "%s/file", path);
	CHECK(sp_fs_write_atomic(f, "1", 1, 0644, &err) == 0);
	snprintf(path, sizeof(path), "%s/x", dir);
	CHECK(sp_fs_rmtree(path, &err) == 0);
	CHECK(stat(path, &st) == -1);
	CHECK(sp_fs_rmtree(path, &err) == 0);		/* absent: fine */
}

int
main(void)
{
	dir = t_tmpdir();
	RUN(t_atomic_write_and_replace);
	RUN(t_atomic_write_failure_keeps_old);
	RUN(t_atomic_write_full_disk);
	RUN(t_write_new_is_exclusive);
	RUN(t_read_limits);
	RUN(t_secret_permissions);
	RUN(t_mkdirs_rmtree);
	rmdir(dir);
	free(dir);
	return t_done();
}
