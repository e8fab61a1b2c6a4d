/* SPDX-License-Identifier: GPL-2.0 */
/* What gilstat's two SVG pictures, the heatmap and the flame graph, write alike. */
#ifndef GILSTAT_SVG_H
#define GILSTAT_SVG_H

#include <stdio.h>

/* s as XML character data or an attribute value: escaped, control characters as '?'. */
void svg_put_text(FILE *f, const char *s);

#endif
