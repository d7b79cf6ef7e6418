#!/usr/bin/env python3
"""Merge the benchmark outputs into bench/results.json, write bench/results.md
(the tables the README carries) and, when gnuplot is installed, bench/results.png.

  bench_report.py --out DIR [--dp F] [--veth F] [--cp F] [--machine F] [--no-plot]
  bench_report.py --out DIR --from DIR/results.json     (tables and plot again)

Each input is what tests/bench_dp, tests/bench_veth and tests/bench_cp print;
--machine is a JSON object describing the machine and the run (scripts/bench.sh
writes it). Missing inputs leave their section out."""
import argparse
import json
import os
import shutil
import subprocess
import sys

TARGETS = {
    "established_ns": 45,
    "new_flow_ns": 90,
    "non_vip_above_floor_ns": 15,
    "xvip_over_nftables": 10,
    "full_sync_s": 2,
    "change_p99_ms": 10,
}
SCENARIOS = ["floor", "non_vip", "established", "new_flow", "udp", "ipv6"]
LABELS = {
    "floor": "floor (parse and pass)",
    "non_vip": "non-VIP traffic",
    "established": "established flow (TCP, conntrack hit)",
    "new_flow": "new flow (TCP SYN, conntrack insert)",
    "udp": "UDP (conntrack hit)",
    "ipv6": "IPv6 (TCP, conntrack hit)",
}


def load(path):
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def cfg_name(c):
    svcs = "1 service" if c["service_ports"] <= 4 else "%d services" % c["service_ports"]
    ct = "1M conntrack" if c["conntrack_prefilled"] >= 1000000 else (
        "%d conntrack" % c["conntrack_prefilled"] if c["conntrack_prefilled"] else "empty conntrack")
    return "%s, %s" % (svcs, ct)


def verdict(ok):
    return "met" if ok else "**missed**"


def targets(dp, veth, cp):
    out = []
    if dp:
        big = max(dp["configs"], key=lambda c: (c["service_ports"], c["conntrack_prefilled"]))
        worst = lambda s: max(c["scenarios"][s]["ns"] for c in dp["configs"])
        est = worst("established")
        new = worst("new_flow")
        above = max(c["scenarios"]["non_vip"]["ns"] - c["scenarios"]["floor"]["ns"]
                    for c in dp["configs"])
        out.append(("established flow", "<= %d ns" % TARGETS["established_ns"],
                    "%.1f ns (worst of the 4 configurations)" % est,
                    est <= TARGETS["established_ns"]))
        out.append(("new flow", "<= %d ns" % TARGETS["new_flow_ns"],
                    "%.1f ns (worst of the 4 configurations)" % new,
                    new <= TARGETS["new_flow_ns"]))
        out.append(("non-VIP above the floor", "<= %d ns" % TARGETS["non_vip_above_floor_ns"],
                    "%.1f ns" % above, above <= TARGETS["non_vip_above_floor_ns"]))
        del big
    if veth and veth.get("paths", {}).get("nftables"):
        for proto in ("udp", "tcp"):
            x = veth["paths"]["xvip"][proto]["mpps_median"]
            n = veth["paths"]["nftables"][proto]["mpps_median"]
            r = x / n if n else 0
            out.append(("Mpps vs nftables (%s)" % proto, ">= %dx" % TARGETS["xvip_over_nftables"],
                        "%.2fx (%.3f vs %.3f Mpps)" % (r, x, n), r >= TARGETS["xvip_over_nftables"]))
    if cp and cp.get("full_sync", {}).get("applied_s") is not None:
        fs = cp["full_sync"]
        out.append(("full sync of %d Services" % fs["services"], "<= %d s" % TARGETS["full_sync_s"],
                    "%.2f s" % fs["applied_s"], fs["applied_s"] <= TARGETS["full_sync_s"]))
    if cp and cp.get("changes", {}).get("endpoint_change_to_map"):
        ch = cp["changes"]["endpoint_change_to_map"]
        out.append(("one endpoint change, p99 (file, %d Services)" % cp["full_sync"]["services"],
                    "<= %d ms" % TARGETS["change_p99_ms"], "%.1f ms" % ch["p99_ms"],
                    ch["p99_ms"] <= TARGETS["change_p99_ms"]))
    small = (cp or {}).get("changes_100_services", {}).get("endpoint_change_to_map")
    if small and small.get("n"):
        out.append(("one endpoint change, p99 (file, 100 Services)",
                    "<= %d ms" % TARGETS["change_p99_ms"], "%.1f ms" % small["p99_ms"],
                    small["p99_ms"] <= TARGETS["change_p99_ms"]))
    api = (cp or {}).get("api", {})
    if api.get("measured") and api.get("endpoint_change_to_map", {}).get("n"):
        a = api["endpoint_change_to_map"]
        out.append(("one endpoint change, p99 (API, %d Services)" % api["services"],
                    "<= %d ms" % TARGETS["change_p99_ms"], "%.1f ms" % a["p99_ms"],
                    a["p99_ms"] <= TARGETS["change_p99_ms"]))
    return [{"what": w, "target": t, "measured": m, "met": ok} for w, t, m, ok in out]


def markdown(res):
    L = []
    m = res.get("machine", {})
    if m:
        L.append("Machine: %s, %s vCPUs, %s GiB, kernel %s (%s); clocksource %s. "
                 "Load average before the run: %s. Run %s at commit %s." % (
                     m.get("cpu", "?"), m.get("cpus", "?"), m.get("mem_gib", "?"),
                     m.get("kernel", "?"), m.get("virt", "?"), m.get("clocksource", "?"),
                     m.get("loadavg_before", "?"), m.get("date", "?"), m.get("commit", "?")))
        L.append("")
    dp = res.get("dataplane")
    if dp:
        cfgs = dp["configs"]
        L.append("**Per packet, XDP program (ns, fixed test-run overhead subtracted)**")
        L.append("")
        L.append("| scenario | " + " | ".join(cfg_name(c) for c in cfgs) + " |")
        L.append("|---|" + "---:|" * len(cfgs))
        for s in SCENARIOS:
            L.append("| %s | " % LABELS[s] + " | ".join(
                "%.1f" % c["scenarios"][s]["ns"] for c in cfgs) + " |")
        L.append("| *subtracted overhead (XDP_PASS-only program)* | " + " | ".join(
            "%.1f" % c["overhead_ns"] for c in cfgs) + " |")
        L.append("")
        mc = cfgs[0].get("method_check")
        if mc:
            n, i = mc["naive_repeat"], mc["idempotent_repeat"]
            L.append("Method check: a naive repeat=%d run of one established packet moved "
                     "lb_ct by %d and pass by %d (every repeat after the first saw the DNATed "
                     "packet); with a backend equal to its own VIP:port the same run moved lb_ct "
                     "by %d (output = input) and gave %d ns per packet, against %.1f ns for the "
                     "same packet measured as above (repeat=1, overhead subtracted)." % (
                         n["repeat"], n["lb_ct_delta"], n["pass_delta"], i["lb_ct_delta"],
                         i["established_ns"], i.get("established_ns_repeat1", float("nan"))))
            L.append("")
        parts = cfgs[0].get("parts_ns")
        if parts:
            L.append("**Building blocks (ns each, repeat=%d, %d-entry maps)**" % (
                parts["repeat"], parts["map_size"]))
            L.append("")
            L.append("| bpf_ktime_get_ns | ktime_get_coarse_ns | jiffies64 | flow hash | LRU lookup (hit) "
                     "| LRU insert | LRU insert, full map | per-CPU LRU insert | per-CPU LRU insert, full "
                     "| hash insert |")
            L.append("|" + "---:|" * 10)
            L.append("| " + " | ".join("%.0f" % max(parts[k], 0) for k in (
                "ktime_get_ns", "ktime_get_coarse_ns", "jiffies64", "flow_hash", "lru_lookup_hit",
                "lru_insert_empty", "lru_insert_full", "lru_pcpu_insert_empty",
                "lru_pcpu_insert_full", "hash_insert_empty")) + " |")
            L.append("")
    v = res.get("throughput")
    if v and v.get("paths"):
        L.append("**Throughput through veth, one core (Mpps at the sink, median of %d runs of "
                 "%d frames, %d-byte frames, %d flows, batch %d, NAPI in softirq on the "
                 "generator's CPU)**" % (v["rounds"], v["frames_per_run"], v["frame_bytes"] + 4,
                                         v["flows"], v["batch"]))
        L.append("")
        L.append("| path | UDP Mpps | TCP Mpps | UDP ns/packet without the generator | TCP ns/packet without the generator |")
        L.append("|---|---:|---:|---:|---:|")
        for p, d in v["paths"].items():
            L.append("| %s: %s | %.3f | %.3f | %s | %s |" % (
                p, d["what"], d["udp"]["mpps_median"], d["tcp"]["mpps_median"],
                "%.0f" % d["udp"]["path_ns_per_packet"] if "path_ns_per_packet" in d["udp"] else "-",
                "%.0f" % d["tcp"]["path_ns_per_packet"] if "path_ns_per_packet" in d["tcp"] else "-"))
        L.append("")
    cp = res.get("control_plane")
    if cp:
        fs = cp.get("full_sync", {})
        L.append("**Control plane**")
        L.append("")
        L.append("| measurement | value |")
        L.append("|---|---:|")
        if fs:
            L.append("| full sync, %d Services x %d endpoints (%.0f MB file): maps programmed | %.2f s |" % (
                fs["services"], fs["endpoints_per_service"], fs["file_bytes"] / 1e6,
                fs["maps_programmed_s"]))
            L.append("| ... last VIP on lo / \"applied\" logged | %.2f s / %.2f s |" % (
                fs["last_vip_on_lo_s"], fs["applied_s"]))
            L.append("| xvipd VmRSS (VmHWM) at that scale | %.0f MiB (%.0f MiB) |" % (
                fs["xvipd_rss_kib"] / 1024, fs["xvipd_hwm_kib"] / 1024))
            L.append("| BPF maps: %d pinned maps + %d Maglev tables (memlock) | %.1f MiB + %.1f MiB |" % (
                fs["bpf_maps"], fs["maglev_tables"], fs["bpf_maps_bytes"] / 1048576,
                fs["maglev_tables_bytes"] / 1048576))
        for key, label in (("changes", "%d Services" % fs.get("services", 0)),
                           ("changes_100_services", "100 Services")):
            ch = cp.get(key, {})
            for k, what in (("endpoint_change_to_map", "endpoint not ready -> new table in the map"),
                            ("ready_endpoint_to_map", "first ready endpoint -> table in the map"),
                            ("ready_endpoint_to_vip_on_lo", "first ready endpoint -> VIP on lo")):
                if ch.get(k, {}).get("n"):
                    L.append("| file, %s: %s, p50 / p99 (n=%d) | %.1f / %.1f ms |" % (
                        label, what, ch[k]["n"], ch[k]["p50_ms"], ch[k]["p99_ms"]))
        sw = cp.get("table_swap")
        if sw:
            L.append("| one Maglev table swap into the outer map (kernel waits an RCU grace period) | %.2f ms |" % sw["one_update_ms"])
            L.append("| %d table swaps in one batch update | %.1f ms |" % (sw["batch_updates"], sw["batch_ms"]))
        api = cp.get("api", {})
        if api.get("measured"):
            L.append("| API stand-in, %d Services: list + watch to \"applied\", from xvipd's start | %.2f s |" % (
                api["services"], api["full_sync_applied_s_from_start"]))
            a = api.get("endpoint_change_to_map", {})
            if a.get("n"):
                L.append("| API stand-in: EndpointSlice update -> new table in the map, p50 / p99 (n=%d) | %.1f / %.1f ms |" % (
                    a["n"], a["p50_ms"], a["p99_ms"]))
        elif api:
            L.append("| API path | not measured: %s |" % api.get("why", "?"))
        L.append("")
        if cp.get("scaling"):
            L.append("| full sync: Services x endpoints | maps programmed | applied | xvipd RSS |")
            L.append("|---|---:|---:|---:|")
            rows = [s for s in cp["scaling"] if "applied_s" in s]
            if fs:
                rows.append(fs)
            for s in sorted(rows, key=lambda s: (s["services"], s["endpoints_per_service"])):
                L.append("| %d x %d | %.2f s | %.2f s | %.0f MiB |" % (
                    s["services"], s["endpoints_per_service"], s["maps_programmed_s"],
                    s["applied_s"], s["xvipd_rss_kib"] / 1024))
            L.append("")
        if cp.get("maglev_build"):
            L.append("| Maglev table size | build, 10 endpoints | build, size/100 endpoints |")
            L.append("|---:|---:|---:|")
            for b in cp["maglev_build"]:
                L.append("| %d | %.0f us | %.0f us (%d endpoints) |" % (
                    b["table_size"], b["us_10_backends"], b["us_size_over_100_backends"],
                    b["backends_size_over_100"]))
            L.append("")
    if res.get("targets"):
        L.append("**Targets**")
        L.append("")
        L.append("| target | goal | measured | |")
        L.append("|---|---|---|---|")
        for t in res["targets"]:
            L.append("| %s | %s | %s | %s |" % (t["what"], t["target"], t["measured"],
                                                 verdict(t["met"])))
        L.append("")
    return "\n".join(L)


def plot(res, outdir):
    gp = shutil.which("gnuplot")
    if not gp:
        return "gnuplot not installed (scripts/deps.sh --bench installs it)"
    data = os.path.join(outdir, ".plot")
    os.makedirs(data, exist_ok=True)
    cmds = ["set terminal pngcairo size 1400,1000 font 'DejaVu Sans,10'",
            "set output '%s'" % os.path.join(outdir, "results.png"),
            "set multiplot layout 2,2 title 'xvip benchmarks (make bench)'"]
    dp = res.get("dataplane")
    if dp:
        with open(os.path.join(data, "dp.dat"), "w") as f:
            f.write("scenario " + " ".join('"%s"' % cfg_name(c) for c in dp["configs"]) + "\n")
            for s in SCENARIOS:
                f.write('"%s" ' % s + " ".join("%.1f" % c["scenarios"][s]["ns"]
                                               for c in dp["configs"]) + "\n")
        n = len(dp["configs"])
        cmds += ["set title 'XDP program, ns per packet (overhead subtracted)'",
                 "set style data histograms", "set style histogram clustered gap 1",
                 "set style fill solid 0.8 border -1", "set ylabel 'ns'", "set key top left",
                 "set xtics rotate by -20", "set logscale y", "set yrange [1:*]",
                 "set grid ytics",
                 "plot for [i=2:%d] '%s' using i:xtic(1) title columnheader(i)" % (
                     n + 1, os.path.join(data, "dp.dat")),
                 "unset logscale y", "set yrange [*:*]", "set xtics norotate"]
    v = res.get("throughput")
    if v and v.get("paths"):
        with open(os.path.join(data, "veth.dat"), "w") as f:
            f.write("path UDP TCP\n")
            for p, d in v["paths"].items():
                f.write('"%s" %.4f %.4f\n' % (p, d["udp"]["mpps_median"], d["tcp"]["mpps_median"]))
        cmds += ["set title 'Through veth on one core, Mpps at the sink'",
                 "set style data histograms", "set style histogram clustered gap 1",
                 "set ylabel 'Mpps'", "set key top left", "set yrange [0:*]",
                 "plot for [i=2:3] '%s' using i:xtic(1) title columnheader(i)" % os.path.join(
                     data, "veth.dat")]
    cp = res.get("control_plane")
    if cp and cp.get("maglev_build"):
        with open(os.path.join(data, "maglev.dat"), "w") as f:
            for b in cp["maglev_build"]:
                f.write("%d %.2f %.2f\n" % (b["table_size"], b["us_10_backends"],
                                            b["us_size_over_100_backends"]))
        cmds += ["set title 'Maglev table build time'", "set style data linespoints",
                 "set logscale xy", "set xlabel 'table size (slots)'", "set ylabel 'us'",
                 "set key top left",
                 "plot '%s' using 1:2 title '10 endpoints', '' using 1:3 title 'size/100 endpoints'" % (
                     os.path.join(data, "maglev.dat")),
                 "unset logscale xy", "unset xlabel"]
    if cp and (cp.get("scaling") or cp.get("full_sync")):
        rows = [s for s in cp.get("scaling", []) if "applied_s" in s]
        if cp.get("full_sync", {}).get("applied_s") is not None:
            rows.append(cp["full_sync"])
        rows.sort(key=lambda s: s["services"] * s["endpoints_per_service"])
        with open(os.path.join(data, "sync.dat"), "w") as f:
            for s in rows:
                f.write('%d %.3f "%dx%d"\n' % (s["services"] * s["endpoints_per_service"],
                                              s["applied_s"], s["services"],
                                              s["endpoints_per_service"]))
        cmds += ["set title 'Full sync from a services file (Services x endpoints)'",
                 "set yrange [*:*]", "set offsets graph 0.1, graph 0.2, graph 0.2, graph 0.1",
                 "set style data points", "set logscale xy", "set xlabel 'service endpoints'",
                 "set ylabel 's'", "set key off",
                 "plot '%s' using 1:2 with linespoints pt 7, '' using 1:2:3 with labels offset 0,1" % (
                     os.path.join(data, "sync.dat"))]
    cmds.append("unset multiplot")
    r = subprocess.run([gp], input="\n".join(cmds) + "\n", text=True, capture_output=True)
    shutil.rmtree(data, ignore_errors=True)
    if r.returncode:
        return "gnuplot failed: " + r.stderr.strip()[-500:]
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--dp")
    ap.add_argument("--veth")
    ap.add_argument("--cp")
    ap.add_argument("--machine")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--from", dest="from_", help="rebuild the outputs from a results.json")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    res = {}
    if a.from_:
        res = load(a.from_)
    for key, path in (("machine", a.machine), ("dataplane", a.dp), ("throughput", a.veth),
                      ("control_plane", a.cp)):
        d = load(path)
        if d is not None:
            res[key] = d
    res["targets"] = targets(res.get("dataplane"), res.get("throughput"), res.get("control_plane"))
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(markdown(res) + "\n")
    if not a.no_plot:
        err = plot(res, a.out)
        if err:
            print("bench_report: no plot: " + err, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
