#!/usr/bin/env python3
"""UDP probe stream for the fabric lab: sequence-numbered datagrams to VIP:PORT at
RATE per second, spread over FLOWS source ports (so ECMP sends them down every
path), for SECONDS; every answer (fabric_pod.py echoes "seq=N") is matched to its
datagram. Prints one JSON object:

  sent, answered, lost         datagrams
  loss_window_ms               from the first lost datagram's send time to the
                               last's, plus one interval (0: nothing lost)
  max_flow_gap_ms              the longest time one flow went without an answer
  pods                         answers per pod
  rate                         achieved datagrams per second

  fabric_probe.py VIP PORT [--rate 1000] [--seconds 5] [--flows 64] [--grace 0.5]
                  [--start-file PATH]   (touched once the stream is running)"""
import argparse
import json
import os
import select
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("vip")
ap.add_argument("port", type=int)
ap.add_argument("--rate", type=int, default=1000)
ap.add_argument("--seconds", type=float, default=5.0)
ap.add_argument("--flows", type=int, default=64)
ap.add_argument("--grace", type=float, default=0.5)
ap.add_argument("--start-file")
a = ap.parse_args()

socks = []
for _ in range(a.flows):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    s.setblocking(False)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    socks.append(s)
by_fd = {s.fileno(): i for i, s in enumerate(socks)}
poller = select.epoll()
for s in socks:
    poller.register(s.fileno(), select.EPOLLIN)

interval = 1.0 / a.rate
total = int(a.rate * a.seconds)
sent_at = [0.0] * total
answered = [False] * total
pods = {}
t0 = time.monotonic()
seq = 0
started = False


def drain():
    for fd, _ in poller.poll(0):
        s = socks[by_fd[fd]]
        while True:
            try:
                data = s.recv(2048)
            except BlockingIOError:
                break
            f = dict(x.split("=", 1) for x in data.decode(errors="replace").split() if "=" in x)
            n = int(f.get("seq", -1))
            if 0 <= n < total and not answered[n]:
                answered[n] = True
                pods[f.get("pod", "?")] = pods.get(f.get("pod", "?"), 0) + 1


while seq < total:
    now = time.monotonic()
    due = t0 + seq * interval
    if now < due:
        # Sleep in the kernel only when the next datagram is far; spin otherwise.
        ev = poller.poll(max(0.0, due - now - 0.0005) if due - now > 0.001 else 0)
        if ev:
            drain()
        continue
    while seq < total and t0 + seq * interval <= now:
        sent_at[seq] = time.monotonic()
        try:
            socks[seq % a.flows].sendto(b"seq=%d" % seq, (a.vip, a.port))
        except OSError:
            pass  # no route while the fabric converges: counted as lost
        seq += 1
    if not started and a.start_file:
        open(a.start_file, "w").close()
        started = True
    drain()

end = time.monotonic() + a.grace
while time.monotonic() < end:
    if poller.poll(0.05):
        drain()

lost = [i for i in range(total) if not answered[i]]
window = 0.0
if lost:
    window = (sent_at[lost[-1]] - sent_at[lost[0]] + interval) * 1000
gap = 0.0
for f in range(a.flows):
    last = t0
    for i in range(f, total, a.flows):
        if answered[i]:
            gap = max(gap, sent_at[i] - last)
            last = sent_at[i]
    gap = max(gap, sent_at[total - 1] - last) if total else gap
elapsed = sent_at[total - 1] - sent_at[0] if total > 1 else 0
print(json.dumps({
    "sent": total, "answered": total - len(lost), "lost": len(lost),
    "loss_window_ms": round(window, 1), "max_flow_gap_ms": round(gap * 1000, 1),
    "pods": pods, "rate": round(total / elapsed) if elapsed else 0,
}))
