#!/usr/bin/env python3
"""Write the fabric lab's Services and EndpointSlices as `kubectl get
services,endpointslices -A -o json` prints them: one file for every node.

  fabric_services.py [--nodes 3] [--pods 2] [--set POD=STATE ...] [--ep SVC=POD,POD ...]

Pods are named nNpM (pod M on node N, address 198.18.20.<10N+M>).
Services (all in namespace default):
  web  ClusterIP 198.18.21.1, 80/TCP -> named port "http" (8080), 53/UDP -> 5353;
       endpoints: every pod
  api  LoadBalancer, clusterIP 198.18.21.2, ingress 198.18.21.102, 80/TCP -> 8080;
       endpoints: the first pod of node1 and of node2
  jobs ClusterIP 198.18.21.3, 80/TCP -> 8080; endpoints: the pods of the last node
--set POD=ready|not-ready|terminating|gone changes one pod's endpoint conditions
(gone: the endpoint is removed from every slice); --ep SVC=POD,... replaces a
service's endpoint list (empty: none)."""
import argparse
import json
import zlib

ap = argparse.ArgumentParser()
ap.add_argument("--nodes", type=int, default=3)
ap.add_argument("--pods", type=int, default=2)
ap.add_argument("--set", action="append", default=[], metavar="POD=STATE")
ap.add_argument("--ep", action="append", default=[], metavar="SVC=POD,POD")
a = ap.parse_args()

pods = ["n%dp%d" % (n, p) for n in range(1, a.nodes + 1) for p in range(1, a.pods + 1)]
members = {
    "web": list(pods),
    "api": ["n1p1", "n2p1"],
    "jobs": ["n%dp%d" % (a.nodes, p) for p in range(1, a.pods + 1)],
}
for spec in a.ep:
    svc, _, lst = spec.partition("=")
    members[svc] = [p for p in lst.split(",") if p]
state = {}
for spec in a.set:
    pod, _, st = spec.partition("=")
    if st not in ("ready", "not-ready", "terminating", "gone"):
        ap.error("--set %s: state must be ready, not-ready, terminating or gone" % spec)
    state[pod] = st


def uid(name):
    return "6d1c9a4e-6a0a-4f5e-9d0e-%012d" % zlib.crc32(name.encode())


def meta(name, extra=None):
    m = {"creationTimestamp": "2026-11-26T06:00:00Z", "name": name, "namespace": "default",
         "resourceVersion": str(1000 + zlib.crc32(name.encode()) % 9000), "uid": uid(name)}
    m.update(extra or {})
    return m


def service(name, vip, ports, lb_ip=None):
    svc = {
        "apiVersion": "v1", "kind": "Service", "metadata": meta(name),
        "spec": {
            "clusterIP": vip, "clusterIPs": [vip], "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "ports": ports,
            "selector": {"app": name}, "sessionAffinity": "None",
            "type": "LoadBalancer" if lb_ip else "ClusterIP",
        },
        "status": {"loadBalancer": {"ingress": [{"ip": lb_ip, "ipMode": "VIP"}]} if lb_ip else {}},
    }
    if lb_ip:
        svc["spec"].update({"allocateLoadBalancerNodePorts": False,
                            "externalTrafficPolicy": "Local"})
    return svc


def endpoint(pod):
    st = state.get(pod, "ready")
    n, p = int(pod[1:pod.index("p")]), int(pod[pod.index("p") + 1:])
    return {
        "addresses": ["198.18.20.%d" % (10 * n + p)],
        "conditions": {"ready": st == "ready", "serving": st in ("ready", "terminating"),
                       "terminating": st == "terminating"},
        "nodeName": "node%d" % n,
        "targetRef": {"kind": "Pod", "name": "%s-%s" % ("web", pod), "namespace": "default",
                      "uid": uid("pod-" + pod)},
        "zone": "dc1-rack%d" % ((n - 1) // 2 + 1),
    }


def slices(svc_name, ports):
    eps = [endpoint(p) for p in members.get(svc_name, []) if state.get(p) != "gone"]
    out = []
    # Like the controller: slices of up to 100 endpoints; two here so several slices per
    # Service are exercised.
    for i in range(0, max(len(eps), 1), 2):
        name = "%s-%05x" % (svc_name, zlib.crc32(("%s%d" % (svc_name, i)).encode()) & 0xfffff)
        out.append({
            "addressType": "IPv4", "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "endpoints": eps[i:i + 2],
            "metadata": meta(name, {
                "generateName": svc_name + "-",
                "labels": {"endpointslice.kubernetes.io/managed-by":
                           "endpointslice-controller.k8s.io",
                           "kubernetes.io/service-name": svc_name},
                "ownerReferences": [{"apiVersion": "v1", "blockOwnerDeletion": True,
                                     "controller": True, "kind": "Service", "name": svc_name,
                                     "uid": uid(svc_name)}],
            }),
            "ports": ports,
        })
    return out


items = [
    service("web", "198.18.21.1", [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"},
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 5353}]),
    service("api", "198.18.21.2", [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}], "198.18.21.102"),
    service("jobs", "198.18.21.3", [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]),
]
items += slices("web", [{"name": "http", "port": 8080, "protocol": "TCP"},
                        {"name": "dns", "port": 5353, "protocol": "UDP"}])
items += slices("api", [{"name": "http", "port": 8080, "protocol": "TCP"}])
items += slices("jobs", [{"name": "http", "port": 8080, "protocol": "TCP"}])
print(json.dumps({"apiVersion": "v1", "items": items, "kind": "List",
                  "metadata": {"resourceVersion": ""}}, indent=4))
