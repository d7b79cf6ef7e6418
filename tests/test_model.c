// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Services and EndpointSlices -> model. The fixtures are what
 * `kubectl get services,endpointslices -A -o json` prints for a lab cluster
 * (tests/fixtures/services.json, conflict.json); cases that need a broken or
 * unusual object edit one field of a fixture through a JSON pointer, so every
 * input stays a realistic document. Fixtures are read from tests/fixtures
 * relative to the working directory, or from $XVIP_FIXTURES.
 */
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>
#include <sys/stat.h>
#include <json.h>

#include "test.h"
#include "log.h"
#include "model.h"
#include "util.h"

#define LOCAL_NODE	"node1"

static enum xvip_log_level quiet_level(void)
{
	return getenv("XVIP_TEST_VERBOSE") ? XVIP_LOG_DEBUG : XVIP_LOG_ERR;
}

/* Warnings for skipped VIPs and conflicts are expected here; XVIP_TEST_VERBOSE shows them. */
__attribute__((constructor)) static void quiet_log(void)
{
	xvip_log_init(quiet_level());
}

/* Warnings go to stderr; a capture swaps fd 2 for a temporary file. */
struct log_capture {
	FILE *f;
	int saved;
};

static bool log_capture_start(struct log_capture *c)
{
	fflush(stderr);
	c->f = tmpfile();
	if (!ASSERT_TRUE(c->f != NULL, "tmpfile"))
		return false;
	c->saved = dup(STDERR_FILENO);
	if (!ASSERT_TRUE(c->saved >= 0, "dup") ||
	    !ASSERT_TRUE(dup2(fileno(c->f), STDERR_FILENO) >= 0, "dup2")) {
		fclose(c->f);
		return false;
	}
	xvip_log_init(XVIP_LOG_WARN);
	return true;
}

/* What was logged since log_capture_start; free() it. */
static char *log_capture_stop(struct log_capture *c)
{
	char *buf = NULL;
	long len;

	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	xvip_log_init(quiet_level());
	len = ftell(c->f);
	if (len >= 0 && (buf = calloc(1, (size_t)len + 1))) {
		rewind(c->f);
		if (fread(buf, 1, (size_t)len, c->f) != (size_t)len)
			buf[0] = '\0';
	}
	fclose(c->f);
	return buf;
}

static const char *fixture(const char *name)
{
	static char path[4096];
	const char *dir = getenv("XVIP_FIXTURES");

	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "tests/fixtures", name);
	return path;
}

struct opts_buf {
	struct xvip_model_opts o;
	struct xvip_cidr cidrs[4];
};

/* node: NULL for none; cidrs: a NULL-terminated list. */
static bool opts_make(struct opts_buf *b, const char *node, const char *const *cidrs)
{
	memset(b, 0, sizeof(*b));
	b->o.node_name = node;
	b->o.cidrs = b->cidrs;
	for (size_t i = 0; cidrs[i]; i++) {
		if (!ASSERT_TRUE(i < sizeof(b->cidrs) / sizeof(b->cidrs[0]), "room for a CIDR") ||
		    !ASSERT_OK(xvip_cidr_parse(cidrs[i], &b->cidrs[i]), cidrs[i]))
			return false;
		b->o.ncidrs++;
	}
	return true;
}

static const char *const lab_cidrs[] = { "198.18.21.0/24", "2001:db8:21::/64", NULL };

static bool opts_lab(struct opts_buf *b)
{
	return opts_make(b, LOCAL_NODE, lab_cidrs);
}

static const char *state_str(uint8_t state)
{
	switch (state) {
	case XVIP_BE_READY:
		return "ready";
	case XVIP_BE_SERVING:
		return "serving";
	default:
		return "?";
	}
}

/* "198.18.20.11:8080 ready, 198.18.20.13:8080 serving"; "" for none. */
static const char *backends_str(const struct xvip_model_svc *s)
{
	static char buf[4096];
	char ep[XVIP_EPSTRLEN];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->nbackends && off < sizeof(buf); i++) {
		const struct xvip_model_backend *b = &s->backends[i];

		xvip_endpoint_str(&b->addr, b->port, -1, ep, sizeof(ep));
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s %s%s", i ? ", " : "",
					ep, state_str(b->state),
					b->weight == 1 ? "" : " (weight != 1)");
	}
	return buf;
}

/* The whole model, one line per entry: "VIP:PORT/PROTO name [backends]". */
static char *model_str(const struct xvip_model *m)
{
	char ep[XVIP_EPSTRLEN];
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	for (size_t i = 0; i < m->nsvcs; i++) {
		const struct xvip_model_svc *s = &m->svcs[i];

		xvip_endpoint_str(&s->vip, s->port, s->proto, ep, sizeof(ep));
		fprintf(f, "%s %s [%s]\n", ep, s->name, backends_str(s));
	}
	fclose(f);
	return out;
}

static const struct xvip_model_svc *find_str(const struct xvip_model *m, const char *key)
{
	struct xvip_addr vip;
	uint16_t port;
	uint8_t proto;

	if (!ASSERT_OK(xvip_endpoint_parse(key, &vip, &port, &proto), key))
		return NULL;
	return xvip_model_find(m, &vip, port, proto);
}

/* Asserts that entry key exists with this name and exactly these backends. */
static bool expect_svc(const struct xvip_model *m, const char *key, const char *name,
		       const char *backends)
{
	const struct xvip_model_svc *s = find_str(m, key);

	if (!ASSERT_TRUE(s != NULL, key))
		return false;
	return ASSERT_STREQ(s->name, name, key) && ASSERT_STREQ(backends_str(s), backends, key);
}

static bool expect_absent(const struct xvip_model *m, const char *key)
{
	return ASSERT_TRUE(find_str(m, key) == NULL, key);
}

static bool expect_contains(const char *hay, const char *needle, const char *what)
{
	if (hay && strstr(hay, needle))
		return true;
	TEST_FAIL("%s: \"%s\" does not contain \"%s\"", what, hay ? hay : "(null)", needle);
	return false;
}

/* A failed translation must leave the model zeroed: the caller keeps its old one. */
static bool expect_empty(const struct xvip_model *m, const char *what)
{
	return ASSERT_TRUE(m->svcs == NULL, what) && ASSERT_EQ(m->nsvcs, 0, what);
}

static int load(const char *name, const struct xvip_model_opts *o, struct xvip_model *m)
{
	char err[1024] = "";
	int ret;

	ret = xvip_model_from_file(fixture(name), o, m, err, sizeof(err));
	if (ret)
		TEST_FAIL("load %s: %s", name, err);
	return ret;
}

/*
 * One edit of a fixture: at JSON pointer ptr inside the item of this
 * kind/ns/name (the document itself when kind is NULL), set the value
 * parsed from json, or delete the member when json is NULL.
 */
struct edit {
	const char *kind;
	const char *ns;
	const char *name;
	const char *ptr;
	const char *json;
};

static struct json_object *find_item(struct json_object *root, const char *kind, const char *ns,
				     const char *name)
{
	struct json_object *items, *it, *v;

	if (!json_object_object_get_ex(root, "items", &items))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		it = json_object_array_get_idx(items, i);
		if (json_pointer_get(it, "/kind", &v) || strcmp(json_object_get_string(v), kind))
			continue;
		if (json_pointer_get(it, "/metadata/namespace", &v) ||
		    strcmp(json_object_get_string(v), ns))
			continue;
		if (json_pointer_get(it, "/metadata/name", &v) ||
		    strcmp(json_object_get_string(v), name))
			continue;
		return it;
	}
	return NULL;
}

static bool apply_edit(struct json_object *root, const struct edit *e)
{
	struct json_object *target = root, *parent, *val = NULL;
	char parent_ptr[256];
	const char *slash;

	if (e->kind) {
		target = find_item(root, e->kind, e->ns, e->name);
		if (!ASSERT_TRUE(target != NULL, e->name))
			return false;
	}
	if (!e->json) {
		slash = strrchr(e->ptr, '/');
		snprintf(parent_ptr, sizeof(parent_ptr), "%.*s", (int)(slash - e->ptr), e->ptr);
		if (!ASSERT_OK(json_pointer_get(target, parent_ptr, &parent), e->ptr))
			return false;
		if (json_object_is_type(parent, json_type_array))
			return ASSERT_OK(json_object_array_del_idx(parent,
								   strtoul(slash + 1, NULL, 10), 1),
					 e->ptr);
		json_object_object_del(parent, slash + 1);
		return true;
	}
	if (strcmp(e->json, "null")) {
		val = json_tokener_parse(e->json);
		if (!ASSERT_TRUE(val != NULL, e->json))
			return false;
	}
	if (!ASSERT_OK(json_pointer_set(&target, e->ptr, val), e->ptr)) {
		json_object_put(val);
		return false;
	}
	return true;
}

/* The fixture with the edits applied, as a document; free() it. */
static char *edited(const char *name, const struct edit *edits, size_t n)
{
	struct json_object *root;
	char *doc = NULL;

	root = json_object_from_file(fixture(name));
	if (!ASSERT_TRUE(root != NULL, name))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!apply_edit(root, &edits[i]))
			goto out;
	doc = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
out:
	json_object_put(root);
	return doc;
}

/* from_json on an edited fixture; *m is valid (maybe empty) whatever happens. */
static int load_edited(const char *name, const struct edit *edits, size_t n,
		       const struct xvip_model_opts *o, struct xvip_model *m, char *err,
		       size_t errlen)
{
	char *doc = edited(name, edits, n);
	int ret;

	memset(m, 0, sizeof(*m));
	if (!doc)
		return -EINVAL;
	ret = xvip_model_from_json(doc, strlen(doc), o, m, err, errlen);
	free(doc);
	return ret;
}

static const char services_expected[] =
	"198.18.21.1:443/tcp default/kubernetes:https []\n"
	"198.18.21.10:80/tcp default/web:http "
	"[198.18.20.11:8080 ready, 198.18.20.13:8080 serving, 198.18.20.15:8080 ready]\n"
	"198.18.21.10:443/tcp default/web:https "
	"[198.18.20.11:8443 ready, 198.18.20.13:8443 serving, 198.18.20.15:8443 ready]\n"
	"198.18.21.11:7/tcp default/echo [198.18.20.31:7007 ready]\n"
	"198.18.21.20:80/tcp default/lb:http [198.18.20.41:8080 ready]\n"
	"198.18.21.30:80/tcp default/lb:http [198.18.20.41:8080 ready]\n"
	"198.18.21.40:80/tcp default/lb:http [198.18.20.41:8080 ready]\n"
	"198.18.21.53:53/tcp kube-system/kube-dns:dns-tcp [198.18.20.101:53 ready]\n"
	"198.18.21.53:53/udp kube-system/kube-dns:dns [198.18.20.101:53 ready]\n"
	"198.18.21.53:9153/tcp kube-system/kube-dns:metrics [198.18.20.101:9153 ready]\n"
	"198.18.21.60:80/tcp default/dual:http [198.18.20.61:8080 ready]\n"
	"198.18.21.70:80/tcp default/notready:http []\n"
	"198.18.21.90:36412/sctp telecom/sctp-gw:s1ap [198.18.20.111:36412 ready]\n"
	"[2001:db8:21::60]:80/tcp default/dual:http [[2001:db8:20::61]:8080 ready]\n";

/* Every entry, name and backend of the lab fixture, in order. */
TEST(test_full_model)
{
	struct xvip_model m = { 0 };
	struct opts_buf ob;
	char *got = NULL;

	if (!opts_lab(&ob) || load("services.json", &ob.o, &m))
		goto out;
	got = model_str(&m);
	ASSERT_STREQ(got, services_expected, "model");
	ASSERT_EQ(m.nsvcs, 14, "entries");
out:
	free(got);
	xvip_model_free(&m);
}

TEST(test_sorted)
{
	struct xvip_model m = { 0 };
	struct opts_buf ob;

	if (!opts_lab(&ob) || load("services.json", &ob.o, &m))
		goto out;
	ASSERT_TRUE(m.nsvcs > 1, "entries");
	for (size_t i = 1; i < m.nsvcs; i++) {
		const struct xvip_model_svc *a = &m.svcs[i - 1], *b = &m.svcs[i];
		int c = xvip_addr_cmp(&a->vip, &b->vip);

		if (!c)
			c = a->port != b->port ? (a->port < b->port ? -1 : 1) :
						 (int)a->proto - (int)b->proto;
		ASSERT_TRUE(c < 0, b->name);
	}
	for (size_t i = 0; i < m.nsvcs; i++) {
		const struct xvip_model_svc *s = &m.svcs[i];

		for (size_t k = 1; k < s->nbackends; k++) {
			int c = xvip_addr_cmp(&s->backends[k - 1].addr, &s->backends[k].addr);

			if (!c)
				c = (int)s->backends[k - 1].port - (int)s->backends[k].port;
			ASSERT_TRUE(c < 0, s->name);
		}
	}
out:
	xvip_model_free(&m);
}

TEST(test_find)
{
	struct xvip_model m = { 0 }, empty = { 0 };
	struct opts_buf ob;
	struct xvip_addr a;

	if (!opts_lab(&ob) || load("services.json", &ob.o, &m))
		goto out;
	for (size_t i = 0; i < m.nsvcs; i++) {
		const struct xvip_model_svc *s = &m.svcs[i];

		ASSERT_TRUE(xvip_model_find(&m, &s->vip, s->port, s->proto) == s, s->name);
	}
	expect_absent(&m, "198.18.21.10:81/tcp");
	expect_absent(&m, "198.18.21.10:80/udp");
	expect_absent(&m, "198.18.21.12:80/tcp");
	expect_absent(&m, "198.18.21.0:80/tcp");
	expect_absent(&m, "[2001:db8:21::61]:80/tcp");
	xvip_addr_parse("198.18.21.10", &a);
	ASSERT_TRUE(xvip_model_find(&empty, &a, 80, IPPROTO_TCP) == NULL, "empty model");
out:
	xvip_model_free(&m);
}

/* targetPort "http": resolved through the slice port of the same name. */
TEST(test_named_target_port)
{
	struct xvip_model m = { 0 };
	struct opts_buf ob;

	if (!opts_lab(&ob) || load("services.json", &ob.o, &m))
		goto out;
	expect_svc(&m, "198.18.21.10:80/tcp", "default/web:http",
		   "198.18.20.11:8080 ready, 198.18.20.13:8080 serving, 198.18.20.15:8080 ready");
	expect_svc(&m, "198.18.21.10:443/tcp", "default/web:https",
		   "198.18.20.11:8443 ready, 198.18.20.13:8443 serving, 198.18.20.15:8443 ready");
out:
	xvip_model_free(&m);
}

/* An unnamed Service port matches the slice port named "", with TCP as the default protocol. */
TEST(test_numeric_target_port)
{
	static const struct edit no_proto[] = {
		{ "Service", "default", "echo", "/spec/ports/0/protocol", NULL },
		{ "EndpointSlice", "default", "echo-b8t2w", "/ports/0/protocol", NULL },
	};
	static const struct edit named_slice_port[] = {
		{ "EndpointSlice", "default", "echo-b8t2w", "/ports/0/name", "\"echo\"" },
	};
	struct xvip_model m = { 0 };
	struct opts_buf ob;
	char err[512];

	if (!opts_lab(&ob) || load("services.json", &ob.o, &m))
		goto out;
	expect_svc(&m, "198.18.21.11:7/tcp", "default/echo", "198.18.20.31:7007 ready");
	xvip_model_free(&m);

	if (!ASSERT_OK(load_edited("services.json", no_proto, 2, &ob.o, &m, err, sizeof(err)), err))
		goto out;
	expect_svc(&m, "198.18.21.11:7/tcp", "default/echo", "198.18.20.31:7007 ready");
	xvip_model_free(&m);

	/* The Service port has no name, so a named slice port is another port. */
	if (!ASSERT_OK(load_edited("services.json", named_slice_port, 1, &ob.o, &m, err,
				   sizeof(err)), err))
		goto out;
	expect_svc(&m, "198.18.21.11:7/tcp", "default/echo", "");
out:
	xvip_model_free(&m);
}

/* Name and protocol both select the slice port; a null port resolves nothing. */
TEST(test_slice_port_matching)
{
	static const struct edit edits[] = {
		{ "EndpointSlice", "kube-system", "kube-dns-c5r8w",
		  "/ports/1/protocol", "\"TCP\"" },
		{ "EndpointSlice", "default", "web-q9m4d", "/ports/1/port", "null" },
	};
	struct xvip_model m = { 0 };
	struct opts_buf ob;
	char err[512];

	if (!opts_lab(&ob) ||
	    !ASSERT_OK(load_edited("services.json", edits, 2, &ob.o, &m, err, sizeof(err)), err))
		goto out;
	/* The slice's "dns" port is now TCP: the UDP Service port finds no target. */
	expect_svc(&m, "198.18.21.53:53/udp", "kube-system/kube-dns:dns", "");
	expect_svc(&m, "198.18.21.53:53/tcp", "kube-system/kube-dns:dns-tcp",
		   "198.18.20.101:53 ready");
	/* web-q9m4d's http port is null: its endpoints serve https only. */
	expect_svc(&m, "198.18.21.10:80/tcp", "default/web:http",
		   "198.18.20.11:8080 ready, 198.18.20.13:8080 serving");
	expect_svc(&m, "198.18.21.10:443/tcp", "default/web:https",
		   "198.18.20.11:8443 ready, 198.18.20.13:8443 serving, 198.18.20.15:8443 ready");
out:
	xvip_model_free(&m);
}

/*
 * web has two slices; 198.18.20.11 is ready in one and terminating in the
 * other: it appears once, ready.
 */
TEST(test_several_slices)
{
	static const struct edit drop_first[] = {
		{ "EndpointSlice", "default", "web-7xk2p", "/endpoints/0", NULL },
		/* Several addresses: the first is the endpoint's. */
		{ "EndpointSlice", "default", "web-q9m4d", "/endpoints/0/addresses/-",
		  "\"198.18.20.16\"" },
	};
	struct xvip_model m = { 0 };
	struct opts_buf ob;
	char err[512];

	if (!opts_lab(&ob) || load("services.json", &ob.o, &m))
		goto out;
	expect_svc(&m, "198.18.21.10:80/tcp", "default/web:http",
		   "198.18.20.11:8080 ready, 198.18.20.13:8080 serving, 198.18.20.15:8080 ready");
	xvip_model_free(&m);

	/* Without the ready copy, the terminating one in web-q9m4d remains. */
	if (!ASSERT_OK(load_edited("services.json", drop_first, 2, &ob.o, &m, err, sizeof(err)),
		       err))
		goto out;
	expect_svc(&m, "198.18.21.10:80/tcp", "default/web:http",
		   "198.18.20.11:8080 serving, 198.18.20.13:8080 serving, 198.18.20.15:8080 ready");
out:
	xvip_model_free(&m);
}

TEST(test_other_nodes_excluded)
{
	static const char *const none[] = { NULL };
	struct xvip_model m = { 0 };
	struct opts_buf ob;

	if (!opts_make(&ob, "node2", lab_cidrs) || load("services.json", &ob.o, &m))
		goto out;
	expect_svc(&m, "198.18.21.10:80/tcp", "default/web:http",
		   "198.18.20.21:8080 ready, 198.18.20.22:8080 ready");
	expect_svc(&m, "198.18.21.11:7/tcp", "default/echo", "");
	expect_svc(&m, "198.18.21.70:80/tcp", "default/notready:http", "198.18.20.93:8080 ready");
	expect_svc(&m, "[2001:db8:21::60]:80/tcp", "default/dual:http",
		   "[2001:db8:20::62]:8080 ready");
	/* The API server's endpoints carry no nodeName: never local. */
	expect_svc(&m, "198.18.21.1:443/tcp", "default/kubernetes:https", "");
	ASSERT_EQ(m.nsvcs, 14, "entries do not depend on the node");
	xvip_model_free(&m);

	/* No node name: every entry, no backends. */
	if (!opts_make(&ob, NULL, lab_cidrs) || load("services.json", &ob.o, &m))
		goto out;
	ASSERT_EQ(m.nsvcs, 14, "entries");
	for (size_t i = 0; i < m.nsvcs; i++)
		ASSERT_EQ(m.svcs[i].nbackends, 0, m.svcs[i].name);
	xvip_model_free(&m);

	/* No --vip-cidr: nothing at all. */
	if (!opts_make(&ob, LOCAL_NODE, none) || load("services.json", &ob.o, &m))
		goto out;
	ASSERT_EQ(m.nsvcs, 0, "entries without cidrs");
out:
	xvip_model_free(&m);
}

/*
 * web-7xk2p: .11 ready, .12 not ready, .13 terminating and serving,
 * .14 terminating and not serving.
 */
TEST(test_not_ready_and_terminating)
{
	static const struct edit absent[] = {
		/* No conditions at all: ready, serving, not terminating. */
		{ "EndpointSlice", "default", "web-7xk2p", "/endpoints/1/conditions", NULL },
		/* serving absent follows ready (false): excluded. */
		{ "EndpointSlice", "default", "web-7xk2p",
		  "/endpoints/2/conditions/serving", NULL },
		/* ready absent is true, but terminating and not serving: excluded. */
		{ "EndpointSlice", "default", "web-7xk2p", "/endpoints/3/conditions/ready", NULL },
		/* terminating absent: not terminating, not ready: excluded. */
		{ "EndpointSlice", "default", "web-q9m4d",
		  "/endpoints/1/conditions/terminating", NULL },
	};
	static const struct edit serving_not_terminating[] = {
		/* serving without terminating (not written by Kubernetes): excluded. */
		{ "EndpointSlice", "default", "web-7xk2p",
		  "/endpoints/1/conditions/serving", "true" },
	};
	static const struct edit ready_terminating[] = {
		/* ready and terminating together (not written by Kubernetes): serving. */
		{ "EndpointSlice", "default", "web-7xk2p", "/endpoints/1/conditions/terminating",
		  "true" },
		{ "EndpointSlice", "default", "web-7xk2p",
		  "/endpoints/1/conditions/ready", "true" },
		{ "EndpointSlice", "default", "web-7xk2p",
		  "/endpoints/1/conditions/serving", NULL },
	};
	struct xvip_model m = { 0 };
	struct opts_buf ob;
	char err[512];

	if (!opts_lab(&ob) || load("services.json", &ob.o, &m))
		goto out;
	expect_svc(&m, "198.18.21.10:443/tcp", "default/web:https",
		   "198.18.20.11:8443 ready, 198.18.20.13:8443 serving, 198.18.20.15:8443 ready");
	xvip_model_free(&m);

	if (!ASSERT_OK(load_edited("services.json", absent, 4, &ob.o, &m, err, sizeof(err)), err))
		goto out;
	expect_svc(&m, "198.18.21.10:443/tcp", "default/web:https",
		   "198.18.20.11:8443 ready, 198.18.20.12:8443 ready, 198.18.20.15:8443 ready");
	xvip_model_free(&m);

	if (!ASSERT_OK(load_edited("services.json", serving_not_terminating, 1, &ob.o, &m, err,
				   sizeof(err)), err))
		goto out;
	expect_svc(&m, "198.18.21.10:443/tcp", "default/web:https",
		   "198.18.20.11:8443 ready, 198.18.20.13:8443 serving, 198.18.20.15:8443 ready");
	xvip_model_free(&m);

	if (!ASSERT_OK(load_edited("services.json", ready_terminating, 3, &ob.o, &m, err,
				   sizeof(err)), err))
		goto out;
	expect_svc(&m, "198.18.21.10:443/tcp", "default/web:https",
		   "198.18.20.11:8443 ready, 198.18.20.12:8443 serving, 198.18.20.13:8443 serving, "
		   "198.18.20.15:8443 ready");
out:
	xvip_model_free(&m);
}

/* The entry stays with no backends: the port is served (drop), not unknown. */
TEST(test_all_not_ready)
{
	struct xvip_model m = { 0 };
	struct opts_buf ob;
	const struct xvip_model_svc *s;

	if (!opts_lab(&ob) || load("services.json", &ob.o, &m))
		goto out;
	s = find_str(&m, "198.18.21.70:80/tcp");
	if (ASSERT_TRUE(s != NULL, "notready entry")) {
		ASSERT_STREQ(s->name, "default/notready:http", "name");
		ASSERT_EQ(s->nbackends, 0, "backends");
		ASSERT_TRUE(s->backends == NULL, "no backend array");
	}
out:
	xvip_model_free(&m);
}

TEST(test_vip_outside_cidrs)
{
	static const char *const wider[] = { "198.18.21.0/24", "198.18.22.0/24", NULL };
	static const char *const any_v4[] = { "0.0.0.0/0", NULL };
	static const struct edit special[] = {
		{ "Service", "default", "lb", "/spec/externalIPs/0", "\"224.0.0.5\"" },
		{ "Service", "default", "lb",
		  "/status/loadBalancer/ingress/1/ip", "\"127.0.0.1\"" },
	};
	struct xvip_model m = { 0 };
	struct log_capture lc;
	struct opts_buf ob;
	char err[512], *log;
	int ret;

	if (!opts_lab(&ob) || !log_capture_start(&lc))
		goto out;
	ret = load("services.json", &ob.o, &m);
	log = log_capture_stop(&lc);
	expect_contains(log, "warn  Service default/outside: spec.clusterIPs[0]: 198.18.22.10 is "
			"outside every --vip-cidr, skipped", "warning");
	free(log);
	if (ret)
		goto out;
	expect_absent(&m, "198.18.22.10:80/tcp");
	xvip_model_free(&m);

	if (!opts_make(&ob, LOCAL_NODE, wider) || load("services.json", &ob.o, &m))
		goto out;
	expect_svc(&m, "198.18.22.10:80/tcp", "default/outside:http", "198.18.20.81:8080 ready");
	/* The IPv6 half of the dual-stack Service is outside these. */
	expect_absent(&m, "[2001:db8:21::60]:80/tcp");
	expect_svc(&m, "198.18.21.60:80/tcp", "default/dual:http", "198.18.20.61:8080 ready");
	ASSERT_EQ(m.nsvcs, 14, "entries");
	xvip_model_free(&m);

	/* Multicast and loopback are never VIPs, even inside a --vip-cidr. */
	if (!opts_make(&ob, LOCAL_NODE, any_v4) ||
	    !ASSERT_OK(load_edited("services.json", special, 2, &ob.o, &m, err, sizeof(err)), err))
		goto out;
	expect_absent(&m, "224.0.0.5:80/tcp");
	expect_absent(&m, "127.0.0.1:80/tcp");
	expect_svc(&m, "198.18.21.20:80/tcp", "default/lb:http", "198.18.20.41:8080 ready");
	expect_svc(&m, "198.18.21.40:80/tcp", "default/lb:http", "198.18.20.41:8080 ready");
	expect_absent(&m, "198.18.21.30:80/tcp");
out:
	xvip_model_free(&m);
}

/*
 * A Service claiming a pod's address (an endpoint on any node, host-network
 * endpoints included) would take that pod's traffic over: refused with a
 * warning, even inside a --vip-cidr; the Service's other VIPs stay.
 */
TEST(test_endpoint_address_refused_as_vip)
{
	static const char *const pods_too[] = { "198.18.20.0/23", "2001:db8::/32", NULL };
	static const struct edit claims[] = {
		{ "Service", "default", "lb", "/spec/externalIPs/0", "\"198.18.20.22\"" },
		{ "Service", "default", "lb", "/spec/externalIPs/-", "\"2001:db8:20::62\"" },
		{ "Service", "default", "lb", "/spec/externalIPs/-", "\"198.18.20.41\"" },
	};
	struct xvip_model m = { 0 };
	struct log_capture lc;
	struct opts_buf ob;
	char err[512], *log;
	int ret;

	if (!opts_make(&ob, LOCAL_NODE, pods_too) || !log_capture_start(&lc))
		goto out;
	ret = load_edited("services.json", claims, 3, &ob.o, &m, err, sizeof(err));
	log = log_capture_stop(&lc);
	if (!ASSERT_OK(ret, err)) {
		free(log);
		goto out;
	}
	/* 198.18.20.22 is an endpoint of web on node2: not local, still a pod's address. */
	expect_contains(log, "warn  Service default/lb: spec.externalIPs[0]: 198.18.20.22 is the "
			"address of an endpoint, refused as a VIP", "remote endpoint");
	expect_contains(log, "2001:db8:20::62 is the address of an endpoint", "IPv6 endpoint");
	expect_contains(log, "198.18.20.41 is the address of an endpoint", "its own endpoint");
	free(log);
	expect_absent(&m, "198.18.20.22:80/tcp");
	expect_absent(&m, "[2001:db8:20::62]:80/tcp");
	expect_absent(&m, "198.18.20.41:80/tcp");
	for (size_t i = 0; i < m.nsvcs; i++) {
		char a[XVIP_ADDRSTRLEN];

		xvip_addr_str(&m.svcs[i].vip, a, sizeof(a));
		ASSERT_TRUE(strncmp(a, "198.18.20.", 10) && strncmp(a, "2001:db8:20:", 12), a);
	}
	expect_svc(&m, "198.18.21.20:80/tcp", "default/lb:http", "198.18.20.41:8080 ready");
out:
	xvip_model_free(&m);
}

static size_t count_prefix(const struct xvip_model *m, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nsvcs; i++)
		n += !strncmp(m->svcs[i].name, prefix, strlen(prefix));
	return n;
}

TEST(test_headless_and_external_name)
{
	static const struct edit not_headless[] = {
		{ "Service", "default", "headless", "/spec/clusterIP", "\"198.18.21.80\"" },
		{ "Service", "default", "headless", "/spec/clusterIPs", "[\"198.18.21.80\"]" },
	};
	static const struct edit headless_no_cluster_ips[] = {
		/* Written before dual-stack: clusterIP only. */
		{ "Service", "default", "headless", "/spec/clusterIPs", NULL },
	};
	static const struct edit external_name_with_ips[] = {
		{ "Service", "default", "external-db", "/spec/externalIPs", "[\"198.18.21.85\"]" },
		{ "Service", "default", "external-db", "/spec/ports",
		  "[{\"name\": \"pg\", \"port\": 5432, \"protocol\": \"TCP\","
		  " \"targetPort\": 5432}]" },
	};
	static const struct edit headless_with_external[] = {
		{ "Service", "default", "web", "/spec/clusterIP", "\"None\"" },
		{ "Service", "default", "web", "/spec/clusterIPs", "[\"None\"]" },
		{ "Service", "default", "web", "/spec/externalIPs", "[\"198.18.21.81\"]" },
	};
	struct xvip_model m = { 0 };
	struct opts_buf ob;
	char err[512];

	if (!opts_lab(&ob) || load("services.json", &ob.o, &m))
		goto out;
	ASSERT_EQ(count_prefix(&m, "default/headless"), 0, "headless entries");
	ASSERT_EQ(count_prefix(&m, "default/external-db"), 0, "ExternalName entries");
	xvip_model_free(&m);

	/* The same Service with an address is served: the skip is due to "None". */
	if (!ASSERT_OK(load_edited("services.json", not_headless, 2, &ob.o, &m, err, sizeof(err)),
		       err))
		goto out;
	expect_svc(&m, "198.18.21.80:5432/tcp", "default/headless:db", "198.18.20.71:5432 ready");
	xvip_model_free(&m);

	if (!ASSERT_OK(load_edited("services.json", headless_no_cluster_ips, 1, &ob.o, &m, err,
				   sizeof(err)), err))
		goto out;
	ASSERT_EQ(count_prefix(&m, "default/headless"), 0, "headless entries, clusterIP only");
	ASSERT_EQ(m.nsvcs, 14, "entries");
	xvip_model_free(&m);

	/* An ExternalName Service is a DNS alias: never served, whatever else it carries. */
	if (!ASSERT_OK(load_edited("services.json", external_name_with_ips, 2, &ob.o, &m, err,
				   sizeof(err)), err))
		goto out;
	ASSERT_EQ(count_prefix(&m, "default/external-db"), 0, "ExternalName entries");
	ASSERT_EQ(m.nsvcs, 14, "entries");
	xvip_model_free(&m);

	/* Headless means no VIP at all, externalIPs included (as in kube-proxy). */
	if (!ASSERT_OK(load_edited("services.json", headless_with_external, 3, &ob.o, &m, err,
				   sizeof(err)), err))
		goto out;
	ASSERT_EQ(count_prefix(&m, "default/web:"), 0, "headless web entries");
out:
	xvip_model_free(&m);
}

/* clusterIP, externalIPs and LB ingress IPs, the repeated 198.18.21.30 once. */
TEST(test_external_and_lb_ips)
{
	static const struct edit edits[] = {
		/* Objects written before dual-stack have clusterIP only. */
		{ "Service", "default", "lb", "/spec/clusterIPs", NULL },
		/* A hostname-only ingress has nothing to serve. */
		{ "Service", "default", "lb", "/status/loadBalancer/ingress/-",
		  "{\"hostname\": \"lb.example.com\"}" },
	};
	struct xvip_model m = { 0 };
	struct log_capture lc;
	struct opts_buf ob;
	char err[512], *log;
	int ret;

	if (!opts_lab(&ob) || !log_capture_start(&lc))
		goto out;
	ret = load("services.json", &ob.o, &m);
	log = log_capture_stop(&lc);
	/* 198.18.21.30 is both an externalIP and an ingress IP: one VIP, not a conflict. */
	ASSERT_TRUE(log && !strstr(log, "claimed by both"), log ? log : "log");
	free(log);
	if (ret)
		goto out;
	expect_svc(&m, "198.18.21.20:80/tcp", "default/lb:http", "198.18.20.41:8080 ready");
	expect_svc(&m, "198.18.21.30:80/tcp", "default/lb:http", "198.18.20.41:8080 ready");
	expect_svc(&m, "198.18.21.40:80/tcp", "default/lb:http", "198.18.20.41:8080 ready");
	ASSERT_EQ(count_prefix(&m, "default/lb:"), 3, "lb entries");
	xvip_model_free(&m);

	if (!ASSERT_OK(load_edited("services.json", edits, 2, &ob.o, &m, err, sizeof(err)), err))
		goto out;
	expect_svc(&m, "198.18.21.20:80/tcp", "default/lb:http", "198.18.20.41:8080 ready");
	ASSERT_EQ(count_prefix(&m, "default/lb:"), 3, "lb entries");
out:
	xvip_model_free(&m);
}

/* Each family's VIP gets the endpoints of that family's slice only. */
TEST(test_dual_stack)
{
	static const struct edit v6_only[] = {
		{ "Service", "default", "dual", "/spec/clusterIP", "\"2001:db8:21::60\"" },
		{ "Service", "default", "dual", "/spec/clusterIPs", "[\"2001:db8:21::60\"]" },
	};
	struct xvip_model m = { 0 };
	struct opts_buf ob;
	char err[512];

	if (!opts_lab(&ob) || load("services.json", &ob.o, &m))
		goto out;
	expect_svc(&m, "198.18.21.60:80/tcp", "default/dual:http", "198.18.20.61:8080 ready");
	expect_svc(&m, "[2001:db8:21::60]:80/tcp", "default/dual:http",
		   "[2001:db8:20::61]:8080 ready");
	xvip_model_free(&m);

	if (!ASSERT_OK(load_edited("services.json", v6_only, 2, &ob.o, &m, err, sizeof(err)), err))
		goto out;
	expect_absent(&m, "198.18.21.60:80/tcp");
	expect_svc(&m, "[2001:db8:21::60]:80/tcp", "default/dual:http",
		   "[2001:db8:20::61]:8080 ready");
out:
	xvip_model_free(&m);
}

TEST(test_udp_sctp)
{
	struct xvip_model m = { 0 };
	struct opts_buf ob;
	const struct xvip_model_svc *s;

	if (!opts_lab(&ob) || load("services.json", &ob.o, &m))
		goto out;
	expect_svc(&m, "198.18.21.53:53/udp", "kube-system/kube-dns:dns", "198.18.20.101:53 ready");
	s = find_str(&m, "198.18.21.53:53/udp");
	if (s)
		ASSERT_EQ(s->proto, IPPROTO_UDP, "dns proto");
	expect_svc(&m, "198.18.21.53:53/tcp", "kube-system/kube-dns:dns-tcp",
		   "198.18.20.101:53 ready");
	expect_svc(&m, "198.18.21.90:36412/sctp", "telecom/sctp-gw:s1ap",
		   "198.18.20.111:36412 ready");
	s = find_str(&m, "198.18.21.90:36412/sctp");
	if (s)
		ASSERT_EQ(s->proto, IPPROTO_SCTP, "sctp proto");
	expect_absent(&m, "198.18.21.90:36412/tcp");
out:
	xvip_model_free(&m);
}

static const char conflict_expected[] =
	"198.18.21.100:80/tcp default/web:http [198.18.20.131:8080 ready]\n"
	"198.18.21.100:9090/tcp prod/web:metrics [198.18.20.121:9090 ready]\n"
	"198.18.21.101:80/tcp prod/web:http [198.18.20.121:8080 ready]\n"
	"198.18.21.101:9090/tcp prod/web:metrics [198.18.20.121:9090 ready]\n"
	"198.18.21.102:80/tcp default/web:http [198.18.20.131:8080 ready]\n"
	"198.18.21.103:80/tcp default/web-canary:http [198.18.20.161:8080 ready]\n"
	"198.18.21.110:443/tcp team-a/api:https [198.18.20.151:8443 ready]\n"
	"198.18.21.111:443/tcp team/api:https [198.18.20.141:8443 ready]\n"
	"198.18.21.112:443/tcp team-a/api:https [198.18.20.151:8443 ready]\n";

/*
 * Services sharing a VIP:port: the "ns/name" sorting first wins, whatever
 * the input order ("team-a/api" < "team/api" as strings: '-' < '/';
 * "default/web" < "default/web-canary"), with a warning naming both.
 */
TEST(test_conflict)
{
	struct json_object *root = NULL, *items, *rev;
	struct xvip_model m = { 0 };
	struct log_capture lc;
	struct opts_buf ob;
	char *got = NULL, *log = NULL, err[512];
	const char *doc;
	size_t n;
	int ret;

	if (!opts_lab(&ob) || !log_capture_start(&lc))
		goto out;
	ret = load("conflict.json", &ob.o, &m);
	log = log_capture_stop(&lc);
	if (ret)
		goto out;
	got = model_str(&m);
	ASSERT_STREQ(got, conflict_expected, "model");
	expect_contains(log, "198.18.21.100:80/tcp claimed by both default/web:http and "
			"default/web-canary:http, keeping default/web:http", "warning");
	expect_contains(log, "198.18.21.100:80/tcp claimed by both default/web:http and "
			"prod/web:http, keeping default/web:http", "warning");
	expect_contains(log, "198.18.21.110:443/tcp claimed by both team-a/api:https and "
			"team/api:https, keeping team-a/api:https", "warning");
	free(got);
	got = NULL;
	xvip_model_free(&m);

	/* Same document, items in reverse order. */
	root = json_object_from_file(fixture("conflict.json"));
	if (!ASSERT_TRUE(root != NULL, "conflict.json") ||
	    !ASSERT_TRUE(json_object_object_get_ex(root, "items", &items), "items"))
		goto out;
	n = json_object_array_length(items);
	rev = json_object_new_array_ext((int)n);
	for (size_t i = n; i-- > 0;)
		json_object_array_add(rev, json_object_get(json_object_array_get_idx(items, i)));
	json_object_object_add(root, "items", rev);
	doc = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	ret = xvip_model_from_json(doc, strlen(doc), &ob.o, &m, err, sizeof(err));
	if (!ASSERT_OK(ret, err))
		goto out;
	got = model_str(&m);
	ASSERT_STREQ(got, conflict_expected, "model, items reversed");
out:
	free(got);
	free(log);
	json_object_put(root);
	xvip_model_free(&m);
}

/*
 * tests/fixtures/ignored.json holds a ConfigMap, a discovery.k8s.io/v1beta1
 * slice, an FQDN slice, a slice without the service-name label and one of
 * another namespace's "web", all with endpoints on this node: merged into the
 * lab fixture, they change nothing.
 */
TEST(test_ignored_objects)
{
	struct json_object *root = NULL, *extra = NULL, *items, *more;
	struct xvip_model m = { 0 };
	char *got = NULL, err[512];
	struct opts_buf ob;
	const char *doc;
	int ret;

	root = json_object_from_file(fixture("services.json"));
	extra = json_object_from_file(fixture("ignored.json"));
	if (!opts_lab(&ob) || !ASSERT_TRUE(root && extra, "fixtures") ||
	    !ASSERT_TRUE(json_object_object_get_ex(root, "items", &items), "items") ||
	    !ASSERT_TRUE(json_object_object_get_ex(extra, "items", &more), "items"))
		goto out;
	ASSERT_EQ(json_object_array_length(more), 5, "extra items");
	for (size_t i = 0; i < json_object_array_length(more); i++)
		json_object_array_add(items, json_object_get(json_object_array_get_idx(more, i)));
	doc = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	ret = xvip_model_from_json(doc, strlen(doc), &ob.o, &m, err, sizeof(err));
	if (!ASSERT_OK(ret, err))
		goto out;
	got = model_str(&m);
	ASSERT_STREQ(got, services_expected, "model");
out:
	free(got);
	json_object_put(extra);
	json_object_put(root);
	xvip_model_free(&m);
}

struct bad_edit {
	struct edit e;
	const char *msg;
};

/* One broken field each; the message must name the object and the field. */
static const struct bad_edit bad_edits[] = {
	{ { "Service", "default", "web", "/spec/ports/1/port", "\"443\"" },
	  "Service default/web: spec.ports[1].port: expected integer, got string" },
	{ { "Service", "default", "web", "/spec/ports/1/port", "443.0" },
	  "Service default/web: spec.ports[1].port: expected integer, got number" },
	{ { "Service", "default", "web", "/spec/ports/0/port", "0" },
	  "Service default/web: spec.ports[0].port: 0 out of range 1..65535" },
	{ { "Service", "default", "web", "/spec/ports/0/port", "65536" },
	  "Service default/web: spec.ports[0].port: 65536 out of range 1..65535" },
	{ { "Service", "default", "web", "/spec/ports/0/port", "99999999999999999999" },
	  "Service default/web: spec.ports[0].port: " },
	{ { "Service", "default", "web", "/spec/ports/0/port", NULL },
	  "Service default/web: spec.ports[0].port: missing" },
	{ { "Service", "default", "web", "/spec/ports", "{\"http\": 80}" },
	  "Service default/web: spec.ports: expected array, got object" },
	{ { "Service", "default", "web", "/spec/ports/0", "\"http\"" },
	  "Service default/web: spec.ports[0]: expected object, got string" },
	{ { "Service", "default", "web", "/spec/ports/0/name", "80" },
	  "Service default/web: spec.ports[0].name: expected string, got integer" },
	{ { "Service", "default", "web", "/spec/ports/0/protocol", "\"ICMP\"" },
	  "Service default/web: spec.ports[0].protocol: unsupported protocol \"ICMP\"" },
	{ { "Service", "default", "web", "/spec", "null" }, "Service default/web: spec: missing" },
	{ { "Service", "default", "web", "/metadata/name", NULL },
	  "Service #1: metadata.name: missing" },
	{ { "Service", "default", "web", "/metadata/namespace", "7" },
	  "Service web: metadata.namespace: expected string, got integer" },
	/* Outside every --vip-cidr, but an invalid address is an error all the same. */
	{ { "Service", "default", "outside", "/spec/clusterIPs/0", "\"198.18.22.300\"" },
	  "Service default/outside: spec.clusterIPs[0]: invalid IP address \"198.18.22.300\"" },
	{ { "Service", "default", "dual", "/spec/clusterIPs/1", "\"::ffff:198.18.21.60\"" },
	  "Service default/dual: spec.clusterIPs[1]: invalid IP address \"::ffff:198.18.21.60\"" },
	{ { "Service", "default", "web", "/spec/clusterIPs", "\"198.18.21.10\"" },
	  "Service default/web: spec.clusterIPs: expected array, got string" },
	{ { "Service", "default", "web", "/spec/clusterIP", "[\"198.18.21.10\"]" },
	  "Service default/web: spec.clusterIP: expected string, got array" },
	{ { "Service", "default", "lb", "/spec/externalIPs", "\"198.18.21.30\"" },
	  "Service default/lb: spec.externalIPs: expected array, got string" },
	{ { "Service", "default", "lb", "/spec/externalIPs/0", "true" },
	  "Service default/lb: spec.externalIPs[0]: expected string, got boolean" },
	{ { "Service", "default", "lb", "/status/loadBalancer/ingress/0/ip", "42" },
	  "Service default/lb: status.loadBalancer.ingress[0].ip: expected string, got integer" },
	{ { "Service", "default", "lb", "/status/loadBalancer/ingress/1/ip", "\"lb.example.com\"" },
	  "Service default/lb: status.loadBalancer.ingress[1].ip: invalid IP address" },
	{ { "Service", "default", "lb", "/status/loadBalancer/ingress", "{}" },
	  "Service default/lb: status.loadBalancer.ingress: expected array, got object" },
	{ { "Service", "default", "web", "/spec/type", "1" },
	  "Service default/web: spec.type: expected string, got integer" },
	{ { "EndpointSlice", "default", "web-7xk2p", "/endpoints/0/addresses/0", "42" },
	  "EndpointSlice default/web-7xk2p: endpoints[0].addresses[0]: expected string, "
	  "got integer" },
	{ { "EndpointSlice", "default", "web-7xk2p", "/endpoints/0/addresses", "\"198.18.20.11\"" },
	  "EndpointSlice default/web-7xk2p: endpoints[0].addresses: expected array, got string" },
	{ { "EndpointSlice", "default", "web-7xk2p", "/endpoints/0/addresses", "[]" },
	  "EndpointSlice default/web-7xk2p: endpoints[0].addresses: empty" },
	{ { "EndpointSlice", "default", "web-7xk2p", "/endpoints/0/addresses", NULL },
	  "EndpointSlice default/web-7xk2p: endpoints[0].addresses: missing" },
	/* On another node, still validated: the file is accepted or rejected whole. */
	{ { "EndpointSlice", "default", "web-7xk2p",
	    "/endpoints/4/addresses/0", "\"198.18.20.999\"" },
	  "EndpointSlice default/web-7xk2p: endpoints[4].addresses[0]: invalid IP address "
	  "\"198.18.20.999\"" },
	{ { "EndpointSlice", "default", "dual-z2kdl",
	    "/endpoints/0/addresses/0", "\"198.18.20.61\"" },
	  "EndpointSlice default/dual-z2kdl: endpoints[0].addresses[0]: \"198.18.20.61\" is not an "
	  "IPv6 address" },
	{ { "EndpointSlice", "default", "web-7xk2p", "/endpoints/0/conditions/ready", "\"true\"" },
	  "EndpointSlice default/web-7xk2p: endpoints[0].conditions.ready: expected boolean, got "
	  "string" },
	{ { "EndpointSlice", "default", "web-7xk2p", "/endpoints/0/conditions", "[]" },
	  "EndpointSlice default/web-7xk2p: endpoints[0].conditions: expected object, got array" },
	{ { "EndpointSlice", "default", "web-7xk2p", "/endpoints/0/nodeName", "1" },
	  "EndpointSlice default/web-7xk2p: endpoints[0].nodeName: expected string, got integer" },
	{ { "EndpointSlice", "default", "web-7xk2p", "/endpoints", "{}" },
	  "EndpointSlice default/web-7xk2p: endpoints: expected array, got object" },
	{ { "EndpointSlice", "default", "web-7xk2p", "/endpoints/2", "null" },
	  "EndpointSlice default/web-7xk2p: endpoints[2]: expected object, got null" },
	{ { "EndpointSlice", "default", "web-q9m4d", "/ports/0/port", "\"8443\"" },
	  "EndpointSlice default/web-q9m4d: ports[0].port: expected integer, got string" },
	{ { "EndpointSlice", "default", "web-q9m4d", "/ports/0/port", "-1" },
	  "EndpointSlice default/web-q9m4d: ports[0].port: -1 out of range 1..65535" },
	{ { "EndpointSlice", "default", "web-q9m4d", "/ports/0/protocol", "\"QUIC\"" },
	  "EndpointSlice default/web-q9m4d: ports[0].protocol: unsupported protocol \"QUIC\"" },
	{ { "EndpointSlice", "default", "web-q9m4d", "/ports", "\"http\"" },
	  "EndpointSlice default/web-q9m4d: ports: expected array, got string" },
	{ { "EndpointSlice", "default", "echo-b8t2w", "/addressType", "\"IPv5\"" },
	  "EndpointSlice default/echo-b8t2w: addressType: unknown address type \"IPv5\"" },
	{ { "EndpointSlice", "default", "echo-b8t2w", "/addressType", NULL },
	  "EndpointSlice default/echo-b8t2w: addressType: missing" },
	{ { "EndpointSlice", "default", "echo-b8t2w", "/metadata/labels", "[]" },
	  "EndpointSlice default/echo-b8t2w: metadata.labels: expected object, got array" },
	/* The whole labels object: json-c 0.16's json_pointer_set does not unescape "~1". */
	{ { "EndpointSlice", "default", "echo-b8t2w", "/metadata/labels",
	    "{\"app\": \"echo\", \"kubernetes.io/service-name\": 5}" },
	  "EndpointSlice default/echo-b8t2w: metadata.labels.kubernetes.io/service-name: expected "
	  "string, got integer" },
	{ { NULL, NULL, NULL, "/items/3", "42" }, "items[3]: expected object, got integer" },
	{ { NULL, NULL, NULL, "/items/3/kind", NULL },
	  "items[3]: kind: expected string, got nothing" },
	{ { NULL, NULL, NULL, "/items", "{}" }, "top level: items: expected array, got object" },
	{ { NULL, NULL, NULL, "/kind", "\"ServiceList\"" },
	  "top level: kind: expected \"List\", got \"ServiceList\"" },
};

TEST(test_wrong_types)
{
	struct xvip_model m;
	struct opts_buf ob;
	char err[512];
	int ret;

	if (!opts_lab(&ob))
		return;
	for (size_t i = 0; i < sizeof(bad_edits) / sizeof(bad_edits[0]); i++) {
		const struct bad_edit *b = &bad_edits[i];

		memset(&m, 0xa5, sizeof(m));
		strcpy(err, "(unset)");
		ret = load_edited("services.json", &b->e, 1, &ob.o, &m, err, sizeof(err));
		ASSERT_EQ(ret, -EINVAL, b->msg);
		expect_empty(&m, b->msg);
		expect_contains(err, b->msg, b->e.ptr);
		ASSERT_TRUE(!strchr(err, '\n'), "one line");
		if (!ret)
			xvip_model_free(&m);
	}
}

struct bad_doc {
	const char *doc;
	const char *msg;
};

static const struct bad_doc bad_docs[] = {
	{ "", "JSON parse error at offset 0: unexpected end of data" },
	{ "   \n", "JSON parse error at offset 4: unexpected end of data" },
	{ "{\"apiVersion\": \"v1\", \"items\": [}",
	  "JSON parse error at offset 31: unexpected character" },
	{ "{\"apiVersion\": \"v1\", \"items\": [],}",
	  "JSON parse error at offset 33: unexpected character" },
	{ "{'kind': 'List', 'items': []}", "JSON parse error at offset " },
	{ "{\"kind\": \"List\", \"items\": []} {}",
	  "JSON parse error at offset 30: unexpected character" },
	{ "{\"kind\": \"List\", \"items\": [\"\xff\"]}",
	  "JSON parse error at offset 28: invalid utf-8" },
	{ "null", "top level: expected a List object, got null" },
	{ "42", "top level: expected a List object, got integer" },
	{ "[{\"kind\": \"Service\"}]", "top level: expected a List object, got array" },
	{ "{\"kind\": \"List\"}", "top level: items: expected array, got nothing" },
	{ "{\"items\": []}", "top level: kind: expected string, got nothing" },
	{ "{\"kind\": \"List\", \"items\": [{\"kind\": \"Service\", \"metadata\": {\"name\": \"a\","
	  " \"namespace\": \"b\"}}]}", "Service b/a: spec: missing" },
	{ "{\"kind\": \"List\", \"items\": [{\"kind\": \"Service\"}]}",
	  "Service #0: metadata: missing" },
};

TEST(test_malformed_json)
{
	static const char nul_doc[] = "{\"kind\": \"List\", \"items\": []}\0{}";
	static const char empty_list[] =
		"{\"apiVersion\": \"v1\", \"items\": [], \"kind\": \"List\", "
		"\"metadata\": {\"resourceVersion\": \"\"}}\n";
	struct xvip_model m;
	struct opts_buf ob;
	char err[512];
	int ret;

	if (!opts_lab(&ob))
		return;
	for (size_t i = 0; i < sizeof(bad_docs) / sizeof(bad_docs[0]); i++) {
		const struct bad_doc *b = &bad_docs[i];

		memset(&m, 0xa5, sizeof(m));
		ret = xvip_model_from_json(b->doc, strlen(b->doc), &ob.o, &m, err, sizeof(err));
		ASSERT_EQ(ret, -EINVAL, b->msg);
		expect_empty(&m, b->msg);
		expect_contains(err, b->msg, b->doc);
		if (!ret)
			xvip_model_free(&m);
	}

	/* json-c stops at a NUL; what follows must not be silently dropped. */
	memset(&m, 0xa5, sizeof(m));
	ret = xvip_model_from_json(nul_doc, sizeof(nul_doc) - 1, &ob.o, &m, err, sizeof(err));
	ASSERT_EQ(ret, -EINVAL, "NUL inside the document");
	expect_empty(&m, "NUL inside the document");
	expect_contains(err, "JSON parse error at offset 29: data after the document", "NUL");

	/* A NULL err buffer is allowed. */
	ret = xvip_model_from_json("[", 1, &ob.o, &m, NULL, 0);
	ASSERT_EQ(ret, -EINVAL, "no err buffer");

	/* An empty cluster is not an error. */
	memset(&m, 0xa5, sizeof(m));
	ret = xvip_model_from_json(empty_list, strlen(empty_list), &ob.o, &m, err, sizeof(err));
	if (ASSERT_OK(ret, err))
		expect_empty(&m, "empty List");
}

/* Every prefix of a good document is incomplete JSON: an error, never a crash or a model. */
TEST(test_truncated_json)
{
	struct xvip_model m;
	struct opts_buf ob;
	char *doc = NULL;
	char err[512];
	size_t len, end, ncuts = 0;
	int ret;

	doc = edited("services.json", NULL, 0);
	if (!opts_lab(&ob) || !doc)
		goto out;
	len = strlen(doc);
	end = (size_t)(strrchr(doc, '}') - doc);	/* the document ends after this */
	for (size_t cut = 0; cut <= end; cut++) {
		/* Every byte of both ends, and a prime stride through the middle. */
		if (cut > 512 && cut + 512 < end && cut % 61)
			continue;
		ncuts++;
		memset(&m, 0xa5, sizeof(m));
		ret = xvip_model_from_json(doc, cut, &ob.o, &m, err, sizeof(err));
		if (!ASSERT_EQ(ret, -EINVAL, "truncated document") ||
		    !expect_empty(&m, "truncated document") ||
		    !expect_contains(err, "unexpected end of data", "truncated document")) {
			fprintf(stderr, "  cut at %zu of %zu\n", cut, len);
			if (!ret)
				xvip_model_free(&m);
			break;
		}
	}
	ASSERT_TRUE(ncuts > 1000, "cuts tried");
	/* The uncut document is fine, so the cuts above are what failed. */
	ret = xvip_model_from_json(doc, len, &ob.o, &m, err, sizeof(err));
	if (ASSERT_OK(ret, err)) {
		ASSERT_EQ(m.nsvcs, 14, "entries");
		xvip_model_free(&m);
	}
out:
	free(doc);
}

TEST(test_from_file_errors)
{
	char path[] = "/tmp/xvip-test-model-XXXXXX";
	static const char truncated[] = "{\"apiVersion\": \"v1\", \"items\": [";
	struct xvip_model m;
	struct opts_buf ob;
	char err[1024], want[1100];
	int fd = -1, ret;

	if (!opts_lab(&ob))
		return;
	memset(&m, 0xa5, sizeof(m));
	ret = xvip_model_from_file("/nonexistent/services.json", &ob.o, &m, err, sizeof(err));
	ASSERT_EQ(ret, -ENOENT, "missing file");
	expect_empty(&m, "missing file");
	expect_contains(err, "/nonexistent/services.json: open: No such file or directory",
			"missing file");

	fd = mkstemp(path);
	if (!ASSERT_TRUE(fd >= 0, "mkstemp"))
		return;
	if (!ASSERT_EQ(write(fd, truncated, strlen(truncated)), (long)strlen(truncated), "write"))
		goto out;
	memset(&m, 0xa5, sizeof(m));
	ret = xvip_model_from_file(path, &ob.o, &m, err, sizeof(err));
	ASSERT_EQ(ret, -EINVAL, "truncated file");
	expect_empty(&m, "truncated file");
	snprintf(want, sizeof(want), "%s: JSON parse error at offset %zu: unexpected end of data",
		 path, strlen(truncated));
	ASSERT_STREQ(err, want, "truncated file");

	/* Past the size cap (sparse, so nothing is written). */
	if (!ASSERT_OK(ftruncate(fd, (256L << 20) + 1), "ftruncate"))
		goto out;
	memset(&m, 0xa5, sizeof(m));
	ret = xvip_model_from_file(path, &ob.o, &m, err, sizeof(err));
	ASSERT_EQ(ret, -EFBIG, "file too large");
	expect_empty(&m, "file too large");
	snprintf(want, sizeof(want), "%s: larger than the 256 MiB limit", path);
	ASSERT_STREQ(err, want, "file too large");

	memset(&m, 0xa5, sizeof(m));
	ret = xvip_model_from_file("/", &ob.o, &m, err, sizeof(err));
	ASSERT_EQ(ret, -EISDIR, "directory");
	expect_empty(&m, "directory");
	expect_contains(err, "/: read: Is a directory", "directory");
out:
	close(fd);
	unlink(path);
}

/*
 * The one reader of whole files (services file, kubeconfig, token): a limit
 * that is exact, sources without a size (a FIFO, /proc), and the failing step.
 */
TEST(test_read_file)
{
	char path[] = "/tmp/xvip-test-read-XXXXXX", cmd[128], *buf = NULL;
	const char *step = NULL;
	size_t len = 0;
	FILE *p;
	int fd;

	fd = mkstemp(path);
	if (!ASSERT_TRUE(fd >= 0, "mkstemp"))
		return;
	if (!ASSERT_EQ(write(fd, "0123456789", 10), 10, "write"))
		goto out;
	ASSERT_OK(xvip_read_file(path, 10, &buf, &len, &step), "10 bytes, limit 10");
	ASSERT_EQ(len, 10, "length");
	ASSERT_STREQ(buf, "0123456789", "content, NUL-terminated");
	free(buf);
	buf = NULL;
	ASSERT_EQ(xvip_read_file(path, 9, &buf, &len, &step), -EFBIG, "10 bytes, limit 9");
	ASSERT_TRUE(buf == NULL, "nothing returned past the limit");

	/* A FIFO reports size 0: read until the end, past the first buffer, up to the limit. */
	unlink(path);
	if (!ASSERT_OK(mkfifo(path, 0600), "mkfifo"))
		goto out;
	snprintf(cmd, sizeof(cmd), "head -c 200000 /dev/zero | tr '\\0' x > %s", path);
	p = popen(cmd, "r");
	if (!ASSERT_TRUE(p != NULL, "popen"))
		goto out;
	ASSERT_OK(xvip_read_file(path, 200000, &buf, &len, &step), "FIFO of 200000 bytes");
	pclose(p);
	ASSERT_EQ(len, 200000, "FIFO length");
	ASSERT_TRUE(buf && buf[0] == 'x' && buf[199999] == 'x' && !buf[200000], "FIFO content");
	free(buf);
	buf = NULL;

	ASSERT_EQ(xvip_read_file("/nonexistent/x", 10, &buf, &len, &step), -ENOENT, "missing");
	ASSERT_STREQ(step, "open", "missing: fails at open");
	ASSERT_EQ(xvip_read_file("/", 10, &buf, &len, &step), -EISDIR, "directory");
	ASSERT_STREQ(step, "read", "directory: fails at read");
	ASSERT_EQ(xvip_read_file("/", 10, &buf, &len, NULL), -EISDIR, "step may be NULL");
out:
	free(buf);
	close(fd);
	unlink(path);
}

static const char affinity_json[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"\"},\"items\":["
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"lb\",\"namespace\":\"prod\","
	"\"uid\":\"1\",\"resourceVersion\":\"7\"},\"spec\":{\"type\":\"LoadBalancer\","
	"\"clusterIP\":\"198.18.21.50\",\"clusterIPs\":[\"198.18.21.50\"],"
	"\"loadBalancerSourceRanges\":[\"198.18.30.0/24\",\"198.18.31.7\",\"2001:db8:30::/48\"],"
	"\"ports\":[{\"name\":\"https\",\"port\":443,\"protocol\":\"TCP\",\"targetPort\":8443}],"
	"\"sessionAffinity\":\"ClientIP\",\"sessionAffinityConfig\":{\"clientIP\":"
	"{\"timeoutSeconds\":%s}}},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"198.18.21.51\"}]}}}]}";

TEST(test_affinity_and_source_ranges)
{
	struct opts_buf ob;
	struct xvip_model m = {};
	char buf[2048], err[512] = "";
	const struct xvip_model_svc *cip, *lb;
	struct xvip_addr a;

	if (!opts_lab(&ob))
		return;
	snprintf(buf, sizeof(buf), affinity_json, "600");
	if (!ASSERT_OK(xvip_model_from_json(buf, strlen(buf), &ob.o, &m, err, sizeof(err)), err))
		return;
	xvip_addr_parse("198.18.21.50", &a);
	cip = xvip_model_find(&m, &a, 443, IPPROTO_TCP);
	xvip_addr_parse("198.18.21.51", &a);
	lb = xvip_model_find(&m, &a, 443, IPPROTO_TCP);
	if (ASSERT_TRUE(cip && lb, "both VIPs present")) {
		ASSERT_EQ(cip->affinity_s, 600, "clusterIP entry: affinity timeout");
		ASSERT_EQ(lb->affinity_s, 600, "LB entry: affinity timeout");
		ASSERT_EQ(cip->nsrc_ranges, 0, "source ranges do not apply to the clusterIP");
		if (ASSERT_EQ(lb->nsrc_ranges, 2, "IPv4 ranges on the LB IP (the IPv6 one is not its family)")) {
			char c[64];

			ASSERT_STREQ(xvip_cidr_str(&lb->src_ranges[0], c, sizeof(c)), "198.18.30.0/24",
				     "first range");
			ASSERT_STREQ(xvip_cidr_str(&lb->src_ranges[1], c, sizeof(c)), "198.18.31.7/32",
				     "a bare address is one host");
		}
	}
	xvip_model_free(&m);

	snprintf(buf, sizeof(buf), affinity_json, "0");
	ASSERT_EQ(xvip_model_from_json(buf, strlen(buf), &ob.o, &m, err, sizeof(err)), -EINVAL,
		  "timeoutSeconds 0 refused");
	ASSERT_TRUE(strstr(err, "Service prod/lb: spec.sessionAffinityConfig.clientIP.timeoutSeconds") != NULL,
		    err);
	ASSERT_EQ(m.nsvcs, 0, "model left empty");
	snprintf(buf, sizeof(buf), affinity_json, "\"10\"");
	ASSERT_EQ(xvip_model_from_json(buf, strlen(buf), &ob.o, &m, err, sizeof(err)), -EINVAL,
		  "timeoutSeconds as a string refused");
}

/* ---- the index: the same model as a whole translation, after every change */

/* Every field the reconciler reads, one line per entry. */
static char *full_str(const struct xvip_model *m)
{
	char ep[XVIP_EPSTRLEN], c[64];
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	for (size_t i = 0; i < m->nsvcs; i++) {
		const struct xvip_model_svc *s = &m->svcs[i];

		xvip_endpoint_str(&s->vip, s->port, s->proto, ep, sizeof(ep));
		fprintf(f, "%s %s affinity %u [%s] ranges", ep, s->name, s->affinity_s,
			backends_str(s));
		for (size_t r = 0; r < s->nsrc_ranges; r++)
			fprintf(f, " %s", xvip_cidr_str(&s->src_ranges[r], c, sizeof(c)));
		fputc('\n', f);
	}
	fclose(f);
	return out;
}

/* A small world where everything collides: shared VIPs, endpoint addresses equal to VIPs. */
static const char *const ix_vips[] = {
	"198.18.21.1", "198.18.21.2", "198.18.21.3", "198.18.21.4", "2001:db8:21::1",
	"198.18.99.1",	/* outside the lab's --vip-cidr */
};
static const char *const ix_eps4[] = {
	"198.18.20.1", "198.18.20.2", "198.18.20.3", "198.18.21.1", "198.18.21.3",
};
static const char *const ix_eps6[] = { "2001:db8:20::1", "2001:db8:20::2", "2001:db8:21::1" };
static const char *const ix_ports[] = { "http", "dns", "" };
#define IX_NS		2
#define IX_SVCS		5
#define IX_SLICES	8
#define IX_PICK(a)	((a)[rand() % (int)(sizeof(a) / sizeof((a)[0]))])

static struct json_object *ix_service(int ns, int i)
{
	char buf[2048];
	int off, nv = 1 + rand() % 2, np = 1 + rand() % 2;

	off = snprintf(buf, sizeof(buf), "{\"metadata\": {\"namespace\": \"ns%d\", \"name\": "
		       "\"s%d\"}, \"spec\": {%s\"clusterIPs\": [", ns, i,
		       rand() % 4 ? "" : "\"sessionAffinity\": \"ClientIP\", ");
	for (int v = 0; v < nv; v++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s\"%s\"", v ? ", " : "",
				IX_PICK(ix_vips));
	off += snprintf(buf + off, sizeof(buf) - off, "], \"ports\": [");
	for (int p = 0; p < np; p++) {
		const char *name = IX_PICK(ix_ports);

		off += snprintf(buf + off, sizeof(buf) - off, "%s{%s%s%s\"port\": %d, "
				"\"protocol\": \"%s\"}", p ? ", " : "", *name ? "\"name\": \"" : "",
				name, *name ? "\", " : "", 80 + rand() % 2,
				rand() % 3 ? "TCP" : "UDP");
	}
	snprintf(buf + off, sizeof(buf) - off, "]%s}, \"status\": {\"loadBalancer\": "
		 "{\"ingress\": [{\"ip\": \"%s\"}]}}}",
		 rand() % 3 ? "" : ", \"loadBalancerSourceRanges\": [\"198.18.30.0/24\"]",
		 IX_PICK(ix_vips));
	return json_tokener_parse(buf);
}

static struct json_object *ix_slice(int ns, int i)
{
	bool v6 = rand() % 4 == 0;
	int ne = rand() % 4, np = 1 + rand() % 2;
	char buf[4096];
	int off;

	off = snprintf(buf, sizeof(buf), "{\"metadata\": {\"namespace\": \"ns%d\", \"name\": "
		       "\"sl%d\"%s", ns, i, rand() % 8 ? ", \"labels\": {" : "");
	if (buf[off - 1] == '{')
		off += snprintf(buf + off, sizeof(buf) - off, "\"kubernetes.io/service-name\": "
				"\"s%d\"}", rand() % IX_SVCS);
	off += snprintf(buf + off, sizeof(buf) - off, "}, \"addressType\": \"%s\", \"ports\": [",
			v6 ? "IPv6" : "IPv4");
	for (int p = 0; p < np; p++) {
		const char *name = IX_PICK(ix_ports);

		off += snprintf(buf + off, sizeof(buf) - off, "%s{%s%s%s\"port\": %d, "
				"\"protocol\": \"%s\"}", p ? ", " : "", *name ? "\"name\": \"" : "",
				name, *name ? "\", " : "", 8080 + rand() % 2,
				rand() % 3 ? "TCP" : "UDP");
	}
	off += snprintf(buf + off, sizeof(buf) - off, "], \"endpoints\": [");
	for (int e = 0; e < ne; e++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s{\"addresses\": [\"%s\"], "
				"\"nodeName\": \"%s\", \"conditions\": {\"ready\": %s, "
				"\"serving\": true, \"terminating\": %s}}", e ? ", " : "",
				v6 ? IX_PICK(ix_eps6) : IX_PICK(ix_eps4),
				rand() % 4 ? LOCAL_NODE : "node2", rand() % 3 ? "true" : "false",
				rand() % 4 ? "false" : "true");
	snprintf(buf + off, sizeof(buf) - off, "]}");
	return json_tokener_parse(buf);
}

static int addr_cmp(const void *a, const void *b)
{
	return xvip_addr_cmp(a, b);
}

/* The index's deltas, applied to a copy of the model: each VIP's entries replaced whole. */
static bool ix_apply_delta(struct xvip_model *mirror, const struct xvip_model *d,
			   const struct xvip_addr *vips, size_t nvips)
{
	struct xvip_model next = { .svcs = calloc(mirror->nsvcs + d->nsvcs + 1,
						  sizeof(*next.svcs)) };
	size_t i = 0, j = 0, k = 0;

	if (!ASSERT_TRUE(next.svcs != NULL, "calloc"))
		return false;
	for (size_t v = 1; v < nvips; v++)
		if (!ASSERT_TRUE(xvip_addr_cmp(&vips[v - 1], &vips[v]) < 0, "vips sorted, unique"))
			return false;
	for (size_t e = 0; e < d->nsvcs; e++)
		if (!ASSERT_TRUE(bsearch(&d->svcs[e].vip, vips, nvips, sizeof(*vips),
					 addr_cmp) != NULL, "delta entry of a listed VIP"))
			return false;
	/* Old entries of VIPs not listed, merged with the delta (both sorted). */
	while (i < mirror->nsvcs || j < d->nsvcs) {
		const struct xvip_model_svc *o = i < mirror->nsvcs ? &mirror->svcs[i] : NULL;

		if (o && bsearch(&o->vip, vips, nvips, sizeof(*vips), addr_cmp)) {
			i++;
			continue;
		}
		if (o && (j == d->nsvcs || xvip_addr_cmp(&o->vip, &d->svcs[j].vip) < 0)) {
			next.svcs[k++] = *o;
			i++;
		} else {
			next.svcs[k++] = d->svcs[j++];
		}
	}
	next.nsvcs = k;
	free(mirror->svcs);
	*mirror = next;
	return true;
}

static void ix_step_compare(struct json_object **svcs, struct json_object **slices,
			    const struct xvip_model_opts *o, const struct xvip_model *mirror,
			    struct xvip_model_index *x, int step)
{
	struct json_object *sv[IX_NS * IX_SVCS], *sl[IX_NS * IX_SLICES];
	const struct xvip_model *full;
	struct xvip_model want;
	size_t nsv = 0, nsl = 0;
	char err[512], what[64];
	char *w, *got, *got_full;

	for (int i = 0; i < IX_NS * IX_SVCS; i++)
		if (svcs[i])
			sv[nsv++] = svcs[i];
	for (int i = 0; i < IX_NS * IX_SLICES; i++)
		if (slices[i])
			sl[nsl++] = slices[i];
	snprintf(what, sizeof(what), "step %d", step);
	if (!ASSERT_OK(xvip_model_from_objects(sv, nsv, sl, nsl, o, &want, err, sizeof(err)),
		       err))
		return;
	ASSERT_OK(xvip_model_index_model(x, &full), what);
	w = full_str(&want);
	got = full_str(mirror);
	got_full = full_str(full);
	ASSERT_STREQ(got, w, what);
	ASSERT_STREQ(got_full, w, what);
	free(w);
	free(got);
	free(got_full);
	xvip_model_free(&want);
}

TEST(test_index_matches_translation)
{
	struct json_object *svcs[IX_NS * IX_SVCS] = {}, *slices[IX_NS * IX_SLICES] = {};
	struct xvip_model_index *x = NULL;
	struct xvip_model mirror = {};
	size_t touched = 0, total = 0, conflicts = 0, refused = 0;
	struct opts_buf ob;

	if (!opts_lab(&ob))
		return;
	ob.o.quiet = true;
	if (!ASSERT_OK(xvip_model_index_new(&x, &ob.o), "index"))
		return;
	srand(1);
	for (int step = 0; step < 3000 && !test_cur.failed; step++) {
		const struct xvip_model *d;
		const struct xvip_addr *vips;
		int op = rand() % 10, ns = rand() % IX_NS;
		char key[64];
		size_t nvips;

		if (op < 5) {
			int i = rand() % IX_SVCS;
			struct json_object *j = op < 4 ? ix_service(ns, i) : NULL;

			snprintf(key, sizeof(key), "ns%d/s%d", ns, i);
			json_object_put(svcs[ns * IX_SVCS + i]);
			svcs[ns * IX_SVCS + i] = j;
			ASSERT_OK(xvip_model_index_service(x, key, j), key);
		} else {
			int i = rand() % IX_SLICES;
			struct json_object *j = op < 9 ? ix_slice(ns, i) : NULL;

			snprintf(key, sizeof(key), "ns%d/sl%d", ns, i);
			json_object_put(slices[ns * IX_SLICES + i]);
			slices[ns * IX_SLICES + i] = j;
			ASSERT_OK(xvip_model_index_slice(x, key, j), key);
		}
		/* Now and then several changes in one commit, as a burst of events gives. */
		if (rand() % 3 == 0)
			continue;
		if (!ASSERT_OK(xvip_model_index_commit(x, &d, &vips, &nvips), "commit") ||
		    !ix_apply_delta(&mirror, d, vips, nvips))
			break;
		touched += nvips;
		total++;
		ix_step_compare(svcs, slices, &ob.o, &mirror, x, step);
		for (size_t i = 1; i < mirror.nsvcs; i++)
			conflicts += !xvip_addr_cmp(&mirror.svcs[i - 1].vip, &mirror.svcs[i].vip);
		for (int i = 0; i < IX_NS * IX_SVCS; i++) {
			const char *s = svcs[i] ? json_object_to_json_string(svcs[i]) : "";

			refused += strstr(s, "\"198.18.21.1\"") || strstr(s, "\"198.18.21.3\"");
		}
	}
	/* The walk did go through what it is meant to: VIPs shared and VIPs refused. */
	ASSERT_TRUE(total > 1000 && conflicts > 100 && refused > 100, "coverage");
	/* And a commit touches a few VIPs, not all of them. */
	ASSERT_LE(touched, total * 4, "VIPs per commit");
	free(mirror.svcs);
	xvip_model_index_free(x);
	for (int i = 0; i < IX_NS * IX_SVCS; i++)
		json_object_put(svcs[i]);
	for (int i = 0; i < IX_NS * IX_SLICES; i++)
		json_object_put(slices[i]);
}

TEST_MAIN(TEST_CASE(test_full_model), TEST_CASE(test_sorted), TEST_CASE(test_find),
	  TEST_CASE(test_endpoint_address_refused_as_vip),
	  TEST_CASE(test_named_target_port), TEST_CASE(test_numeric_target_port),
	  TEST_CASE(test_slice_port_matching), TEST_CASE(test_several_slices),
	  TEST_CASE(test_other_nodes_excluded), TEST_CASE(test_not_ready_and_terminating),
	  TEST_CASE(test_all_not_ready), TEST_CASE(test_vip_outside_cidrs),
	  TEST_CASE(test_headless_and_external_name), TEST_CASE(test_external_and_lb_ips),
	  TEST_CASE(test_dual_stack), TEST_CASE(test_udp_sctp), TEST_CASE(test_conflict),
	  TEST_CASE(test_ignored_objects), TEST_CASE(test_wrong_types),
	  TEST_CASE(test_malformed_json), TEST_CASE(test_truncated_json),
	  TEST_CASE(test_from_file_errors), TEST_CASE(test_read_file), TEST_CASE(test_affinity_and_source_ranges),
	  TEST_CASE(test_index_matches_translation))
