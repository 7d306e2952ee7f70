#ifndef BATON_LIB_SYS_H
#define BATON_LIB_SYS_H

/* Name of the user running baton (from the uid), caller frees. */
char *sys_user_name(void);
/* This host's name, caller frees. */
char *sys_host_name(void);

#endif
