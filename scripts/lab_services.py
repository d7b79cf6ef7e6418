#!/usr/bin/env python3
"""Write the lab's Services and EndpointSlices as `kubectl get
services,endpointslices -A -o json` prints them.

  lab_services.py [--pods 1,2,3] [--not-ready 2] [--terminating 3] [--node node1]
                  [--echo-port 7007]

Service default/web: VIP 198.18.21.1, port 80/TCP -> named targetPort "http"
(8080), port 53/UDP -> 5353; with --echo-port P also port 7/TCP and 7/UDP ->
named targetPorts "echo" and "echo-udp" (P). One EndpointSlice per two pods
(several slices per Service, as large Services get), plus an endpoint on node2
that is never local here."""
import argparse
import json
import zlib

ap = argparse.ArgumentParser()
ap.add_argument("--pods", default="1,2,3")
ap.add_argument("--not-ready", default="")
ap.add_argument("--terminating", default="")
ap.add_argument("--node", default="node1")
ap.add_argument("--vip", default="198.18.21.1")
ap.add_argument("--echo-port", type=int, default=0)
ap.add_argument("--bulk", action="store_true", help="add port 81/TCP -> bulk (8081)")
ap.add_argument("--solo", action="store_true",
                help="add Service solo: 198.18.21.2:80 -> pod 1 only")
ap.add_argument("--affinity", type=int, default=0, help="sessionAffinity ClientIP timeout")
ap.add_argument("--lb-ip", default="", help="status.loadBalancer.ingress IP of web")
ap.add_argument("--source-ranges", default="", help="loadBalancerSourceRanges of web, CSV")
ap.add_argument("--dual", action="store_true",
                help="web is dual-stack: also 2001:db8:21::1 with IPv6 EndpointSlices")
a = ap.parse_args()

pods = [int(p) for p in a.pods.split(",") if p]
not_ready = {int(p) for p in a.not_ready.split(",") if p}
terminating = {int(p) for p in a.terminating.split(",") if p}


def meta(name, kind_extra=None):
    m = {
        "creationTimestamp": "2026-11-26T06:00:00Z",
        "name": name,
        "namespace": "default",
        "resourceVersion": "1001",
        "uid": "6d1c9a4e-6a0a-4f5e-9d0e-%012d" % (zlib.crc32(name.encode())),
    }
    if kind_extra:
        m.update(kind_extra)
    return m


svc = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": meta("web"),
    "spec": {
        "clusterIP": a.vip,
        "clusterIPs": [a.vip],
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": [
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"},
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 5353},
        ],
        "selector": {"app": "web"},
        "sessionAffinity": "None",
        "type": "ClusterIP",
    },
    "status": {"loadBalancer": {}},
}
if a.bulk:
    svc["spec"]["ports"].append({"name": "bulk", "port": 81, "protocol": "TCP",
                                 "targetPort": 8081})
if a.affinity:
    svc["spec"]["sessionAffinity"] = "ClientIP"
    svc["spec"]["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": a.affinity}}
if a.lb_ip:
    svc["spec"]["type"] = "LoadBalancer"
    svc["status"]["loadBalancer"] = {"ingress": [{"ip": a.lb_ip, "ipMode": "VIP"}]}
if a.source_ranges:
    svc["spec"]["loadBalancerSourceRanges"] = a.source_ranges.split(",")
slice_ports = [{"name": "http", "port": 8080, "protocol": "TCP"},
               {"name": "dns", "port": 5353, "protocol": "UDP"}]
if a.bulk:
    slice_ports.append({"name": "bulk", "port": 8081, "protocol": "TCP"})
if a.echo_port:
    svc["spec"]["ports"] += [
        {"name": "echo", "port": 7, "protocol": "TCP", "targetPort": "echo"},
        {"name": "echo-udp", "port": 7, "protocol": "UDP", "targetPort": "echo-udp"},
    ]
    slice_ports += [{"name": "echo", "port": a.echo_port, "protocol": "TCP"},
                    {"name": "echo-udp", "port": a.echo_port, "protocol": "UDP"}]


def endpoint(i, node):
    ready = i not in not_ready and i not in terminating
    return {
        "addresses": ["198.18.20.%d" % (10 + i)],
        "conditions": {"ready": ready, "serving": i not in not_ready,
                       "terminating": i in terminating},
        "nodeName": node,
        "targetRef": {"kind": "Pod", "name": "web-%d" % i, "namespace": "default",
                      "uid": "0a7d3c52-1111-4c1e-8a55-%012d" % i},
        "zone": "dc1-rack1",
    }


eps = [endpoint(i, a.node) for i in pods]
eps.append(dict(endpoint(9, "node2"), addresses=["198.18.20.99"]))
slices = []
for n in range(0, len(eps), 2):
    slices.append({
        "addressType": "IPv4",
        "apiVersion": "discovery.k8s.io/v1",
        "endpoints": eps[n:n + 2],
        "kind": "EndpointSlice",
        "metadata": meta("web-%c" % (ord("a") + n // 2), {
            "generateName": "web-",
            "labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                       "kubernetes.io/service-name": "web"},
            "ownerReferences": [{"apiVersion": "v1", "blockOwnerDeletion": True,
                                 "controller": True, "kind": "Service", "name": "web",
                                 "uid": svc["metadata"]["uid"]}],
        }),
        "ports": slice_ports,
    })

if a.dual:
    svc["spec"]["clusterIPs"].append("2001:db8:21::1")
    svc["spec"]["ipFamilies"] = ["IPv4", "IPv6"]
    svc["spec"]["ipFamilyPolicy"] = "RequireDualStack"
    eps6 = []
    for e in eps:
        e6 = json.loads(json.dumps(e))
        last = int(e["addresses"][0].rsplit(".", 1)[1])
        e6["addresses"] = ["2001:db8:20::%d" % last]
        eps6.append(e6)
    slices.append({
        "addressType": "IPv6", "apiVersion": "discovery.k8s.io/v1", "endpoints": eps6,
        "kind": "EndpointSlice",
        "metadata": meta("web-v6", {
            "generateName": "web-",
            "labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                       "kubernetes.io/service-name": "web"}}),
        "ports": slice_ports,
    })

items = [svc] + slices
if a.solo:
    solo = json.loads(json.dumps(svc))
    solo["metadata"] = meta("solo")
    solo["spec"]["clusterIP"] = "198.18.21.2"
    solo["spec"]["clusterIPs"] = ["198.18.21.2"]
    solo["spec"]["ports"] = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]
    solo["spec"]["type"] = "ClusterIP"
    for k in ("sessionAffinity", "sessionAffinityConfig", "loadBalancerSourceRanges"):
        solo["spec"].pop(k, None)
    solo["status"] = {"loadBalancer": {}}
    items.append(solo)
    items.append({
        "addressType": "IPv4", "apiVersion": "discovery.k8s.io/v1",
        "endpoints": [endpoint(1, a.node)], "kind": "EndpointSlice",
        "metadata": meta("solo-a", {
            "generateName": "solo-",
            "labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                       "kubernetes.io/service-name": "solo"}}),
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    })

print(json.dumps({"apiVersion": "v1", "items": items, "kind": "List",
                  "metadata": {"resourceVersion": ""}}, indent=4))
