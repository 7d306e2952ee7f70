#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/display.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

struct range {
	uint32_t lo, hi;
};

/* Marks drawn over the character before them, and invisible joiners. */
static const struct range zero_width[] = {
	{0x0300, 0x036f},   {0x0483, 0x0489},	{0x0591, 0x05bd},
	{0x05bf, 0x05c7},   {0x0610, 0x061a},	{0x064b, 0x065f},
	{0x0670, 0x0670},   {0x06d6, 0x06dc},	{0x06df, 0x06e4},
	{0x0900, 0x0902},   {0x093c, 0x093c},	{0x0941, 0x0948},
	{0x094d, 0x094d},   {0x0e31, 0x0e31},	{0x0e34, 0x0e3a},
	{0x0e47, 0x0e4e},   {0x1ab0, 0x1aff},	{0x1dc0, 0x1dff},
	{0x200b, 0x200d},   {0x2060, 0x2064},	{0x20d0, 0x20ff},
	{0xfe00, 0xfe0f},   {0xfe20, 0xfe2f},	{0xfeff, 0xfeff},
	{0x1f3fb, 0x1f3ff}, {0xe0000, 0xe01ef},
};

/* East Asian Wide and Fullwidth, and emoji shown as two columns. */
static const struct range wide[] = {
	{0x1100, 0x115f},   {0x231a, 0x231b},	{0x2329, 0x232a},
	{0x23e9, 0x23ec},   {0x23f0, 0x23f0},	{0x23f3, 0x23f3},
	{0x25fd, 0x25fe},   {0x2614, 0x2615},	{0x2648, 0x2653},
	{0x267f, 0x267f},   {0x2693, 0x2693},	{0x26a1, 0x26a1},
	{0x26aa, 0x26ab},   {0x26bd, 0x26be},	{0x26c4, 0x26c5},
	{0x26ce, 0x26ce},   {0x26d4, 0x26d4},	{0x26ea, 0x26ea},
	{0x26f2, 0x26f3},   {0x26f5, 0x26f5},	{0x26fa, 0x26fa},
	{0x26fd, 0x26fd},   {0x2705, 0x2705},	{0x270a, 0x270b},
	{0x2728, 0x2728},   {0x274c, 0x274c},	{0x274e, 0x274e},
	{0x2753, 0x2755},   {0x2757, 0x2757},	{0x2795, 0x2797},
	{0x27b0, 0x27b0},   {0x27bf, 0x27bf},	{0x2b1b, 0x2b1c},
	{0x2b50, 0x2b50},   {0x2b55, 0x2b55},	{0x2e80, 0x303e},
	{0x3041, 0x33ff},   {0x3400, 0x4dbf},	{0x4e00, 0x9fff},
	{0xa000, 0xa4cf},   {0xa960, 0xa97f},	{0xac00, 0xd7a3},
	{0xf900, 0xfaff},   {0xfe10, 0xfe19},	{0xfe30, 0xfe6f},
	{0xff00, 0xff60},   {0xffe0, 0xffe6},	{0x16fe0, 0x16fe4},
	{0x17000, 0x18cff}, {0x1b000, 0x1b2ff}, {0x1f004, 0x1f004},
	{0x1f0cf, 0x1f0cf}, {0x1f18e, 0x1f18e}, {0x1f191, 0x1f19a},
	{0x1f200, 0x1f251}, {0x1f300, 0x1f320}, {0x1f32d, 0x1f335},
	{0x1f337, 0x1f37c}, {0x1f37e, 0x1f393}, {0x1f3a0, 0x1f3ca},
	{0x1f3cf, 0x1f3d3}, {0x1f3e0, 0x1f3f0}, {0x1f3f4, 0x1f3f4},
	{0x1f3f8, 0x1f43e}, {0x1f440, 0x1f440}, {0x1f442, 0x1f4fc},
	{0x1f4ff, 0x1f53d}, {0x1f54b, 0x1f54e}, {0x1f550, 0x1f567},
	{0x1f57a, 0x1f57a}, {0x1f595, 0x1f596}, {0x1f5a4, 0x1f5a4},
	{0x1f5fb, 0x1f64f}, {0x1f680, 0x1f6c5}, {0x1f6cc, 0x1f6cc},
	{0x1f6d0, 0x1f6d2}, {0x1f6d5, 0x1f6d7}, {0x1f6dc, 0x1f6df},
	{0x1f6eb, 0x1f6ec}, {0x1f6f4, 0x1f6fc}, {0x1f7e0, 0x1f7eb},
	{0x1f7f0, 0x1f7f0}, {0x1f90c, 0x1f93a}, {0x1f93c, 0x1f945},
	{0x1f947, 0x1f9ff}, {0x1fa70, 0x1faff}, {0x20000, 0x2fffd},
	{0x30000, 0x3fffd},
};

/* Characters that reorder the text around them (Trojan Source). */
static const struct range bidi[] = {
	{0x061c, 0x061c},
	{0x200e, 0x200f},
	{0x202a, 0x202e},
	{0x2066, 0x2069},
};

static int
in(uint32_t c, const struct range *r, size_t n)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c < r[mid].lo)
			hi = mid;
		else if (c > r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

#define IN(c, table) in(c, table, sizeof table / sizeof *table)

/*
 * The code point at s (which has a NUL after it) into *cp: its length
 * in bytes, or 0 if s does not start a valid, shortest UTF-8 sequence.
 */
static size_t
utf8_decode(const unsigned char *s, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, c &= 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, c &= 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, c &= 0x07, min = 0x10000;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/*
 * One character of s as shown: its bytes or its escape into out (>= 12
 * bytes), the columns it takes into *cols.  Returns the bytes of s
 * used (at least 1).
 */
static size_t
unit(const unsigned char *s, char *out, size_t *olen, size_t *cols)
{
	uint32_t c;
	size_t n = utf8_decode(s, &c);

	if (n == 0) {
		*olen = (size_t)snprintf(out, 12, "\\x%02x", s[0]);
		*cols = *olen;
		return 1;
	}
	if (c < 0x20 || c == 0x7f) {
		const char *e = c == 0x1b   ? "\\e"
				: c == '\n' ? "\\n"
				: c == '\t' ? "\\t"
				: c == '\r' ? "\\r"
					    : NULL;

		if (e != NULL)
			*olen = (size_t)snprintf(out, 12, "%s", e);
		else
			*olen = (size_t)snprintf(out, 12, "\\x%02x", c);
	} else if ((c >= 0x80 && c <= 0x9f) || IN(c, bidi))
		*olen = (size_t)snprintf(out, 12, "\\u%04x", (unsigned)c);
	else {
		memcpy(out, s, n);
		*olen = n;
		*cols = IN(c, zero_width) ? 0 : IN(c, wide) ? 2 : 1;
		return n;
	}
	*cols = *olen;
	return n;
}

char *
display_fit(const char *s, size_t width)
{
	const unsigned char *p;
	struct strbuf sb;
	size_t col = 0, keep = 0, olen, cols;
	char out[12];

	if (s == NULL)
		s = "-";
	strbuf_init(&sb);
	for (p = (const unsigned char *)s; *p != '\0';) {
		p += unit(p, out, &olen, &cols);
		if (col + cols > width) {
			/* cut at the last point that leaves room for "…" */
			sb.len = keep;
			sb.buf[keep] = '\0';
			if (width > 0)
				strbuf_adds(&sb, "\xe2\x80\xa6");
			break;
		}
		strbuf_add(&sb, out, olen);
		col += cols;
		if (col + 1 <= width)
			keep = sb.len;
	}
	return strbuf_detach(&sb);
}

char *
display_safe(const char *s)
{
	return display_fit(s, DISPLAY_NOLIMIT);
}

size_t
display_width(const char *s)
{
	const unsigned char *p;
	size_t col = 0, olen, cols;
	char out[12];

	if (s == NULL)
		return 1;
	for (p = (const unsigned char *)s; *p != '\0';) {
		p += unit(p, out, &olen, &cols);
		col += cols;
	}
	return col;
}

size_t
display_columns(int fd)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");
	char *end;
	long v;
	int tty = isatty(fd);

	if (tty && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (env != NULL && *env != '\0') {
		v = strtol(env, &end, 10);
		if (*end == '\0' && v > 0 && v < 100000)
			return (size_t)v;
	}
	return tty ? 80 : 0;
}

const char *
display_count(long long n, char *buf, size_t len)
{
	char digits[32];
	size_t nd, i, o = 0;
	int neg = n < 0;

	nd = (size_t)snprintf(digits, sizeof digits, "%llu",
			      neg ? 0ULL - (unsigned long long)n
				  : (unsigned long long)n);
	if (neg && o + 1 < len)
		buf[o++] = '-';
	for (i = 0; i < nd && o + 1 < len; i++) {
		if (i > 0 && (nd - i) % 3 == 0 && o + 2 < len)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}
