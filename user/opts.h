/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Command-line options from one table per program, the table that also
 * prints --help (in the manner of xdp-tools' params.h): each entry names an
 * option, the form of its argument, what it does, and where and how its
 * argument is stored. README's option tables are checked against --help
 * (tests/test_options.py).
 */
#ifndef XVIP_OPTS_H
#define XVIP_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum xvip_opt_type {
	XVIP_OPT_FLAG, /* no argument; sets a bool */
	XVIP_OPT_STR,  /* a const char * into argv */
	XVIP_OPT_U32,  /* uint32_t, decimal, min..max */
	XVIP_OPT_NUM,  /* strtod's number, min..max (whole if .whole) into a double or integer */
	XVIP_OPT_ENUM, /* one of words[]: values[i] (i if NULL) into an int, bool or uint8_t */
	XVIP_OPT_FUNC, /* parse() */
};

struct xvip_opt {
	const char *name; /* the long option, without "--"; NULL ends the table */
	char short_name;  /* 0: none */
	enum xvip_opt_type type;
	const char *arg;	  /* its argument in --help; NULL: none (ENUM: words joined by |) */
	const char *help;	  /* what it does; --help wraps it */
	size_t off, size;	  /* the field in the program's options (XVIP_OPT_FIELD) */
	uint32_t min, max;	  /* XVIP_OPT_U32 */
	double dmin, dmax;	  /* XVIP_OPT_NUM */
	bool whole;		  /* XVIP_OPT_NUM: no fraction; stored as an integer unless .real */
	bool real;		  /* XVIP_OPT_NUM: the field is a double */
	const char *const *words; /* XVIP_OPT_ENUM, NULL-terminated */
	const int *values;	  /* XVIP_OPT_ENUM */
	bool nocase;		  /* XVIP_OPT_ENUM: words match in any case */
	/* XVIP_OPT_FUNC: 0 or -errno; without .want it prints its own message. */
	int (*parse)(void *opts, const char *arg);
	/* What a bad argument's message asks for: "PROG: --NAME ARG: want WANT". */
	const char *want;
};

#define XVIP_OPT_FIELD(type, field) .off = offsetof(type, field), .size = sizeof(((type *)0)->field)

struct xvip_opts_prog {
	const char *name;   /* "xvipd": messages start with it */
	const char *usage;  /* --help: the text before the options */
	const char *footer; /* ... and after them; NULL: none */
	const struct xvip_opt *opts;
	int col; /* the column where the options' help text starts */
};

/*
 * Parse argv into opts (already holding the defaults). Returns 0 with
 * *first set to the first operand, 1 when --help was printed (to stdout),
 * or -errno once a message is printed to stderr (the usage too, for an
 * unknown option).
 */
int xvip_opts_parse(const struct xvip_opts_prog *p, int argc, char **argv, void *opts, int *first);
/* A decimal uint32_t, nothing before or after it (no sign): 0 or -EINVAL. */
int xvip_opts_parse_u32(const char *s, uint32_t *v);
/* strtod's number in min..max, nothing after it: 0 or -EINVAL. */
int xvip_opts_parse_num(const char *s, double min, double max, double *v);
/* The --help text: usage, every option with its argument and meaning, --help, footer. */
void xvip_opts_help(const struct xvip_opts_prog *p, FILE *f);

#endif
