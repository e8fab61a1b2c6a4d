// SPDX-License-Identifier: GPL-2.0
#include "svg.h"

void svg_put_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			/* Control characters are not allowed in XML 1.0, even escaped. */
			fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
		}
	}
}
