#ifndef BATON_LIB_STRBUF_H
#define BATON_LIB_STRBUF_H

#include <stddef.h>

/* Growable string. */
struct strbuf {
	char *buf;
	size_t len, cap;
};
void strbuf_init(struct strbuf *);
void strbuf_release(struct strbuf *);
void strbuf_add(struct strbuf *, const void *, size_t);
void strbuf_adds(struct strbuf *, const char *);
void strbuf_addf(struct strbuf *, const char *, ...)
	__attribute__((format(printf, 2, 3)));
/* Detach the buffer (never NULL); caller frees. */
char *strbuf_detach(struct strbuf *);

/* NULL-terminated vector of strings, each owned by the vector. */
struct strvec {
	char **v;
	size_t n, cap;
};
void strvec_init(struct strvec *);
void strvec_push(struct strvec *, const char *);
void strvec_pushf(struct strvec *, const char *, ...)
	__attribute__((format(printf, 2, 3)));
void strvec_release(struct strvec *);
/* Deep copy of a NULL-terminated array; NULL in, NULL out. */
char **strv_dup(char *const *);
void strv_free(char **);
size_t strv_len(char *const *);

#endif
