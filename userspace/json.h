/* SPDX-License-Identifier: GPL-2.0 */
/* A minimal streaming JSON writer: enough for gilstat's reports, with commas kept right. */
#ifndef GILSTAT_JSON_H
#define GILSTAT_JSON_H

#include <stdbool.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *f;
	int depth;
	bool need_comma[JSON_MAX_DEPTH];
};

void json_init(struct json *j, FILE *f);
/* key is NULL inside arrays and for the outermost value. */
void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_u64(struct json *j, const char *key, unsigned long long v);
void json_double(struct json *j, const char *key, double v);
void json_string(struct json *j, const char *key, const char *s);
void json_bool(struct json *j, const char *key, bool v);

#endif
