#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/xmalloc.h"

static void
strbuf_grow(struct strbuf *sb, size_t extra)
{
	size_t want;

	if (extra > SIZE_MAX - sb->len - 1)
		fatal("strbuf too large");
	want = sb->len + extra + 1;
	if (want <= sb->cap)
		return;
	if (sb->cap == 0)
		sb->cap = 64;
	while (sb->cap < want)
		sb->cap = sb->cap > SIZE_MAX / 2 ? want : sb->cap * 2;
	sb->buf = xrealloc(sb->buf, sb->cap);
}

/* An empty string: buf is always a valid NUL-terminated string. */
void
strbuf_init(struct strbuf *sb)
{
	sb->len = 0;
	sb->cap = 0;
	sb->buf = NULL;
	strbuf_grow(sb, 0);
	sb->buf[0] = '\0';
}

/* Frees the buffer; the strbuf may be init'ed again.  NULL-safe. */
void
strbuf_release(struct strbuf *sb)
{
	if (sb == NULL)
		return;
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

/* Appends n bytes (which may contain NULs). */
void
strbuf_add(struct strbuf *sb, const void *p, size_t n)
{
	strbuf_grow(sb, n);
	if (n > 0)
		memcpy(sb->buf + sb->len, p, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

/* Appends a C string. */
void
strbuf_adds(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

/* Appends printf-formatted text. */
void
strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap, ap2;
	int n;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 && errno == ENOMEM)
		oom();
	if (n < 0)
		fatal("vsnprintf: %s", strerror(errno));
	strbuf_grow(sb, (size_t)n);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	sb->len += (size_t)n;
}

/* The string, now the caller's to free; the strbuf is left empty. */
char *
strbuf_detach(struct strbuf *sb)
{
	char *p = sb->buf;

	if (p == NULL)
		p = xstrdup("");
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	return p;
}

/* An empty vector: v is always a valid NULL-terminated array. */
void
strvec_init(struct strvec *sv)
{
	sv->n = 0;
	sv->cap = 4;
	sv->v = xcalloc(sv->cap, sizeof *sv->v);
}

static void
strvec_push_owned(struct strvec *sv, char *s)
{
	if (sv->n + 2 > sv->cap) {
		sv->cap = sv->cap < 4 ? 4 : sv->cap * 2;
		sv->v = xreallocarray(sv->v, sv->cap, sizeof *sv->v);
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

/* Appends a copy of s. */
void
strvec_push(struct strvec *sv, const char *s)
{
	strvec_push_owned(sv, xstrdup(s));
}

/* Appends a printf-formatted string. */
void
strvec_pushf(struct strvec *sv, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	strvec_push_owned(sv, s);
}

/* Frees every string and the array; NULL-safe, may be init'ed again. */
void
strvec_release(struct strvec *sv)
{
	size_t i;

	if (sv == NULL)
		return;
	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

/* A deep copy the caller frees with strv_free(); NULL in, NULL out. */
char **
strv_dup(char *const *v)
{
	size_t i, n;
	char **copy;

	if (v == NULL)
		return NULL;
	n = strv_len(v);
	copy = xcalloc(n + 1, sizeof *copy);
	for (i = 0; i < n; i++)
		copy[i] = xstrdup(v[i]);
	return copy;
}

/* Frees a NULL-terminated array and its strings; NULL-safe. */
void
strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Number of strings before the NULL; 0 for NULL. */
size_t
strv_len(char *const *v)
{
	size_t n = 0;

	if (v == NULL)
		return 0;
	while (v[n] != NULL)
		n++;
	return n;
}
