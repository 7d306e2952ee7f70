#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

/* 0 and *out, or -1 for anything that is not one whole number in range. */
int
text_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * The edit distance of a and b counting a swap of two neighbours as one
 * edit (optimal string alignment: "stauts" is one from "status"), or
 * SIZE_MAX if either is too long.
 */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, v;
	size_t d[3][TEXT_CLOSEST_MAX + 1];
	size_t *pp, *p, *r;

	if (la > TEXT_CLOSEST_MAX || lb > TEXT_CLOSEST_MAX)
		return SIZE_MAX;
	/* row i of the table is d[i % 3]: rows i - 1 and i - 2 are kept */
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		r = d[i % 3];
		p = d[(i + 2) % 3];
		pp = d[(i + 1) % 3];
		r[0] = i;
		for (j = 1; j <= lb; j++) {
			v = p[j - 1] + (a[i - 1] != b[j - 1]);
			if (r[j - 1] + 1 < v)
				v = r[j - 1] + 1;
			if (p[j] + 1 < v)
				v = p[j] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			r[j] = v;
		}
	}
	return d[la % 3][lb];
}

/* |a - b| */
static size_t
len_diff(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	return la > lb ? la - lb : lb - la;
}

const char *
text_closest(const char *word, const char *const *candidates,
	     size_t max_distance)
{
	const char *best = NULL;
	size_t d, bestd = SIZE_MAX;

	for (; *candidates != NULL; candidates++) {
		d = edit_distance(word, *candidates);
		/* of two as near, the one of the word's length: a swap
		 * ("stauts": status) over a letter dropped (stats) */
		if (d < bestd ||
		    (d == bestd && d != SIZE_MAX &&
		     len_diff(word, *candidates) < len_diff(word, best))) {
			bestd = d;
			best = *candidates;
		}
	}
	/* as far off as the word is long is no typo of it ("x" ~ "y") */
	if (best == NULL || bestd > max_distance || bestd >= strlen(word))
		return NULL;
	return best;
}

const char *
text_shown(const char *s, size_t len, size_t max, char *buf)
{
	size_t i, n = len;
	int cut = 0;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		cut = 1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (cut) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

char *
text_join(const char *const *v)
{
	struct strbuf sb;

	strbuf_init(&sb);
	for (; *v != NULL; v++) {
		if (sb.len > 0)
			strbuf_adds(&sb, ", ");
		strbuf_adds(&sb, *v);
	}
	return strbuf_detach(&sb);
}

void
text_line_col(const char *buf, size_t len, size_t off, size_t *line,
	      size_t *col)
{
	size_t i, l = 1, c = 1;

	for (i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			l++;
			c = 1;
		} else
			c++;
	}
	*line = l;
	*col = c;
}

/* Length of the valid UTF-8 sequence at s[0..n) (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), or 0 if it is not one. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned long cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* A copy of s with every byte that is not part of valid UTF-8 replaced
 * by U+FFFD; the caller frees. */
char *
text_utf8_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, k;
	struct strbuf sb;

	strbuf_init(&sb);
	while (i < n) {
		if ((k = utf8_seq(p + i, n - i)) == 0) {
			strbuf_adds(&sb, "\xef\xbf\xbd");
			i++;
			continue;
		}
		strbuf_add(&sb, p + i, k);
		i += k;
	}
	return strbuf_detach(&sb);
}

/* See text.h. */
char *
text_url_mask(const char *url)
{
	struct strbuf sb;
	const char *p = strstr(url, "://"), *auth, *at, *colon, *q, *end;

	if (p == NULL)
		return xstrdup(url);
	strbuf_init(&sb);
	auth = p + 3;
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	/* the last '@' of the authority: a password may hold one */
	while (at != NULL && memchr(at + 1, '@', (size_t)(end - at - 1)))
		at = memchr(at + 1, '@', (size_t)(end - at - 1));
	colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon != NULL) {
		strbuf_add(&sb, url, (size_t)(colon + 1 - url));
		strbuf_adds(&sb, "***");
		p = at;
	} else
		p = url;
	/* parameters: password=... up to the next '&' */
	while ((q = strstr(p, "password=")) != NULL &&
	       (q == url || q[-1] == '?' || q[-1] == '&')) {
		strbuf_add(&sb, p, (size_t)(q + 9 - p));
		strbuf_adds(&sb, "***");
		p = q + 9 + strcspn(q + 9, "&#");
	}
	strbuf_adds(&sb, p);
	return strbuf_detach(&sb);
}
