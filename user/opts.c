// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "opts.h"

#define OPTS_MAX  64
#define HELP_COLS 80

static size_t nopts(const struct xvip_opt *t)
{
	size_t n = 0;

	while (t[n].name)
		n++;
	return n;
}

/* "a, b or c" for an ENUM's message, "a|b|c" for its argument. */
static void join_words(const char *const *w, char *buf, size_t len, bool bar)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; w[i] && off < len; i++) {
		const char *sep = !i ? "" : bar ? "|" : w[i + 1] ? ", " : " or ";

		off += (size_t)snprintf(buf + off, len - off, "%s%s", sep, w[i]);
	}
}

static const char *arg_form(const struct xvip_opt *o, char *buf, size_t len)
{
	if (o->arg || o->type != XVIP_OPT_ENUM)
		return o->arg;
	join_words(o->words, buf, len, true);
	return buf;
}

int xvip_opts_parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || end == s || *end || x > UINT32_MAX || s[0] == '-')
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

int xvip_opts_parse_num(const char *s, double min, double max, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (errno || end == s || *end || *v < min || *v > max || isnan(*v))
		return -EINVAL;
	return 0;
}

/* An integer of the field's size (1, 2, 4 or 8 bytes). */
static int store_int(void *field, size_t size, uint64_t v)
{
	switch (size) {
	case 1:
		*(uint8_t *)field = (uint8_t)v;
		return 0;
	case 2:
		*(uint16_t *)field = (uint16_t)v;
		return 0;
	case 4:
		*(uint32_t *)field = (uint32_t)v;
		return 0;
	case 8:
		*(uint64_t *)field = v;
		return 0;
	}
	return -EINVAL;
}

static int parse_one(const struct xvip_opts_prog *p, const struct xvip_opt *o, const char *arg,
		     void *opts)
{
	void *field = (char *)opts + o->off;
	char want[256];
	uint32_t u;
	double d;
	int ret = -EINVAL;

	switch (o->type) {
	case XVIP_OPT_FLAG:
		*(bool *)field = true;
		return 0;
	case XVIP_OPT_STR:
		*(const char **)field = arg;
		return 0;
	case XVIP_OPT_U32:
		if (!xvip_opts_parse_u32(arg, &u) && u >= o->min && u <= o->max) {
			*(uint32_t *)field = u;
			return 0;
		}
		break;
	case XVIP_OPT_NUM:
		if (xvip_opts_parse_num(arg, o->dmin, o->dmax, &d) || (o->whole && d != floor(d)))
			break;
		if (o->real) {
			*(double *)field = d;
			return 0;
		}
		return store_int(field, o->size, (uint64_t)d);
	case XVIP_OPT_ENUM:
		for (size_t i = 0; o->words[i]; i++) {
			if (o->nocase ? strcasecmp(arg, o->words[i]) : strcmp(arg, o->words[i]))
				continue;
			return store_int(field, o->size,
					 (uint64_t)(o->values ? o->values[i] : (int)i));
		}
		if (!o->want) {
			join_words(o->words, want, sizeof(want), false);
			fprintf(stderr, "%s: --%s %s: want %s\n", p->name, o->name, arg, want);
			return -EINVAL;
		}
		break;
	case XVIP_OPT_FUNC:
		ret = o->parse(opts, arg);
		if (!ret || !o->want)
			return ret;
		break;
	}
	fprintf(stderr, "%s: --%s %s: want %s\n", p->name, o->name, arg, o->want ? o->want : "?");
	return ret;
}

/* A table entry whose field cannot hold what its type stores is a bug: refuse it. */
static bool entry_ok(const struct xvip_opt *o)
{
	switch (o->type) {
	case XVIP_OPT_FLAG:
		return o->size == sizeof(bool);
	case XVIP_OPT_STR:
		return o->size == sizeof(const char *);
	case XVIP_OPT_U32:
		return o->size == sizeof(uint32_t);
	case XVIP_OPT_NUM:
		return o->real ? o->size == sizeof(double) : o->whole && o->size && o->size <= 8;
	case XVIP_OPT_ENUM:
		return o->words && (o->size == 1 || o->size == sizeof(int));
	case XVIP_OPT_FUNC:
		return o->parse != NULL;
	}
	return false;
}

int xvip_opts_parse(const struct xvip_opts_prog *p, int argc, char **argv, void *opts, int *first)
{
	struct option lopts[OPTS_MAX + 2] = {};
	char shorts[2 * OPTS_MAX + 2] = "h", *sp = shorts + 1;
	size_t n = nopts(p->opts);
	int c, idx;

	if (n > OPTS_MAX)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		const struct xvip_opt *o = &p->opts[i];
		bool has_arg = o->type != XVIP_OPT_FLAG;

		if (!entry_ok(o)) {
			fprintf(stderr, "%s: option table: --%s: bad entry\n", p->name, o->name);
			return -EINVAL;
		}
		/* Long options answer with their index + 256, short ones with their letter. */
		lopts[i] = (struct option){ o->name, has_arg ? required_argument : no_argument,
					    NULL, 256 + (int)i };
		if (o->short_name) {
			*sp++ = o->short_name;
			if (has_arg)
				*sp++ = ':';
		}
	}
	lopts[n] = (struct option){ "help", no_argument, NULL, 'h' };
	*sp = '\0';

	optind = 1;
	while ((c = getopt_long(argc, argv, shorts, lopts, NULL)) != -1) {
		int ret;

		if (c == 'h') {
			xvip_opts_help(p, stdout);
			return 1;
		}
		if (c == '?' || c == ':') {
			xvip_opts_help(p, stderr);
			return -EINVAL;
		}
		idx = c >= 256 ? c - 256 : -1;
		for (size_t i = 0; idx < 0 && i < n; i++)
			if (p->opts[i].short_name == c)
				idx = (int)i;
		if (idx < 0 || (size_t)idx >= n)
			return -EINVAL;
		ret = parse_one(p, &p->opts[idx], optarg, opts);
		if (ret)
			return ret;
	}
	*first = optind;
	return 0;
}

/*
 * text wrapped at HELP_COLS, its first line from column at (where the
 * caller left off), the others from col; a word longer than the room
 * overflows, a '\n' in text breaks the line.
 */
static void wrap(FILE *f, const char *text, int col, int at)
{
	const char *s = text;
	bool first = true;

	while (*s) {
		int room = HELP_COLS - (first ? at : col);
		const char *end = s, *brk = NULL;

		while (*end && *end != '\n' && (end - s < room || !brk)) {
			if (*end == ' ')
				brk = end;
			end++;
		}
		if (*end && *end != '\n' && brk)
			end = brk;
		fprintf(f, "%*s%.*s\n", first ? 0 : col, "", (int)(end - s), s);
		first = false;
		s = *end ? end + 1 : end;
	}
}

void xvip_opts_help(const struct xvip_opts_prog *p, FILE *f)
{
	static const struct xvip_opt help = { .name = "help", .help = "this text" };
	size_t n = nopts(p->opts);

	fputs(p->usage, f);
	for (size_t i = 0; i <= n; i++) {
		const struct xvip_opt *o = i < n ? &p->opts[i] : &help;
		char buf[128], sh[8] = "";
		const char *arg = arg_form(o, buf, sizeof(buf));
		int w;

		if (o->short_name)
			snprintf(sh, sizeof(sh), "-%c, ", o->short_name);
		w = fprintf(f, "  %s--%s%s%s", sh, o->name, arg ? " " : "", arg ? arg : "");
		/* Too long for the column: the text follows two spaces after it. */
		w += fprintf(f, "%*s", w < p->col ? p->col - w : 2, "");
		wrap(f, o->help, p->col, w);
	}
	if (p->footer) {
		fputs("\n", f);
		fputs(p->footer, f);
	}
}
