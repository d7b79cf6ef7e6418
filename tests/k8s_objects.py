#!/usr/bin/env python3
"""Real-shaped Kubernetes objects for the API stand-in, as `kubectl get -o json`
prints them. Service default/web and its slices come from scripts/lab_services.py
(the same objects the services-file tests use).

  k8s_objects.py initial                 a List: web, kube-system/kube-dns,
                                         default/kubernetes, Node node1
  k8s_objects.py web [lab_services args] web's Service and slices, one per line
  k8s_objects.py api [--vip V]           Service default/api (port 80 -> 8080 on
                                         pods 1 and 2), its slice, one per line
  k8s_objects.py node [--unschedulable] [--exclude-label] [--taint KEY]
"""
import argparse
import copy
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lab_services(args):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "lab_services.py")] +
                         args, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["items"]


def cluster_service(ns, name, ip, ports, labels=None):
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"creationTimestamp": "2026-11-20T08:00:00Z", "labels": labels or {},
                     "name": name, "namespace": ns, "resourceVersion": "1",
                     "uid": "5f1b2c3d-0000-4000-8000-%012d" % (sum(map(ord, ns + name)))},
        "spec": {"clusterIP": ip, "clusterIPs": [ip], "internalTrafficPolicy": "Cluster",
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "ports": ports,
                 "sessionAffinity": "None", "type": "ClusterIP"},
        "status": {"loadBalancer": {}},
    }


def node(unschedulable=False, exclude=False, taints=()):
    labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": "node1",
              "kubernetes.io/os": "linux", "topology.kubernetes.io/zone": "dc1-rack1"}
    if exclude:
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    n = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
            "creationTimestamp": "2026-11-20T08:00:00Z", "labels": labels, "name": "node1",
            "resourceVersion": "1", "uid": "a3c1e0f2-7b7d-4c55-9d1e-000000000001"},
        "spec": {"podCIDR": "198.18.20.0/24", "podCIDRs": ["198.18.20.0/24"]},
        "status": {
            "addresses": [{"address": "198.18.19.1", "type": "InternalIP"},
                          {"address": "node1", "type": "Hostname"}],
            "conditions": [{"lastHeartbeatTime": "2026-11-26T06:00:00Z",
                            "lastTransitionTime": "2026-11-20T08:00:00Z",
                            "message": "kubelet is posting ready status", "reason": "KubeletReady",
                            "status": "True", "type": "Ready"}],
            "nodeInfo": {"architecture": "amd64", "containerRuntimeVersion": "containerd://1.7.24",
                         "kernelVersion": "6.1.0-28-amd64", "kubeProxyVersion": "v1.31.4",
                         "kubeletVersion": "v1.31.4", "operatingSystem": "linux",
                         "osImage": "Debian GNU/Linux 12 (bookworm)"},
        },
    }
    if unschedulable:
        n["spec"]["unschedulable"] = True
    if taints:
        n["spec"]["taints"] = [{"effect": "NoSchedule", "key": t,
                                "timeAdded": "2026-11-26T06:00:00Z"} for t in taints]
    return n


def api(vip):
    svc, sl_a, _ = lab_services(["--vip", vip, "--pods", "1,2"])
    out = []
    for o in (svc, sl_a):
        o = copy.deepcopy(o)
        m = o["metadata"]
        m["name"] = m["name"].replace("web", "api")
        m["uid"] = m["uid"][:-4] + "a91f"
        if o["kind"] == "Service":
            o["spec"]["ports"] = [o["spec"]["ports"][0]]
            o["spec"]["selector"] = {"app": "api"}
        else:
            m["labels"]["kubernetes.io/service-name"] = "api"
            m["generateName"] = "api-"
            m["ownerReferences"][0]["name"] = "api"
            o["ports"] = [o["ports"][0]]
        out.append(o)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["initial", "web", "api", "node"])
    ap.add_argument("--vip", default="198.18.21.2")
    ap.add_argument("--unschedulable", action="store_true")
    ap.add_argument("--exclude-label", action="store_true")
    ap.add_argument("--taint", action="append", default=[])
    a, rest = ap.parse_known_args()
    if a.what == "initial":
        items = lab_services(rest) + [
            cluster_service("kube-system", "kube-dns", "10.96.0.10",
                            [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                             {"name": "dns-tcp", "port": 53, "protocol": "TCP",
                              "targetPort": 53}], {"k8s-app": "kube-dns"}),
            cluster_service("default", "kubernetes", "10.96.0.1",
                            [{"name": "https", "port": 443, "protocol": "TCP",
                              "targetPort": 6443}], {"component": "apiserver"}),
            node()]
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items,
                          "metadata": {"resourceVersion": ""}}, indent=2))
        return
    if a.what == "web":
        objs = lab_services(rest)
    elif a.what == "api":
        objs = api(a.vip)
    else:
        objs = [node(a.unschedulable, a.exclude_label, a.taint)]
    for o in objs:
        print(json.dumps(o))


if __name__ == "__main__":
    main()
