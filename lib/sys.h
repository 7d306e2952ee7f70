#ifndef BATON_LIB_SYS_H
#define BATON_LIB_SYS_H

/* Name of the user running baton (from the uid), caller frees. */
char *sys_user_name(void);
/* This host's name, caller frees. */
char *sys_host_name(void);

struct strvec;

/*
 * The processes of this host (other than this one) that have path open,
 * as "PID (COMMAND)" into out, at most max of them, as far as /proc lets
 * us see.  Returns how many were found (may be more than max).
 */
int sys_file_openers(const char *path, struct strvec *out, int max);
/*
 * Non-zero if err says the process or the system ran out of something
 * (EMFILE, ENFILE, EAGAIN, ENOMEM): not the fault of what was being
 * done, and worth waiting for.
 */
int sys_resource_errno(int err);
/*
 * What ran out, for a message: the error's text and the limit behind it
 * ("too many open files (the limit on open files, ulimit -n, is 32)").
 * Caller frees.
 */
char *sys_resource_text(int err);

#endif
