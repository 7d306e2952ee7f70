#ifndef BATON_LIB_FSAFE_H
#define BATON_LIB_FSAFE_H

#include <sys/stat.h>

/*
 * Whether a file may be trusted by the user running baton, the way ssh
 * treats its config and git's safe.directory treats a repository: owned
 * by the effective uid or by root, and writable by nobody else (by its
 * group only when group_ok).  Returns NULL when it may, else a message
 * for the caller to free: "owned by another user, nobody (uid 65534),
 * mode 0666: writable by group and others".
 */
char *fsafe_problem(const struct stat *st, int group_ok);

/*
 * Mode bits to clear so that st's file is private to its owner (or to
 * its owner and group when group_ok): every bit of others, and of the
 * group unless group_ok.  0 if none.
 */
mode_t fsafe_loose_bits(const struct stat *st, int group_ok);

/*
 * The name of a network or FUSE file system from statfs()'s f_type
 * ("NFS", "SMB/CIFS", "FUSE (sshfs, rclone...)", "9p", "AFS", "Ceph"...),
 * or NULL for a local one.  Static text.
 */
const char *fsafe_remote_fs_name(unsigned long f_type);

/*
 * The name of the network or FUSE file system path is on, or NULL if it
 * is local or statfs() fails (then SQLite reports what is wrong).
 */
const char *fsafe_remote_fs(const char *path);

#endif
