/*
 * Files: atomic replacement, exclusive creation of secrets, bounded reads,
 * and the permission check every secret file must pass.
 */
#ifndef SPROV_FSUTIL_H
#define SPROV_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "sprov/err.h"

/*
 * Replaces path with data atomically: a unique temporary file in the same
 * directory, write, fsync, rename, fsync of the directory.  A crash at any
 * instant leaves either the old or the new file.  On failure nothing at
 * path changes and the temporary file is removed.
 */
int	sp_fs_write_atomic(const char *path, const void *, size_t, mode_t,
	    struct sp_err *);
/*
 * Creates path exclusively (O_EXCL, never following a link) with mode,
 * writes and fsyncs it.  Fails if path exists.  For keys.  With
 * SP_FS_NOSYNC the fsync is left to the caller, who must then make the
 * whole batch durable (syncfs) before relying on it.
 */
#define SP_FS_NOSYNC	0x1
int	sp_fs_write_new(const char *path, const void *, size_t, mode_t,
	    int flags, struct sp_err *);
/*
 * Reads a whole regular file of at most max bytes.  *out is NUL-terminated;
 * caller frees it with free() (or sp_fs_free_secret() for secrets).
 * A file larger than max is an error that says so.
 */
int	sp_fs_read(const char *path, size_t max, char **out, size_t *len,
	    struct sp_err *);
/*
 * Like sp_fs_read, but first refuses a file that is not a regular file or
 * that group or others may read or write ("... is readable by group/others;
 * chmod 600 it").
 */
int	sp_fs_read_secret(const char *path, size_t max, char **out,
	    size_t *len, struct sp_err *);
/* Checks the permission rule above on an existing path. */
int	sp_fs_check_secret(const char *path, struct sp_err *);
/* Wipes and frees a buffer returned by sp_fs_read_secret(). */
void	sp_fs_free_secret(char *, size_t);
/* fsync(2) of the directory that contains path (or of path if a dir). */
int	sp_fs_sync_dir(const char *dir, struct sp_err *);
/* mkdir -p with mode for components it creates. */
int	sp_fs_mkdirs(const char *path, mode_t, struct sp_err *);
/* Recursive removal of a directory tree this program created. */
int	sp_fs_rmtree(const char *path, struct sp_err *);

#endif
