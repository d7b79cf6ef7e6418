#!/usr/bin/env python3
"""Offline checks of scripts/deploy/: the manifests parse, the DaemonSet has
what xvipd needs on a node and nothing more, the RBAC grants exactly the
verbs and resources xvipd uses, the Dockerfile's runtime image carries every
library the binaries link against, and the sample frr.conf is valid FRR and
only ever exports the VIP range. Prints PASS/FAIL/SKIP lines like every suite.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.environ.get("XVIP_DEPLOY_DIR", os.path.join(ROOT, "scripts", "deploy"))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))

try:
    import yaml
except ImportError:
    yaml = None

# What xvipd does with the API: user/kube.c lists and watches these, and nothing else.
WANT_RULES = {
    ("", "services"): {"list", "watch"},
    ("discovery.k8s.io", "endpointslices"): {"list", "watch"},
    ("", "nodes"): {"get", "list", "watch"},
}
# Each justified in daemonset.yaml; anything else is a privilege xvipd does not need.
ALLOWED_CAPS = {"BPF", "PERFMON", "NET_ADMIN", "SYS_ADMIN"}

results = []


class Skip(Exception):
    pass


def test(fn):
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
        return cond
    try:
        fn(check)
    except Skip as e:
        # What the machine lacks stops the test; what failed before that still fails it.
        if not failures:
            print("SKIP %s: %s" % (fn.__name__, e))
            return
        failures.append("(then stopped: %s)" % e)
    except Exception as e:  # a crash is a failure of that test, with its reason
        failures.append("%s: %s" % (type(e).__name__, e))
    for f in failures:
        print("  %s: %s" % (fn.__name__, f), file=sys.stderr)
    print("%s %s" % ("FAIL" if failures else "PASS", fn.__name__))
    results.append(not failures)


def docs():
    if yaml is None:
        raise Skip("python3-yaml missing")
    out = []
    for path in sorted(glob.glob(os.path.join(DEPLOY, "*.yaml"))):
        with open(path) as f:
            for d in yaml.safe_load_all(f):
                if d is not None:
                    out.append((os.path.basename(path), d))
    return out


def one(kind):
    found = [d for _, d in docs() if d.get("kind") == kind]
    if len(found) != 1:
        raise AssertionError("want one %s, found %d" % (kind, len(found)))
    return found[0]


def container(ds):
    cs = ds["spec"]["template"]["spec"]["containers"]
    return next(c for c in cs if c["name"] == "xvipd")


def arg(c, name):
    for a in c.get("args", []):
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def args(c, name):
    return [a.split("=", 1)[1] for a in c.get("args", []) if a.startswith(name + "=")]


def test_manifests_parse(check):
    ds = docs()
    check(len(ds) >= 4, "at least a ServiceAccount, ClusterRole, binding and DaemonSet")
    for f, d in ds:
        check(isinstance(d, dict) and d.get("apiVersion") and d.get("kind") and
              d.get("metadata", {}).get("name"), "%s: apiVersion, kind, metadata.name" % f)


def test_daemonset(check):
    ds = one("DaemonSet")
    check(ds["apiVersion"] == "apps/v1", "apps/v1")
    pod = ds["spec"]["template"]["spec"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    check(all(labels.get(k) == v for k, v in ds["spec"]["selector"]["matchLabels"].items()),
          "selector matches the template's labels")
    check(pod.get("hostNetwork") is True, "hostNetwork")
    c = container(ds)
    env = {e["name"]: e for e in c.get("env", [])}
    check(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
          == "spec.nodeName", "NODE_NAME from the downward API (spec.nodeName)")
    check(not arg(c, "--kubeconfig") and not arg(c, "--services-file"),
          "in-cluster config (neither --kubeconfig nor --services-file)")
    check(args(c, "--iface") and arg(c, "--vip-cidr"), "--iface and --vip-cidr given")
    # Every option in the manifest is one xvipd knows.
    xvipd = os.path.join(BUILD, "xvipd")
    if os.access(xvipd, os.X_OK):
        helptext = subprocess.run([xvipd, "--help"], capture_output=True, text=True).stdout
        for a in c.get("args", []):
            opt = a.split("=", 1)[0]
            check(re.search(r"\s%s\s" % re.escape(opt), helptext), "xvipd knows %s" % opt)
    # bpffs from the host, so pins outlive the pod.
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    bpf = mounts.get("/sys/fs/bpf")
    check(bpf and vols.get(bpf["name"], {}).get("hostPath", {}).get("path") == "/sys/fs/bpf",
          "/sys/fs/bpf is the host's, mounted at /sys/fs/bpf")
    cg = arg(c, "--cgroup")
    if cg:
        m = mounts.get(cg)
        check(m and vols.get(m["name"], {}).get("hostPath", {}).get("path") == "/sys/fs/cgroup",
              "--cgroup %s is the host's cgroup root" % cg)
    st = arg(c, "--state-file") or "/run/xvip/status.json"
    check(any(st.startswith(p + "/") for p in mounts), "--state-file on a mounted volume")
    # Capabilities: all dropped, then only the justified ones; never privileged.
    sc = c.get("securityContext", {})
    caps = sc.get("capabilities", {})
    check(caps.get("drop") == ["ALL"], "drop ALL")
    added = set(caps.get("add", []))
    check(added <= ALLOWED_CAPS, "only %s added, got %s" % (sorted(ALLOWED_CAPS), sorted(added)))
    check("NET_ADMIN" in added and ("BPF" in added or "SYS_ADMIN" in added),
          "NET_ADMIN and BPF (or SYS_ADMIN) present")
    check(not sc.get("privileged"), "not privileged")
    check(sc.get("allowPrivilegeEscalation") is False, "no privilege escalation")
    text = open(os.path.join(DEPLOY, "daemonset.yaml")).read()
    for cap in added:
        check(re.search(r"#\s*%s:" % cap, text), "capability %s justified in a comment" % cap)
    # The grace period covers a drain, the readiness probe is /readyz on the metrics port.
    drain = int(arg(c, "--drain-seconds") or 0)
    check(pod.get("terminationGracePeriodSeconds", 30) >= drain,
          "terminationGracePeriodSeconds >= --drain-seconds (%d)" % drain)
    rp = c.get("readinessProbe", {}).get("httpGet", {})
    check(rp.get("path") == "/readyz", "readiness probe on /readyz")
    maddr = arg(c, "--metrics-addr")
    check(maddr, "--metrics-addr set (the probe needs it)")
    if maddr:
        mport = int(maddr.rsplit(":", 1)[1])
        port = rp.get("port")
        if isinstance(port, str):
            port = next((p["containerPort"] for p in c.get("ports", []) if p["name"] == port), None)
        check(port == mport, "probe port %s is --metrics-addr's %d" % (port, mport))
    sa = one("ServiceAccount")
    check(pod.get("serviceAccountName") == sa["metadata"]["name"], "runs as the ServiceAccount")
    check(ds["metadata"].get("namespace") == sa["metadata"].get("namespace"), "same namespace")
    check(any(t.get("operator") == "Exists" and not t.get("key") for t in pod.get("tolerations", [])),
          "tolerates every taint (it must run on draining nodes to withdraw them)")


def test_rbac_exact(check):
    kinds = [d.get("kind") for _, d in docs()]
    check(kinds.count("ClusterRole") == 1 and "Role" not in kinds, "one ClusterRole, no Role")
    check("RoleBinding" not in kinds and kinds.count("ClusterRoleBinding") == 1,
          "one ClusterRoleBinding, no RoleBinding")
    role = one("ClusterRole")
    check(not role.get("aggregationRule"), "no aggregation")
    got = {}
    for r in role.get("rules", []):
        check(not r.get("nonResourceURLs"), "no nonResourceURLs")
        check(not r.get("resourceNames"), "no resourceNames")
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                got.setdefault((g, res), set()).update(r.get("verbs", []))
    check(got == WANT_RULES, "rules are exactly %s, got %s" % (WANT_RULES, got))
    check(all("*" not in g and "*" not in r and "*" not in v
              for (g, r), vs in got.items() for v in vs), "no wildcards")
    b = one("ClusterRoleBinding")
    sa = one("ServiceAccount")
    check(b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": role["metadata"]["name"]}, "binds the ClusterRole")
    check(b.get("subjects") == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                 "namespace": sa["metadata"]["namespace"]}],
          "to the ServiceAccount only")
    # And the client asks for nothing the role does not grant.
    src = open(os.path.join(ROOT, "user", "kube.c")).read()
    paths = set(re.findall(r'"(/apis?/[^"]+)"', src))
    used = set()
    for p in paths:
        parts = p.strip("/").split("/")
        used.add(("" if parts[0] == "api" else parts[1], parts[-1]))
    check(used and used <= set(WANT_RULES), "user/kube.c uses %s, all granted" % sorted(used))


def needed_libs(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    direct = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                            subprocess.run(["readelf", "-d", binary], capture_output=True,
                                           text=True, check=True).stdout))
    paths = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m and m.group(1) in direct:
            paths[m.group(1)] = m.group(2)
    return direct, paths


def test_dockerfile(check):
    text = open(os.path.join(DEPLOY, "Dockerfile")).read()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    check(len(froms) >= 2, "multi-stage")
    check(all(re.match(r"debian:(12|bookworm)\b", f) for f in froms), "Debian 12 stages: %s" % froms)
    stages = re.split(r"^FROM\s", text, flags=re.M)[1:]
    runtime = stages[-1]
    check("COPY --from=" in runtime and "xvipd" in runtime and "xvipctl" in runtime,
          "the runtime stage gets xvipd and xvipctl from the build stage")
    check("make" in stages[0], "built with make")
    pkgs = set(re.findall(r"\b(lib[a-z0-9.+-]+|zlib1g|ca-certificates)\b", runtime))
    if not shutil.which("dpkg") or not shutil.which("ldd") or not shutil.which("readelf"):
        raise Skip("dpkg, ldd or readelf missing: library check not run")
    # Build stage: the -dev package of every library the Makefile links (-lX -> libX.so).
    mk = open(os.path.join(ROOT, "Makefile")).read()
    build_pkgs = set(re.findall(r"\b([a-z0-9][a-z0-9.+-]+)\b", stages[0]))
    for lib in sorted(set(re.findall(r"-l([a-z0-9_.+-]+)", " ".join(
            re.findall(r"^LDLIBS\s*\+?=(.*)$", mk, re.M))))):
        so = subprocess.run(["gcc", "-print-file-name=lib%s.so" % lib], capture_output=True,
                            text=True).stdout.strip()
        # The unversioned libX.so symlink is what the -dev package owns.
        r = subprocess.run(["dpkg", "-S", os.path.normpath(so)], capture_output=True, text=True)
        if r.returncode:
            r = subprocess.run(["dpkg", "-S", "*/lib%s.so" % lib], capture_output=True,
                               text=True)
        dev = r.stdout.split(":")[0].strip() if not r.returncode else ""
        check(dev and (dev in build_pkgs or dev.startswith("libc6")),
              "build stage installs %s (for -l%s)" % (dev or "?", lib))
    for b in ("xvipd", "xvipctl"):
        path = os.path.join(BUILD, b)
        if not check(os.access(path, os.X_OK), "%s not built (make)" % path):
            continue
        direct, paths = needed_libs(path)
        check(len(direct) >= 5, "%s: its libraries found (%s)" % (b, sorted(direct)))
        for so in sorted(direct):
            p = paths.get(so)
            if not check(p, "%s: %s resolved" % (b, so)):
                continue
            r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
            if r.returncode:
                r = subprocess.run(["dpkg", "-S", os.path.realpath(p)], capture_output=True,
                                   text=True)
            pkg = r.stdout.split(":")[0].strip()
            check(pkg == "libc6" or pkg in pkgs,
                  "%s needs %s from %s, not installed in the runtime stage" % (b, so, pkg or "?"))
    check("libxdp1" in pkgs, "libxdp1 (ships xdp-dispatcher.o)")


def vtysh_check(path):
    return subprocess.run(["vtysh", "-C", "-f", path], capture_output=True, text=True,
                          timeout=30)


def test_frr_conf(check):
    path = os.path.join(DEPLOY, "frr.conf")
    text = open(path).read()
    ds = one("DaemonSet")
    c = container(ds)
    ifaces = args(c, "--iface")
    cidr = arg(c, "--vip-cidr")
    check(re.search(r"^\s*bgp bestpath as-path multipath-relax", text, re.M), "multipath-relax")
    for i in ifaces:
        check(re.search(r"^\s*neighbor %s interface" % re.escape(i), text, re.M),
              "BGP unnumbered on %s" % i)
    check(re.search(r"^\s*neighbor \S+ bfd", text, re.M), "BFD on the sessions")
    m = re.search(r"^\s*redistribute connected route-map (\S+)", text, re.M)
    check(m, "redistribute connected through a route-map")
    if m:
        rm = m.group(1)
        entries = re.findall(r"^route-map %s (permit|deny) (\d+)\n((?: .*\n)*)" % re.escape(rm),
                             text, re.M)
        check(entries and entries[-1][0] == "deny" and
              not [l for l in entries[-1][2].splitlines() if "match" in l],
              "%s ends with a deny of everything else" % rm)
        lists = [re.search(r"match ip address prefix-list (\S+)", e[2]).group(1)
                 for e in entries if e[0] == "permit"]
        allowed = []
        for pl in lists:
            allowed += re.findall(r"^ip prefix-list %s seq \d+ permit (\S+(?: [gl]e \d+)*)" %
                                  re.escape(pl), text, re.M)
        check("%s ge 32" % cidr in allowed, "the VIP range %s (host routes) is let through" % cidr)
        other = [a for a in allowed if not a.startswith(cidr)]
        check(all(a.endswith("/32") for a in other),
              "besides VIPs only a /32 (the loopback): %s" % other)
    if not shutil.which("vtysh"):
        raise Skip("vtysh missing: FRR syntax not checked")
    r = vtysh_check(path)
    check(r.returncode == 0, "vtysh --dryrun accepts it: %s" % (r.stdout + r.stderr).strip())
    # Control: a typo is caught, so the acceptance above means something.
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write(text.replace("bgp bestpath as-path multipath-relax",
                             "bgp bestpath as-path multipath-relaxed"))
    try:
        check(vtysh_check(f.name).returncode != 0, "control: vtysh rejects a broken copy")
    finally:
        os.unlink(f.name)


for t in (test_manifests_parse, test_daemonset, test_rbac_exact, test_dockerfile, test_frr_conf):
    test(t)
sys.exit(0 if all(results) else 1)
