/* fs: the file-system operations durability depends on. "250 OK" after DATA
 * means the file and the directory entry are on disk; these helpers are the
 * only places that make that promise, so it is kept in one way. */
#ifndef POSTHORN_FS_H
#define POSTHORN_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

/* fsync(2) the directory itself so a new entry (create, rename, link)
 * survives a crash. 0 or -1 with errno. */
int fs_fsync_dir(const char *dir);

/* fsync the directory that contains path. 0 or -1 with errno. */
int fs_fsync_parent(const char *path);

/* mkdir -p with mode for each created component. 0 or -1 with errno. */
int fs_mkdirs(const char *path, mode_t mode);

/* Writes data to path atomically: a temporary file in the same directory,
 * write, fsync, rename over path, fsync the directory. Readers see the old
 * or the new file, never a torn one. 0 or -1 with errno. */
int fs_write_atomic(const char *path, const void *data, size_t len,
                    mode_t mode);

/* Reads the whole file into out (appending). Refuses files larger than max
 * (errno EFBIG). 0 or -1 with errno. */
int fs_read_file(const char *path, size_t max, struct buf *out);

/* Writes all of data to fd, retrying short writes and EINTR. 0 or -1. */
int fs_write_all(int fd, const void *data, size_t len);

/* Ends the writing of a new file: fsync(2) fd when status (what the
 * caller's writes returned) is 0, then close(2) it in every case. 0 when
 * status was 0 and both worked; else -1 with errno of the first failure
 * (the caller's own errno when status was already -1). */
int fs_fsync_close(int fd, int status);

/* Joins dir and name into out ("dir/name"). Refuses (returns -1, errno
 * EINVAL) a name that is empty, ".", "..", or contains '/' or NUL, so a
 * user-controlled name can never leave dir. */
int fs_join(const char *dir, const char *name, struct buf *out);

/* 64 random bits for unique file names and ids, from getrandom(2). When
 * that fails (rarely: an early boot, a seccomp filter), a mix of clocks,
 * pid, a stack address and a process-wide counter, which still differs
 * between calls, threads and processes: fine for names that O_EXCL or
 * RENAME_NOREPLACE guard, never for secrets. Safe from several threads. */
uint64_t fs_random64(void);

#endif
