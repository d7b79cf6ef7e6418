/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Minimal test harness in the shape of the kernel selftests' ASSERT_*:
 * an assertion names what failed, marks the current test failed and lets the
 * test carry on to its cleanup. Each test prints exactly one result line,
 * which tests/run.sh counts:
 *   PASS <name>
 *   FAIL <name>
 *   SKIP <name>: <reason>
 *
 * Usage: define tests with TEST(name) { ... }, list them in
 * TEST_MAIN(test_a, test_b, ...), or in TEST_MAIN_FIXTURE(setup, teardown,
 * test_a, ...) for a suite that shares one fixture.
 *
 * The fixture's setup and teardown are not tests and print no line of their
 * own when they work. In setup, TEST_SKIP is only for a capability the machine
 * lacks, checked before any of the project's code runs (every test is then
 * skipped with the reason); any failure in setup (ASSERT_*, TEST_FAIL) fails
 * every test, its messages on stderr. Teardown runs whenever setup ran; a
 * failure there is reported as "FAIL teardown".
 */
#ifndef XVIP_TEST_H
#define XVIP_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>

struct test_state {
	const char *name;
	int failed;
	const char *skip_reason;
};

extern struct test_state test_cur;

#define TEST(n) static void n(void)

#define TEST_FAIL(fmt, ...)						\
	do {								\
		fprintf(stderr, "  %s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__); \
		test_cur.failed++;					\
	} while (0)

/* Each ASSERT_* evaluates to true when the assertion held. */
#define ASSERT_TRUE(cond, what)						\
	({								\
		bool __ok = !!(cond);					\
		if (!__ok)						\
			TEST_FAIL("%s: expected true: %s", (what), #cond); \
		__ok;							\
	})

#define ASSERT_EQ(a, b, what)						\
	({								\
		long long __a = (long long)(a), __b = (long long)(b);	\
		bool __ok = __a == __b;					\
		if (!__ok)						\
			TEST_FAIL("%s: %s == %lld, expected %s == %lld", (what), #a, __a, #b, __b); \
		__ok;							\
	})

#define ASSERT_LE(a, b, what)						\
	({								\
		long long __a = (long long)(a), __b = (long long)(b);	\
		bool __ok = __a <= __b;					\
		if (!__ok)						\
			TEST_FAIL("%s: %s == %lld, expected <= %s == %lld", (what), #a, __a, #b, __b); \
		__ok;							\
	})

#define ASSERT_OK(err, what)						\
	({								\
		long long __e = (long long)(err);			\
		bool __ok = __e == 0;					\
		if (!__ok)						\
			TEST_FAIL("%s: returned %lld (%s)", (what), __e, strerror(__e < 0 ? (int)-__e : (int)__e)); \
		__ok;							\
	})

#define ASSERT_STREQ(a, b, what)					\
	({								\
		const char *__a = (a), *__b = (b);			\
		bool __ok = __a && __b && strcmp(__a, __b) == 0;	\
		if (!__ok)						\
			TEST_FAIL("%s: \"%s\", expected \"%s\"", (what), __a ? __a : "(null)", __b ? __b : "(null)"); \
		__ok;							\
	})

#define ASSERT_MEMEQ(a, b, len, what)					\
	({								\
		bool __ok = memcmp((a), (b), (len)) == 0;		\
		if (!__ok) {						\
			TEST_FAIL("%s: bytes differ", (what));		\
			test_hexdiff((const uint8_t *)(a), (const uint8_t *)(b), (len)); \
		}							\
		__ok;							\
	})

#define TEST_SKIP(reason)						\
	do {								\
		test_cur.skip_reason = (reason);			\
		return;							\
	} while (0)

static inline void test_hexdiff(const uint8_t *got, const uint8_t *want, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			fprintf(stderr, "    byte %zu: got 0x%02x, want 0x%02x\n", i, got[i], want[i]);
}

typedef void (*test_fn)(void);

struct test_case {
	const char *name;
	test_fn fn;
};

static inline bool test_selected(const struct test_case *tc, int argc, char **argv)
{
	return argc <= 1 || strstr(tc->name, argv[1]);
}

static inline void test_begin(const char *name)
{
	memset(&test_cur, 0, sizeof(test_cur));
	test_cur.name = name;
}

static inline int test_run_all(const struct test_case *tc, size_t n, test_fn setup,
			       test_fn teardown, int argc, char **argv)
{
	const char *fixture_skip = NULL;
	int failed = 0, setup_failed = 0;
	size_t selected = 0;

	for (size_t i = 0; i < n; i++)
		selected += test_selected(&tc[i], argc, argv);
	if (!selected) {
		fprintf(stderr, "no test matches \"%s\"\n", argc > 1 ? argv[1] : "");
		return 1;
	}
	if (setup) {
		test_begin("setup");
		setup();
		setup_failed = test_cur.failed;
		fixture_skip = setup_failed ? NULL : test_cur.skip_reason;
		if (setup_failed)
			fprintf(stderr, "  setup failed (above): every test fails\n");
	}
	for (size_t i = 0; i < n; i++) {
		if (!test_selected(&tc[i], argc, argv))
			continue;
		if (setup_failed) {
			printf("FAIL %s: setup failed\n", tc[i].name);
			failed++;
			continue;
		}
		if (fixture_skip) {
			printf("SKIP %s: %s\n", tc[i].name, fixture_skip);
			continue;
		}
		test_begin(tc[i].name);
		tc[i].fn();
		if (test_cur.skip_reason && !test_cur.failed) {
			printf("SKIP %s: %s\n", tc[i].name, test_cur.skip_reason);
		} else if (test_cur.failed) {
			printf("FAIL %s\n", tc[i].name);
			failed++;
		} else {
			printf("PASS %s\n", tc[i].name);
		}
		fflush(stdout);
	}
	if (teardown) {
		test_begin("teardown");
		teardown();
		if (test_cur.failed) {
			printf("FAIL teardown\n");
			failed++;
		}
	}
	fflush(stdout);
	return failed ? 1 : 0;
}

#define TEST_CASE(fn) { #fn, fn }

#define TEST_MAIN_FIXTURE(setup, teardown, ...)			\
	struct test_state test_cur;					\
	int main(int argc, char **argv)					\
	{								\
		static const struct test_case __tc[] = { __VA_ARGS__ };	\
		return test_run_all(__tc, sizeof(__tc) / sizeof(__tc[0]), (setup), (teardown), \
				    argc, argv);			\
	}

#define TEST_MAIN(...) TEST_MAIN_FIXTURE(NULL, NULL, __VA_ARGS__)

#endif /* XVIP_TEST_H */
