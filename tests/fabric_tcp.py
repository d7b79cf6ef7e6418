#!/usr/bin/env python3
"""One long-lived TCP connection to VIP:PORT from a fixed source port: a request
every INTERVAL seconds for SECONDS, each answered by fabric_pod.py with the pod's
name. Prints one JSON line per request as it goes:

  {"t": seconds since connect, "ok": true, "pod": "n1p1", "wall_ms": epoch ms}
  {"t": ..., "ok": false, "error": "timed out" | "connection reset" | ..., "wall_ms": ...}

  fabric_tcp.py VIP PORT SPORT [--seconds 10] [--interval 0.2] [--timeout 0.5]

A timed-out request leaves the connection open (a later answer is read and
discarded); a reset or close ends it, reported on every remaining tick."""
import argparse
import json
import select
import socket
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("vip")
ap.add_argument("port", type=int)
ap.add_argument("sport", type=int)
ap.add_argument("--seconds", type=float, default=10)
ap.add_argument("--interval", type=float, default=0.2)
ap.add_argument("--timeout", type=float, default=0.5)
a = ap.parse_args()


def out(**kw):
    kw["wall_ms"] = int(time.time() * 1000)
    print(json.dumps(kw), flush=True)


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", a.sport))
s.settimeout(2)
try:
    s.connect((a.vip, a.port))
    greeting = s.recv(256).decode()
except OSError as e:
    out(t=0, ok=False, error="connect: %s" % e)
    sys.exit(1)
t0 = time.monotonic()
out(t=0, ok=True, pod=dict(f.split("=", 1) for f in greeting.split() if "=" in f).get("pod"),
    greeting=True)
buf = b""
dead = None
n = 0
while time.monotonic() - t0 < a.seconds:
    due = t0 + n * a.interval
    time.sleep(max(0.0, due - time.monotonic()))
    n += 1
    t = round(time.monotonic() - t0, 3)
    if dead:
        out(t=t, ok=False, error=dead)
        continue
    try:
        s.sendall(b"req=%d\n" % n)
        end = time.monotonic() + a.timeout
        got = None
        while got is None and time.monotonic() < end:
            r, _, _ = select.select([s], [], [], max(0.0, end - time.monotonic()))
            if not r:
                break
            chunk = s.recv(4096)
            if not chunk:
                dead = "connection closed"
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                f = dict(x.split("=", 1) for x in line.decode(errors="replace").split()
                         if "=" in x)
                if f.get("req") == str(n):
                    got = f
        if got:
            out(t=t, ok=True, pod=got.get("pod"))
        else:
            out(t=t, ok=False, error=dead or "timed out")
    except OSError as e:
        dead = "connection reset" if "reset" in str(e).lower() else str(e)
        out(t=t, ok=False, error=dead)
