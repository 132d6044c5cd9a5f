#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "sprov/fsutil.h"
#include "sprov/str.h"

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
dir_of(const char *path, char *dir, size_t dirsz)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(dir, dirsz, "%s", dirname(tmp));
}

int
sp_fs_sync_dir(const char *dir, struct sp_err *err)
{
	int fd, rc = -1;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return sp_err_set(err, "%s: %s", dir, strerror(errno));
	if (fsync(fd) == -1)
		sp_err_set(err, "%s: fsync: %s", dir, strerror(errno));
	else
		rc = 0;
	close(fd);
	return rc;
}

int
sp_fs_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode, struct sp_err *err)
{
	char tmp[PATH_MAX], dir[PATH_MAX], hex[17];
	unsigned char rnd[8];
	int fd = -1, rc = -1;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return sp_err_set(err, "%s: no randomness for temp name", path);
	sp_str_hex(hex, rnd, sizeof(rnd));
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-%s", path, hex) >=
	    (int)sizeof(tmp))
		return sp_err_set(err, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd == -1) {
		sp_err_set(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	/* open() honours umask; the caller's mode is what it asked for. */
	if (fchmod(fd, mode) == -1 || write_all(fd, data, len) == -1 ||
	    fsync(fd) == -1) {
		sp_err_set(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		sp_err_set(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		sp_err_set(err, "%s: rename: %s", path, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	dir_of(path, dir, sizeof(dir));
	rc = sp_fs_sync_dir(dir, err);
out:
	if (fd != -1)
		close(fd);
	if (rc == -1 && tmp[0] != '\0')
		unlink(tmp);
	return rc;
}

int
sp_fs_write_new(const char *path, const void *data, size_t len, mode_t mode,
    int flags, struct sp_err *err)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd == -1)
		return sp_err_set(err, "%s: %s", path, strerror(errno));
	if (fchmod(fd, mode) == -1 || write_all(fd, data, len) == -1 ||
	    (!(flags & SP_FS_NOSYNC) && fsync(fd) == -1)) {
		sp_err_set(err, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) == -1) {
		sp_err_set(err, "%s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

static int
read_fd(int fd, const char *path, size_t max, char **out, size_t *len,
    struct sp_err *err)
{
	struct stat st;
	size_t got = 0;
	char *buf;

	if (fstat(fd, &st) == -1)
		return sp_err_set(err, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return sp_err_set(err, "%s: not a regular file", path);
	if ((size_t)st.st_size > max)
		return sp_err_set(err, "%s: file too large (%lld bytes, "
		    "limit %zu)", path, (long long)st.st_size, max);
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return sp_err_set(err, "%s: out of memory", path);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return sp_err_set(err, "%s: %s", path,
			    n == 0 ? "file shrank while reading" :
			    strerror(errno));
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int
sp_fs_read(const char *path, size_t max, char **out, size_t *len,
    struct sp_err *err)
{
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return sp_err_set(err, "%s: %s", path, strerror(errno));
	rc = read_fd(fd, path, max, out, len, err);
	close(fd);
	return rc;
}

static int
check_mode(const char *path, const struct stat *st, struct sp_err *err)
{
	if (!S_ISREG(st->st_mode))
		return sp_err_set(err, "%s: not a regular file", path);
	if (st->st_mode & (S_IRWXG | S_IRWXO))
		return sp_err_set(err, "%s: secret file is accessible by "
		    "group/others (mode %03o); run: chmod 600 %s", path,
		    (unsigned)(st->st_mode & 0777), path);
	return 0;
}

int
sp_fs_check_secret(const char *path, struct sp_err *err)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return sp_err_set(err, "%s: %s", path, strerror(errno));
	return check_mode(path, &st, err);
}

int
sp_fs_read_secret(const char *path, size_t max, char **out, size_t *len,
    struct sp_err *err)
{
	struct stat st;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return sp_err_set(err, "%s: %s", path, strerror(errno));
	/* Check the file we opened, not the name, to avoid a swap race. */
	if (fstat(fd, &st) == -1)
		sp_err_set(err, "%s: %s", path, strerror(errno));
	else if (check_mode(path, &st, err) == 0)
		rc = read_fd(fd, path, max, out, len, err);
	close(fd);
	return rc;
}

void
sp_fs_free_secret(char *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

int
sp_fs_mkdirs(const char *path, mode_t mode, struct sp_err *err)
{
	char tmp[PATH_MAX];
	size_t i, n;

	n = strlen(path);
	if (n == 0 || n >= sizeof(tmp))
		return sp_err_set(err, "%s: bad directory path", path);
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, mode) == -1 && errno != EEXIST)
			return sp_err_set(err, "%s: %s", tmp, strerror(errno));
		if (i < n)
			tmp[i] = '/';
	}
	return 0;
}

int
sp_fs_rmtree(const char *path, struct sp_err *err)
{
	struct dirent *de;
	char sub[PATH_MAX];
	struct stat st;
	DIR *d;
	int rc = 0;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 :
		    sp_err_set(err, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) == -1)
			return sp_err_set(err, "%s: %s", path, strerror(errno));
		return 0;
	}
	if ((d = opendir(path)) == NULL)
		return sp_err_set(err, "%s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (sp_fs_rmtree(sub, err) == -1)
			rc = -1;
	}
	closedir(d);
	if (rc == 0 && rmdir(path) == -1)
		return sp_err_set(err, "%s: %s", path, strerror(errno));
	return rc;
}
