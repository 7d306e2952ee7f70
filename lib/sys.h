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

#endif
