/*
 * Files that decide what baton runs (the configuration, the database)
 * must be the user's own: a file another user can write is a way to run
 * commands as whoever runs baton next (SPEC §8, §9).  And a database
 * must be on a local file system (SPEC §10): SQLite's WAL keeps its
 * index in shared memory, which network and FUSE file systems do not
 * share between hosts, and their locks are often no locks at all.
 */
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fsafe.h"
#include "lib/xmalloc.h"

/* "name (uid N)" for uid, or "uid N"; caller frees. */
static char *
owner_name(uid_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res != NULL &&
	    pw.pw_name != NULL && *pw.pw_name != '\0')
		return xasprintf("%s (uid %lu)", pw.pw_name,
				 (unsigned long)uid);
	return xasprintf("uid %lu", (unsigned long)uid);
}

/* See fsafe.h. */
char *
fsafe_problem(const struct stat *st, int group_ok)
{
	uid_t me = geteuid();
	int foreign = st->st_uid != me && st->st_uid != 0;
	int gw = (st->st_mode & S_IWGRP) && !group_ok;
	int ow = (st->st_mode & S_IWOTH) != 0;
	char *who, *msg;
	const char *w;

	if (!foreign && !gw && !ow)
		return NULL;
	who = owner_name(st->st_uid);
	w = gw && ow ? ": writable by group and others"
	    : gw     ? ": writable by its group"
	    : ow     ? ": writable by others"
		     : "";
	msg = xasprintf("owned by %s%s, mode %04o%s",
			foreign ? "another user, " : "", who,
			(unsigned)(st->st_mode & 07777), w);
	free(who);
	return msg;
}

/* See fsafe.h. */
mode_t
fsafe_loose_bits(const struct stat *st, int group_ok)
{
	mode_t bad = S_IWOTH | S_IROTH | S_IXOTH;

	if (!group_ok)
		bad |= S_IRGRP | S_IWGRP | S_IXGRP;
	return st->st_mode & bad;
}

/* f_type values (linux/magic.h and the file systems' own headers). */
static const struct {
	unsigned long magic;
	const char *name;
} remote_fs[] = {
	{0x6969UL, "NFS"},
	{0x517BUL, "SMB"},
	{0xFF534D42UL, "SMB/CIFS"},
	{0xFE534D42UL, "SMB2"},
	{0x65735546UL, "FUSE (sshfs, rclone, virtiofs...)"},
	{0x65735543UL, "FUSE control"},
	{0x01021997UL, "9p"},
	{0x5346414FUL, "AFS"},
	{0x6B414653UL, "AFS (kAFS)"},
	{0x00C36400UL, "Ceph"},
	{0x73757245UL, "Coda"},
	{0x564CUL, "NCP (NetWare)"},
	{0x01161970UL, "GFS2"},
	{0x7461636FUL, "OCFS2"},
	{0x0BD00BD0UL, "Lustre"},
	{0x47504653UL, "GPFS"},
	{0x19830326UL, "OrangeFS"},
	{0xAAD7AAEAUL, "PanFS"},
};

/* See fsafe.h. */
const char *
fsafe_remote_fs_name(unsigned long f_type)
{
	size_t i;

	/* f_type is a signed long on some ABIs: compare 32 bits */
	f_type &= 0xFFFFFFFFUL;
	for (i = 0; i < sizeof remote_fs / sizeof remote_fs[0]; i++) {
		if (remote_fs[i].magic == f_type)
			return remote_fs[i].name;
	}
	return NULL;
}

/* See fsafe.h. */
const char *
fsafe_remote_fs(const char *path)
{
	struct statfs sf;
	int rc;

	do
		rc = statfs(path, &sf);
	while (rc == -1 && errno == EINTR);
	if (rc != 0)
		return NULL;
	return fsafe_remote_fs_name((unsigned long)sf.f_type);
}
