// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The API source's pieces that need no server: kubeconfig (libyaml) and
 * in-cluster configuration, token rotation, base64, what a Node object says
 * about advertising, the shared translation fed with API-shaped objects, the
 * state file and the metrics address. The wire itself (TLS, lists, watches,
 * faults) is tested end to end in tests/e2e_k8s.sh against tests/k8s_standin.py.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json.h>

#include "test.h"
#include "kube.h"
#include "kubecfg.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "reconcile.h"
#include "status.h"

__attribute__((constructor)) static void quiet_log(void)
{
	xvip_log_init(getenv("XVIP_TEST_VERBOSE") ? XVIP_LOG_DEBUG : XVIP_LOG_ERR);
}

static char tmpdir[64];

static bool mktmp(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/xvip-test-kube.XXXXXX");
	return ASSERT_TRUE(mkdtemp(tmpdir) != NULL, "mkdtemp");
}

static void rmtmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		fprintf(stderr, "  cleanup of %s failed\n", tmpdir);
}

/* Writes fmt... to tmpdir/name; returns the full path (static buffer, one at a time). */
static const char *put(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const char *put(const char *name, const char *fmt, ...)
{
	static char path[256];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f)
		return NULL;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
	return path;
}

TEST(test_base64)
{
	char *out = NULL;
	size_t len = 0;

	if (ASSERT_OK(xvip_base64_decode("aGVsbG8=", 8, &out, &len), "hello"))
		ASSERT_TRUE(len == 5 && !memcmp(out, "hello", 5), "decoded hello");
	free(out);
	/* kubectl wraps nothing, but files edited by hand do. */
	if (ASSERT_OK(xvip_base64_decode("aGVs\nbG8h\n", 10, &out, &len), "with newlines"))
		ASSERT_STREQ(out, "hello!", "decoded across lines");
	free(out);
	if (ASSERT_OK(xvip_base64_decode("YQ==", 4, &out, &len), "one byte"))
		ASSERT_EQ(len, 1, "one byte long");
	free(out);
	ASSERT_EQ(xvip_base64_decode("aGVs*G8=", 8, &out, &len), -EINVAL, "bad character");
	ASSERT_EQ(xvip_base64_decode("aGVsbG8=x", 9, &out, &len), -EINVAL, "data after padding");
	ASSERT_EQ(xvip_base64_decode("a", 1, &out, &len), -EINVAL, "one character is no byte");
	ASSERT_EQ(xvip_base64_decode("YR==", 4, &out, &len), -EINVAL, "non-zero padding bits");
}

#define CA_PEM	"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

TEST(test_kubeconfig_embedded)
{
	struct xvip_kubecfg c = {};
	char err[512] = "", *b64ca = NULL, *b64k = NULL, cmd[512];
	const char *kc;
	FILE *p;

	if (!mktmp())
		return;
	/* base64 of the PEMs, made by coreutils so the decoder is checked against another. */
	put("ca.pem", CA_PEM);
	snprintf(cmd, sizeof(cmd), "base64 -w0 %s/ca.pem", tmpdir);
	p = popen(cmd, "r");
	if (p) {
		size_t n = 0;

		getline(&b64ca, &n, p);
		pclose(p);
	}
	b64k = strdup("S0VZ");	/* "KEY" */
	if (!ASSERT_TRUE(b64ca && *b64ca, "base64 of the CA"))
		goto out;
	kc = put("config",
		 "apiVersion: v1\n"
		 "kind: Config\n"
		 "preferences: {}\n"
		 "current-context: prod\n"
		 "contexts:\n"
		 "- name: other\n"
		 "  context: {cluster: nowhere, user: nobody}\n"
		 "- name: prod\n"
		 "  context:\n"
		 "    cluster: dc1\n"
		 "    user: xvipd\n"
		 "    namespace: kube-system\n"
		 "clusters:\n"
		 "- name: dc1\n"
		 "  cluster:\n"
		 "    server: https://10.10.19.1:6443/\n"
		 "    certificate-authority-data: %s\n"
		 "users:\n"
		 "- name: xvipd\n"
		 "  user:\n"
		 "    client-certificate-data: %s\n"
		 "    client-key-data: \"%s\"\n"
		 "    token: abc.def\n", b64ca, b64ca, b64k);
	if (!ASSERT_OK(xvip_kubecfg_load(&c, kc, err, sizeof(err)), err))
		goto out;
	ASSERT_STREQ(c.server, "https://10.10.19.1:6443", "server, trailing slash dropped");
	ASSERT_TRUE(c.ca_pem && c.ca_pem_len == strlen(CA_PEM) && !strcmp(c.ca_pem, CA_PEM),
		    "CA PEM decoded");
	ASSERT_TRUE(c.cert_pem && !strcmp(c.cert_pem, CA_PEM), "client certificate decoded");
	ASSERT_TRUE(c.key_pem && !strcmp(c.key_pem, "KEY"), "client key decoded");
	ASSERT_TRUE(!c.ca_file && !c.cert_file && !c.key_file, "no files");
	ASSERT_STREQ(c.token, "abc.def", "token");
	ASSERT_STREQ(c.origin, kc, "origin names the file");
out:
	xvip_kubecfg_free(&c);
	free(b64ca);
	free(b64k);
	rmtmp();
}

TEST(test_kubeconfig_files_relative)
{
	struct xvip_kubecfg c = {};
	char err[512] = "", want[300], path[300];
	char *tok = NULL;

	if (!mktmp())
		return;
	put("token", "t1\n");
	put("config",
	    "apiVersion: v1\nkind: Config\ncurrent-context: lab\n"
	    "clusters:\n- cluster:\n    certificate-authority: pki/ca.crt\n"
	    "    server: https://[2001:db8::1]:6443\n  name: lab\n"
	    "contexts:\n- context:\n    cluster: lab\n    user: u\n  name: lab\n"
	    "users:\n- name: u\n  user:\n    client-certificate: /etc/xvip/tls.crt\n"
	    "    client-key: tls.key\n    tokenFile: token\n");
	snprintf(path, sizeof(path), "%s/config", tmpdir);
	if (!ASSERT_OK(xvip_kubecfg_load(&c, path, err, sizeof(err)), err))
		goto out;
	snprintf(want, sizeof(want), "%s/pki/ca.crt", tmpdir);
	ASSERT_STREQ(c.ca_file, want, "CA file relative to the kubeconfig");
	ASSERT_STREQ(c.cert_file, "/etc/xvip/tls.crt", "absolute path kept");
	snprintf(want, sizeof(want), "%s/tls.key", tmpdir);
	ASSERT_STREQ(c.key_file, want, "key relative");
	ASSERT_STREQ(c.server, "https://[2001:db8::1]:6443", "IPv6 server");
	if (ASSERT_OK(xvip_kubecfg_token(&c, &tok, err, sizeof(err)), err))
		ASSERT_STREQ(tok, "t1", "token from the file, newline trimmed");
	free(tok);
	tok = NULL;
	/* Rotation: the file is replaced; the next request reads the new one. */
	put("token", "t2-rotated");
	if (ASSERT_OK(xvip_kubecfg_token(&c, &tok, err, sizeof(err)), err))
		ASSERT_STREQ(tok, "t2-rotated", "rotated token read again");
	free(tok);
	tok = NULL;
	put("token", "\n");
	ASSERT_EQ(xvip_kubecfg_token(&c, &tok, err, sizeof(err)), -EINVAL, "empty token file");
	ASSERT_TRUE(strstr(err, "/token") != NULL, "message names the file");
out:
	xvip_kubecfg_free(&c);
	rmtmp();
}

struct bad_case {
	const char *what;
	const char *yaml;
	const char *msg;	/* in the error */
};

TEST(test_kubeconfig_errors)
{
	static const char *const users = "users:\n- name: u\n  user: {token: x}\n";
	static const char *const ctxs =
		"contexts:\n- name: c\n  context: {cluster: k, user: u}\n";
	static const char *const cl = "clusters:\n- name: k\n  cluster: {server: 'https://a:1'}\n";
	char yaml[1024], err[512];
	struct bad_case cases[] = {
		{ "no current-context", "apiVersion: v1\nclusters: []\n", "current-context" },
		{ "unknown context", "current-context: nope\ncontexts: []\n",
		  "no entry named \"nope\"" },
		{ "not YAML", "current-context: [c\n", "YAML error" },
		{ "not a mapping", "- a\n- b\n", "expected a mapping" },
	};
	struct xvip_kubecfg c = {};

	if (!mktmp())
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = put("config", "%s", cases[i].yaml);

		err[0] = '\0';
		ASSERT_EQ(xvip_kubecfg_load(&c, p, err, sizeof(err)), -EINVAL, cases[i].what);
		if (!strstr(err, cases[i].msg))
			TEST_FAIL("%s: message \"%s\" lacks \"%s\"", cases[i].what, err,
				  cases[i].msg);
	}
	/* One field changed from a good config each time. */
	struct {
		const char *what, *cluster, *user, *msg;
	} edits[] = {
		{ "http server", "{server: 'http://a:1'}", "{token: x}", "not an https:// URL" },
		{ "no host", "{server: 'https://'}", "{token: x}", "names no host" },
		{ "insecure", "{server: 'https://a:1', insecure-skip-tls-verify: true}",
		  "{token: x}",
		  "insecure-skip-tls-verify" },
		{ "bad base64", "{server: 'https://a:1', certificate-authority-data: '!!'}",
		  "{token: x}", "not valid base64" },
		{ "exec plugin", "{server: 'https://a:1'}", "{exec: {command: aws}}",
		  "credential plugins are not supported" },
		{ "cert without key", "{server: 'https://a:1'}", "{client-certificate: c.crt}",
		  "needs its key" },
		{ "no server", "{certificate-authority: ca.crt}", "{token: x}", "server: missing" },
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const char *p;

		snprintf(yaml, sizeof(yaml), "current-context: c\n%s"
			 "clusters:\n- name: k\n  cluster: %s\nusers:\n- name: u\n  user: %s\n",
			 ctxs, edits[i].cluster, edits[i].user);
		p = put("config", "%s", yaml);
		err[0] = '\0';
		ASSERT_EQ(xvip_kubecfg_load(&c, p, err, sizeof(err)), -EINVAL, edits[i].what);
		if (!strstr(err, edits[i].msg))
			TEST_FAIL("%s: message \"%s\" lacks \"%s\"", edits[i].what, err,
				  edits[i].msg);
	}
	/* And the good one it was edited from. */
	snprintf(yaml, sizeof(yaml), "current-context: c\n%s%s%s", ctxs, cl, users);
	ASSERT_OK(xvip_kubecfg_load(&c, put("config", "%s", yaml), err, sizeof(err)), err);
	xvip_kubecfg_free(&c);
	ASSERT_EQ(xvip_kubecfg_load(&c, "/nonexistent/kubeconfig", err, sizeof(err)), -ENOENT,
		  "missing file");
	rmtmp();
}

TEST(test_in_cluster)
{
	struct xvip_kubecfg c = {};
	char err[512] = "", want[300], *tok = NULL;

	if (!mktmp())
		return;
	put("token", "eyJhbGciOi.sa-token\n");
	put("ca.crt", CA_PEM);
	unsetenv("KUBERNETES_SERVICE_HOST");
	ASSERT_EQ(xvip_kubecfg_in_cluster(&c, tmpdir, err, sizeof(err)), -ENOENT,
		  "not in a pod");
	ASSERT_TRUE(strstr(err, "KUBERNETES_SERVICE_HOST") != NULL, "message says why");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	if (ASSERT_OK(xvip_kubecfg_in_cluster(&c, tmpdir, err, sizeof(err)), err)) {
		ASSERT_STREQ(c.server, "https://10.96.0.1:443", "server");
		snprintf(want, sizeof(want), "%s/ca.crt", tmpdir);
		ASSERT_STREQ(c.ca_file, want, "CA from the service account");
		ASSERT_STREQ(c.origin, "in-cluster", "origin");
		if (ASSERT_OK(xvip_kubecfg_token(&c, &tok, err, sizeof(err)), err))
			ASSERT_STREQ(tok, "eyJhbGciOi.sa-token", "token");
		free(tok);
	}
	xvip_kubecfg_free(&c);
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	if (ASSERT_OK(xvip_kubecfg_in_cluster(&c, tmpdir, err, sizeof(err)), err))
		ASSERT_STREQ(c.server, "https://[fd00:10:96::1]:443", "IPv6 host in brackets");
	xvip_kubecfg_free(&c);
	snprintf(want, sizeof(want), "%s/token", tmpdir);
	unlink(want);
	ASSERT_EQ(xvip_kubecfg_in_cluster(&c, tmpdir, err, sizeof(err)), -ENOENT, "no token");
	ASSERT_TRUE(strstr(err, "/token") != NULL, "message names the token file");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	rmtmp();
}

static struct json_object *node(const char *json)
{
	struct json_object *o = json_tokener_parse(json);

	ASSERT_TRUE(o != NULL, json);
	return o;
}

TEST(test_node_reason)
{
	struct {
		const char *what, *json;
		bool drain;
		const char *want;	/* substring, NULL: no reason */
	} cases[] = {
		{ "plain node", "{\"metadata\":{\"name\":\"n\",\"labels\":{\"a\":\"b\"}},"
		  "\"spec\":{\"podCIDR\":\"198.18.20.0/24\"}}", true, NULL },
		{ "exclude label", "{\"metadata\":{\"name\":\"n\",\"labels\":{\"node.kubernetes.io/"
		  "exclude-from-external-load-balancers\":\"\"}},\"spec\":{}}", false,
		  "exclude-from-external-load-balancers" },
		{ "cordoned", "{\"metadata\":{\"name\":\"n\"},\"spec\":{\"unschedulable\":true}}",
		  true, "cordoned" },
		{ "cordoned, drain off", "{\"metadata\":{\"name\":\"n\"},"
		  "\"spec\":{\"unschedulable\":true}}", false, NULL },
		{ "unschedulable false", "{\"metadata\":{\"name\":\"n\"},"
		  "\"spec\":{\"unschedulable\":false}}", true, NULL },
		{ "autoscaler taint",
		  "{\"metadata\":{\"name\":\"n\"},\"spec\":{\"taints\":[{\"key\":"
		  "\"ToBeDeletedByClusterAutoscaler\",\"value\":\"1732600000\",\"effect\":"
		  "\"NoSchedule\"}]}}", true, "ToBeDeletedByClusterAutoscaler" },
		{ "unschedulable taint",
		  "{\"metadata\":{\"name\":\"n\"},\"spec\":{\"taints\":[{\"key\":"
		  "\"node.kubernetes.io/unschedulable\",\"effect\":\"NoSchedule\"}]}}", true,
		  "node.kubernetes.io/unschedulable" },
		{ "other taint", "{\"metadata\":{\"name\":\"n\"},\"spec\":{\"taints\":[{\"key\":"
		  "\"node-role.kubernetes.io/control-plane\",\"effect\":\"NoSchedule\"}]}}", true,
		  NULL },
		{ "wrong types", "{\"metadata\":{\"labels\":[]},\"spec\":{\"taints\":{},"
		  "\"unschedulable\":\"yes\"}}", true, NULL },
	};

	ASSERT_TRUE(xvip_kube_node_reason(NULL, true) == NULL, "no Node object");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *n = node(cases[i].json);
		const char *r = xvip_kube_node_reason(n, cases[i].drain);

		if (cases[i].want)
			ASSERT_TRUE(r && strstr(r, cases[i].want), cases[i].what);
		else if (r)
			TEST_FAIL("%s: reason \"%s\", want none", cases[i].what, r);
		json_object_put(n);
	}
}

static bool models_equal(const struct xvip_model *a, const struct xvip_model *b)
{
	if (!ASSERT_EQ(a->nsvcs, b->nsvcs, "same number of service ports"))
		return false;
	for (size_t i = 0; i < a->nsvcs; i++) {
		const struct xvip_model_svc *x = &a->svcs[i], *y = &b->svcs[i];

		if (xvip_addr_cmp(&x->vip, &y->vip) || x->port != y->port || x->proto != y->proto ||
		    strcmp(x->name, y->name) || x->nbackends != y->nbackends) {
			TEST_FAIL("service port %zu differs: %s vs %s", i, x->name, y->name);
			return false;
		}
		for (size_t k = 0; k < x->nbackends; k++)
			if (xvip_addr_cmp(&x->backends[k].addr, &y->backends[k].addr) ||
			    x->backends[k].port != y->backends[k].port ||
			    x->backends[k].state != y->backends[k].state) {
				TEST_FAIL("%s: backend %zu differs", x->name, k);
				return false;
			}
	}
	return true;
}

/*
 * One translation for both sources: the services file's List and the same
 * objects as an API list returns them (items without kind and apiVersion).
 */
TEST(test_api_objects_same_model_as_file)
{
	const char *dir = getenv("XVIP_FIXTURES");
	struct json_object **sv = NULL, **sl = NULL, *root, *items;
	struct xvip_model a = {}, b = {};
	struct xvip_cidr cidr;
	struct xvip_model_opts mo = { .node_name = "node1", .cidrs = &cidr, .ncidrs = 1 };
	size_t nsv = 0, nsl = 0, n;
	char path[512], err[512] = "";

	xvip_cidr_parse("198.18.21.0/24", &cidr);
	snprintf(path, sizeof(path), "%s/services.json", dir && *dir ? dir : "tests/fixtures");
	if (!ASSERT_OK(xvip_model_from_file(path, &mo, &a, err, sizeof(err)), err))
		return;
	ASSERT_TRUE(a.nsvcs > 0, "the fixture has services");
	root = json_object_from_file(path);
	if (!ASSERT_TRUE(root && json_object_object_get_ex(root, "items", &items), "fixture"))
		goto out;
	n = json_object_array_length(items);
	sv = calloc(n, sizeof(*sv));
	sl = calloc(n, sizeof(*sl));
	for (size_t i = 0; i < n; i++) {
		struct json_object *it = json_object_array_get_idx(items, i), *k;
		const char *kind;

		if (!json_object_object_get_ex(it, "kind", &k))
			continue;
		kind = json_object_get_string(k);
		if (!strcmp(kind, "Service"))
			sv[nsv++] = it;
		else if (!strcmp(kind, "EndpointSlice"))
			sl[nsl++] = it;
		else
			continue;
		json_object_object_del(it, "kind");
		json_object_object_del(it, "apiVersion");
	}
	/* The cache hands objects over in no particular order: reversed here. */
	for (size_t i = 0; i < nsv / 2; i++) {
		struct json_object *t = sv[i];

		sv[i] = sv[nsv - 1 - i];
		sv[nsv - 1 - i] = t;
	}
	mo.quiet = true;
	if (ASSERT_OK(xvip_model_from_objects(sv, nsv, sl, nsl, &mo, &b, err, sizeof(err)), err))
		models_equal(&a, &b);
out:
	xvip_model_free(&a);
	xvip_model_free(&b);
	free(sv);
	free(sl);
	json_object_put(root);
}

TEST(test_state_file)
{
	struct xvip_kube_stats ks = {};
	struct xvip_status st = {
		.source = "kubernetes", .origin = "in-cluster", .node = "node1", .synced = true,
		.withdraw_reason = "node is cordoned (spec.unschedulable, a drain)", .applies = 7,
		.last_apply = 1700000000, .service_ports = 3, .vips = 2, .vips_on_lo = 0,
		.kube = &ks,
	};
	struct json_object *o = NULL, *v, *api;
	char path[300], tmp[310];

	if (!mktmp())
		return;
	ks.errors[XVIP_KUBE_UNAUTHORIZED] = 4;
	ks.lists[XVIP_KUBE_SLICES] = 2;
	snprintf(path, sizeof(path), "%s/run/xvip/status.json", tmpdir);
	if (!ASSERT_OK(xvip_status_write(path, &st), "write, directories created"))
		goto out;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ASSERT_TRUE(access(tmp, F_OK) != 0, "no temporary file left");
	if (!ASSERT_OK(xvip_status_read(path, &o), "read back"))
		goto out;
	ASSERT_TRUE(json_object_object_get_ex(o, "synced", &v) && json_object_get_boolean(v),
		    "synced");
	ASSERT_TRUE(json_object_object_get_ex(o, "withdraw_reason", &v) &&
		    strstr(json_object_get_string(v), "cordoned"), "withdraw reason");
	ASSERT_TRUE(json_object_object_get_ex(o, "pid", &v) && json_object_get_int(v) == getpid(),
		    "pid");
	ASSERT_TRUE(json_object_object_get_ex(o, "api", &api) &&
		    json_object_object_get_ex(api, "errors", &v) &&
		    json_object_object_get_ex(v, "unauthorized", &v) && json_object_get_int(v) == 4,
		    "api.errors.unauthorized");
	ASSERT_TRUE(json_object_object_get_ex(api, "lists", &v) &&
		    json_object_object_get_ex(v, "endpointslices", &v) &&
		    json_object_get_int(v) == 2,
		    "api.lists.endpointslices");
	json_object_put(o);
	o = NULL;
	snprintf(path, sizeof(path), "%s/missing.json", tmpdir);
	ASSERT_EQ(xvip_status_read(path, &o), -ENOENT, "no state file");
out:
	json_object_put(o);
	rmtmp();
}

static uint64_t fixed_clock(void)
{
	return 100000000000ULL;	/* 100 s */
}

/* One VIP's entry in the state file's vip_states, by address; NULL: not there. */
static struct json_object *vip_entry(struct json_object *arr, const char *vip)
{
	struct json_object *v;

	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(arr, i), "vip", &v) &&
		    !strcmp(json_object_get_string(v), vip))
			return json_object_array_get_idx(arr, i);
	return NULL;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static double jdbl(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_double(v) : -1;
}

/* The per-VIP list is formatted by hand, not by json-c: it must still parse, escaped. */
TEST(test_state_file_vips)
{
	static const char *addrs[] = { "10.96.0.1", "10.96.0.2", "10.96.0.3", "fd00::4" };
	struct xvip_rc_vip vips[4] = {};
	struct xvip_rc_svc svcs[5] = {};
	struct xvip_reconciler rc = {
		.vips = vips, .nvips = 4, .svcs = svcs, .nsvcs = 5, .clock = fixed_clock,
		.hold_down_ns = 30000000000ULL,
		.withdraw_reason = "dataplane down: pin \"/sys/fs/bpf/x\\y\"\nis gone",
	};
	struct xvip_rc_snapshot snap = {};
	struct xvip_status st = {
		.source = "file", .origin = "/etc/xvip/services.json", .node = "node1",
		.vips = 4, .snap = &snap, .frr_mode = "connected",
	};
	struct json_object *o = NULL, *arr, *e;
	char path[300], *text = NULL;
	size_t len;

	if (!mktmp())
		return;
	for (int i = 0; i < 4; i++)
		if (!ASSERT_OK(xvip_addr_parse(addrs[i], &vips[i].addr), addrs[i]))
			goto out;
	vips[0].on_lo = true;
	vips[0].why = XVIP_VIP_ADVERTISED;
	vips[1].why = XVIP_VIP_WITHDRAWN;
	vips[2].why = XVIP_VIP_HOLD_DOWN;
	vips[2].eligible_since_ns = fixed_clock() - 10000000000ULL;	/* 20 s left */
	vips[3].why = XVIP_VIP_DRAINING;
	/* Two ports on .1, one on .2, one on .3, one draining on fd00::4. */
	svcs[0].key.vip = vips[0].addr;
	svcs[1].key.vip = vips[0].addr;
	svcs[2].key.vip = vips[1].addr;
	svcs[3].key.vip = vips[2].addr;
	svcs[4].key.vip = vips[3].addr;
	svcs[4].drain_until_ns = fixed_clock() + 5000000000ULL;

	/* What xvipd hands the state file: the reconciler's snapshot. */
	if (!ASSERT_OK(xvip_rc_snapshot(&rc, &snap), "snapshot"))
		goto out;
	if (!ASSERT_OK(xvip_status_format(&st, &text, &len), "format"))
		goto out;
	ASSERT_EQ(len, strlen(text), "length");
	ASSERT_TRUE(len > 2 && !strcmp(text + len - 2, "}\n"), "ends with }\\n");
	o = json_tokener_parse(text);
	if (!ASSERT_TRUE(json_object_is_type(o, json_type_object), "parses as a JSON object"))
		goto out;
	ASSERT_STREQ(jstr(o, "node"), "node1", "top-level fields kept");
	if (!ASSERT_TRUE(json_object_object_get_ex(o, "vip_states", &arr) &&
			 json_object_array_length(arr) == 4, "4 vip_states"))
		goto out;
	e = vip_entry(arr, "10.96.0.1");
	ASSERT_TRUE(e && json_object_get_boolean(json_object_object_get(e, "advertised")),
		    ".1 advertised");
	ASSERT_EQ(e ? jdbl(e, "ports") : -1, 2, ".1 has 2 ports");
	e = vip_entry(arr, "10.96.0.2");
	ASSERT_STREQ(e ? jstr(e, "why") : NULL, "withdrawn", ".2 withdrawn");
	ASSERT_STREQ(e ? jstr(e, "withdraw_reason") : NULL, rc.withdraw_reason,
		     ".2 reason, quotes, backslash and newline escaped");
	ASSERT_TRUE(e && !json_object_get_boolean(json_object_object_get(e, "advertised")),
		    ".2 not advertised");
	e = vip_entry(arr, "10.96.0.3");
	ASSERT_STREQ(e ? jstr(e, "why") : NULL, "hold-down", ".3 hold-down");
	ASSERT_TRUE(e && jdbl(e, "hold_down_left_s") > 19.99 && jdbl(e, "hold_down_left_s") < 20.01,
		    ".3 20 s of hold-down left");
	e = vip_entry(arr, "fd00::4");
	ASSERT_EQ(e ? jdbl(e, "draining_ports") : -1, 1, "fd00::4 one port draining");
	ASSERT_TRUE(e && jdbl(e, "drain_left_s") > 4.99 && jdbl(e, "drain_left_s") < 5.01,
		    "fd00::4 5 s of drain left");
	json_object_put(o);
	o = NULL;

	/* What xvip_status_write puts in place is that text, read back whole. */
	snprintf(path, sizeof(path), "%s/status.json", tmpdir);
	if (!ASSERT_OK(xvip_status_write(path, &st), "write") ||
	    !ASSERT_OK(xvip_status_read(path, &o), "read back"))
		goto out;
	ASSERT_TRUE(json_object_object_get_ex(o, "vip_states", &arr) &&
		    json_object_array_length(arr) == 4, "4 vip_states in the file");
	json_object_put(o);
	o = NULL;
	free(text);
	text = NULL;

	rc.nvips = 0;
	rc.nsvcs = 0;
	xvip_rc_snapshot_free(&snap);
	if (!ASSERT_OK(xvip_rc_snapshot(&rc, &snap), "snapshot, no VIPs") ||
	    !ASSERT_OK(xvip_status_format(&st, &text, &len), "format, no VIPs"))
		goto out;
	o = json_tokener_parse(text);
	ASSERT_TRUE(json_object_object_get_ex(o, "vip_states", &arr) &&
		    json_object_is_type(arr, json_type_array) && !json_object_array_length(arr),
		    "no VIPs: an empty vip_states");
out:
	free(text);
	json_object_put(o);
	xvip_rc_snapshot_free(&snap);
	rmtmp();
}

TEST(test_metrics_addr)
{
	struct sockaddr_storage ss;
	socklen_t len;

	ASSERT_OK(xvip_metrics_parse_addr("127.0.0.1:9101", &ss, &len), "v4");
	ASSERT_EQ(ss.ss_family, AF_INET, "AF_INET");
	ASSERT_OK(xvip_metrics_parse_addr("[::1]:9101", &ss, &len), "v6");
	ASSERT_EQ(ss.ss_family, AF_INET6, "AF_INET6");
	ASSERT_OK(xvip_metrics_parse_addr("0.0.0.0:1", &ss, &len), "any");
	ASSERT_EQ(xvip_metrics_parse_addr("127.0.0.1", &ss, &len), -EINVAL, "no port");
	ASSERT_EQ(xvip_metrics_parse_addr("localhost:9101", &ss, &len), -EINVAL, "not an address");
	ASSERT_EQ(xvip_metrics_parse_addr("127.0.0.1:65536", &ss, &len), -EINVAL, "port range");
	ASSERT_EQ(xvip_metrics_parse_addr("::1:9101", &ss, &len), -EINVAL, "v6 needs brackets");
	ASSERT_EQ(xvip_metrics_parse_addr("[::1]9101", &ss, &len), -EINVAL, "bracket then colon");
}

TEST_MAIN(TEST_CASE(test_base64), TEST_CASE(test_kubeconfig_embedded),
	  TEST_CASE(test_kubeconfig_files_relative), TEST_CASE(test_kubeconfig_errors),
	  TEST_CASE(test_in_cluster), TEST_CASE(test_node_reason),
	  TEST_CASE(test_api_objects_same_model_as_file), TEST_CASE(test_state_file),
	  TEST_CASE(test_state_file_vips),
	  TEST_CASE(test_metrics_addr))
