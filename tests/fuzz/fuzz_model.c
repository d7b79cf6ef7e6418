// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * libFuzzer target: the Kubernetes List (Services, EndpointSlices) to model
 * translation. Besides not crashing, a result must keep the model's promises
 * (user/model.h): on error nothing is returned; on success entries are
 * sorted and unique, every VIP is a unicast address inside a --vip-cidr,
 * backends are sorted, of the VIP's family, ready or serving; a copy is
 * equal and every entry can be found.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "broken promise: %s\n", #cond);	\
			abort();					\
		}							\
	} while (0)

static struct xvip_cidr cidrs[3];
static size_t ncidrs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const c[] = { "198.18.0.0/15", "2001:db8::/32", "10.96.0.0/12" };

	(void)argc;
	(void)argv;
	for (ncidrs = 0; ncidrs < 3; ncidrs++)
		if (xvip_cidr_parse(c[ncidrs], &cidrs[ncidrs]))
			abort();
	return 0;
}

static bool in_cidrs(const struct xvip_addr *a)
{
	for (size_t i = 0; i < ncidrs; i++)
		if (xvip_cidr_contains(&cidrs[i], a))
			return true;
	return false;
}

static int svc_cmp(const struct xvip_model_svc *a, const struct xvip_model_svc *b)
{
	int c = xvip_addr_cmp(&a->vip, &b->vip);

	if (c)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return a->proto < b->proto ? -1 : a->proto > b->proto;
}

static void check_model(const struct xvip_model *m)
{
	struct xvip_model copy;

	for (size_t i = 0; i < m->nsvcs; i++) {
		const struct xvip_model_svc *s = &m->svcs[i];

		CHECK(s->name && *s->name);
		CHECK(in_cidrs(&s->vip));
		CHECK(!xvip_addr_is_special(&s->vip));
		CHECK(s->proto == 6 || s->proto == 17 || s->proto == 132);
		CHECK(i == 0 || svc_cmp(&m->svcs[i - 1], s) < 0);
		CHECK(xvip_model_find(m, &s->vip, s->port, s->proto) == s);
		CHECK(!s->nsrc_ranges || s->src_ranges);
		for (size_t j = 0; j < s->nbackends; j++) {
			const struct xvip_model_backend *b = &s->backends[j];

			CHECK(xvip_addr_is_v4(&b->addr) == xvip_addr_is_v4(&s->vip));
			CHECK(b->state == XVIP_BE_READY || b->state == XVIP_BE_SERVING);
			if (j) {
				const struct xvip_model_backend *p = &s->backends[j - 1];
				int c = xvip_addr_cmp(&p->addr, &b->addr);

				CHECK(c < 0 || (c == 0 && p->port < b->port));
			}
		}
	}
	if (xvip_model_dup(&copy, m))
		return;	/* out of memory */
	CHECK(copy.nsvcs == m->nsvcs);
	for (size_t i = 0; i < m->nsvcs; i++) {
		CHECK(!strcmp(copy.svcs[i].name, m->svcs[i].name));
		CHECK(copy.svcs[i].nbackends == m->svcs[i].nbackends);
		CHECK(!m->svcs[i].nbackends ||
		      !memcmp(copy.svcs[i].backends, m->svcs[i].backends,
			      m->svcs[i].nbackends * sizeof(*m->svcs[i].backends)));
	}
	xvip_model_free(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xvip_model_opts o = { .node_name = "node1", .cidrs = cidrs, .ncidrs = ncidrs };
	struct xvip_model m;
	char err[512];
	int ret;

	/* The last byte picks the node (every endpoint has one) and quiet logging. */
	if (size && (data[size - 1] & 1))
		o.node_name = "node2";
	o.quiet = size && (data[size - 1] & 2);
	ret = xvip_model_from_json((const char *)data, size, &o, &m, err, sizeof(err));
	if (ret) {
		CHECK(m.nsvcs == 0 && m.svcs == NULL);
		CHECK(err[0] && memchr(err, '\0', sizeof(err)));
		return 0;
	}
	check_model(&m);
	xvip_model_free(&m);
	return 0;
}
