#!/usr/bin/env python3
"""Services and EndpointSlices at scale for `make bench`, shaped as
`kubectl get services,endpointslices -A -o json` prints them.

  bench_services.py --services N [--endpoints E] [--pods P] [--parked LIST]
                    [--moved LIST] [--not-ready LIST] [--node node1] [--object slice:I]

Service bench/svc-NNNNN (I = 0..N-1) has the cluster IP 198.19.I/256.I%256
and port 80/TCP -> targetPort "http" (8080); its EndpointSlice lists E
endpoints on --node, pod addresses taken in turn from a pool of P pods in
198.18.20.0/22 (a node's pods back many Services). --parked: these services'
endpoints are neither ready nor serving (no table, VIP off lo). --moved: these
services' first endpoint is another pod (a pod replaced by a new one).
--not-ready: these services' first endpoint is not ready (still serving).
--object slice:I prints only service I's EndpointSlice, one line (for the API
stand-in's /apply)."""
import argparse
import json
import sys


def ints(s):
    return {int(x) for x in s.split(",") if x}


ap = argparse.ArgumentParser()
ap.add_argument("--services", type=int, required=True)
ap.add_argument("--endpoints", type=int, default=10)
ap.add_argument("--pods", type=int, default=250)
ap.add_argument("--parked", type=ints, default=set())
ap.add_argument("--moved", type=ints, default=set())
ap.add_argument("--not-ready", type=ints, default=set())
ap.add_argument("--node", default="node1")
ap.add_argument("--object")
ap.add_argument("--compact", action="store_true", help="no indentation")
a = ap.parse_args()
if a.services > 65535 or a.pods > 1000 or a.endpoints > 100:
    sys.exit("bench_services.py: at most 65535 services, 1000 pods, 100 endpoints per slice")


def pod_ip(n):
    n = n % a.pods + 1
    return "198.18.%d.%d" % (20 + n // 256, n % 256)


def meta(name, i, extra=None):
    m = {
        "creationTimestamp": "2026-11-26T06:00:00Z",
        "name": name,
        "namespace": "bench",
        "resourceVersion": str(100000 + i),
        "uid": "5b1c9a4e-6a0a-4f5e-9d0e-%012d" % i,
    }
    if extra:
        m.update(extra)
    return m


def service(i):
    ip = "198.19.%d.%d" % (i // 256, i % 256)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta("svc-%05d" % i, i),
        "spec": {
            "clusterIP": ip,
            "clusterIPs": [ip],
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}],
            "selector": {"app": "svc-%05d" % i},
            "sessionAffinity": "None",
            "type": "ClusterIP",
        },
        "status": {"loadBalancer": {}},
    }


def endpoint_slice(i):
    parked = i in a.parked
    eps = []
    for k in range(a.endpoints):
        n = i * a.endpoints + k
        if k == 0 and i in a.moved:
            n += a.pods // 2 or 1
        ready = not parked and not (k == 0 and i in a.not_ready)
        eps.append({
            "addresses": [pod_ip(n)],
            "conditions": {"ready": ready, "serving": not parked, "terminating": False},
            "nodeName": a.node,
            "targetRef": {"kind": "Pod", "name": "svc-%05d-%d" % (i, k), "namespace": "bench",
                          "uid": "0a7d3c52-2222-4c1e-8a55-%012d" % n},
            "zone": "dc1-rack1",
        })
    name = "svc-%05d" % i
    return {
        "addressType": "IPv4",
        "apiVersion": "discovery.k8s.io/v1",
        "endpoints": eps,
        "kind": "EndpointSlice",
        "metadata": meta(name + "-x1b2c", i, {
            "generateName": name + "-",
            "labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                       "kubernetes.io/service-name": name},
            "ownerReferences": [{"apiVersion": "v1", "blockOwnerDeletion": True, "controller": True,
                                 "kind": "Service", "name": name,
                                 "uid": "5b1c9a4e-6a0a-4f5e-9d0e-%012d" % i}],
        }),
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


if a.object:
    kind, _, idx = a.object.partition(":")
    obj = endpoint_slice(int(idx)) if kind == "slice" else service(int(idx))
    print(json.dumps(obj, separators=(",", ":")))
    sys.exit(0)

items = [service(i) for i in range(a.services)] + [endpoint_slice(i) for i in range(a.services)]
json.dump({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}},
          sys.stdout, indent=None if a.compact else 4)
sys.stdout.write("\n")
