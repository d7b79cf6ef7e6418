#!/usr/bin/env python3
"""Steady traffic for the restart test: a long-lived TCP echo and a UDP probe
stream with sequence numbers.

  lab_steady.py serve NAME PORT
      In a pod: TCP and UDP echo on PORT. Every TCP line and every datagram
      comes back prefixed with "pod=NAME ", from the socket it arrived on.

  lab_steady.py client VIP PORT STATE_DIR [--interval 0.02] [--rate 700]
      In the client: one TCP connection to VIP:PORT that sends "seq=N" every
      --interval seconds and waits for its echo (5 s at most), and one UDP
      socket that sends --rate probes a second to VIP:PORT. Writes
      STATE_DIR/ports.json (the two source ports) once connected and
      STATE_DIR/progress.json about every half second; stops when
      STATE_DIR/stop appears (or the TCP connection breaks: then it still
      waits for the stop file, so probes keep being counted), waits 1 s for
      late replies and writes STATE_DIR/result.json.
"""
import json
import os
import socket
import socketserver
import sys
import threading
import time


def serve(name, port):
    prefix = ("pod=%s " % name).encode()

    class TCP(socketserver.StreamRequestHandler):
        def handle(self):
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for line in self.rfile:
                self.wfile.write(prefix + line)

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    def udp():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        while True:
            data, peer = s.recvfrom(2048)
            s.sendto(prefix + data, peer)

    threading.Thread(target=udp, daemon=True).start()
    Server(("0.0.0.0", port), TCP).serve_forever()


def write_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f)
    os.replace(path + ".tmp", path)


def parse_reply(data):
    """b"pod=NAME seq=N\\n" -> (NAME, N)"""
    fields = dict(f.split("=", 1) for f in data.decode().split())
    return fields["pod"], int(fields["seq"])


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.tcp_sent = self.tcp_echoed = 0
        self.tcp_error = None
        self.tcp_max_rtt = 0.0
        self.tcp_pods = set()
        self.udp_sent = 0
        self.udp_replies = {}       # seq -> count
        self.udp_bad = 0
        self.udp_pods = set()
        self.udp_last = None        # time of the last reply
        self.udp_max_gap = 0.0      # longest time without a reply while sending

    def snapshot(self):
        with self.lock:
            return {
                "tcp_sent": self.tcp_sent, "tcp_echoed": self.tcp_echoed,
                "tcp_error": self.tcp_error, "tcp_max_rtt_ms": round(self.tcp_max_rtt * 1e3, 1),
                "tcp_pods": sorted(self.tcp_pods),
                "udp_sent": self.udp_sent, "udp_received": len(self.udp_replies),
                "udp_lost": self.udp_sent - len([s for s in self.udp_replies if s < self.udp_sent]),
                "udp_lost_seqs": [s for s in range(self.udp_sent) if s not in self.udp_replies][:20],
                "udp_duplicates": sum(c - 1 for c in self.udp_replies.values()),
                "udp_bad": self.udp_bad, "udp_pods": sorted(self.udp_pods),
                "udp_max_gap_ms": round(self.udp_max_gap * 1e3, 1),
            }


def client(vip, port, state, interval, rate):
    st = Stats()
    stop = threading.Event()
    sending = threading.Event()
    sending.set()

    tcp = socket.create_connection((vip, port), timeout=2)
    tcp.settimeout(5)   # an echo later than that counts as a broken connection
    tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rfile = tcp.makefile("rb")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 0))
    udp.connect((vip, port))    # replies from anything but VIP:PORT are not counted
    udp.settimeout(0.2)
    write_json(os.path.join(state, "ports.json"),
               {"tcp_sport": tcp.getsockname()[1], "udp_sport": udp.getsockname()[1]})

    def tcp_loop():
        n = 0
        nxt = time.monotonic()
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                tcp.sendall(b"seq=%d\n" % n)
                with st.lock:
                    st.tcp_sent += 1
                line = rfile.readline()
                if not line:
                    raise OSError("connection closed by the peer")
                pod, seq = parse_reply(line)
                if seq != n:
                    raise ValueError("echo of seq=%d came back as seq=%d" % (n, seq))
            except (OSError, ValueError, KeyError) as e:
                with st.lock:
                    st.tcp_error = "message %d: %s" % (n, e)
                return
            with st.lock:
                st.tcp_echoed += 1
                st.tcp_pods.add(pod)
                st.tcp_max_rtt = max(st.tcp_max_rtt, time.monotonic() - t0)
            n += 1
            nxt += interval
            time.sleep(max(0.0, nxt - time.monotonic()))

    def udp_rx():
        while not stop.is_set():
            try:
                data = udp.recv(2048)
            except socket.timeout:
                continue
            except OSError:     # ICMP unreachable on the connected socket: counted as lost
                continue
            now = time.monotonic()
            try:
                pod, seq = parse_reply(data)
            except (ValueError, KeyError):
                with st.lock:
                    st.udp_bad += 1
                continue
            with st.lock:
                st.udp_replies[seq] = st.udp_replies.get(seq, 0) + 1
                st.udp_pods.add(pod)
                if st.udp_last is not None and sending.is_set():
                    st.udp_max_gap = max(st.udp_max_gap, now - st.udp_last)
                st.udp_last = now

    threads = [threading.Thread(target=tcp_loop, daemon=True),
               threading.Thread(target=udp_rx, daemon=True)]
    for t in threads:
        t.start()

    t0 = time.monotonic()
    last_progress = 0.0
    i = 0
    while not os.path.exists(os.path.join(state, "stop")):
        now = time.monotonic()
        due = t0 + i / rate
        if now < due:
            time.sleep(min(due - now, 0.05))
            continue
        try:
            udp.send(b"seq=%d\n" % i)
        except OSError:
            pass        # counted as lost: no reply will come
        i += 1
        with st.lock:
            st.udp_sent = i
        if now - last_progress > 0.5:
            write_json(os.path.join(state, "progress.json"), st.snapshot())
            last_progress = now
    sending.clear()
    time.sleep(1.0)     # late replies
    stop.set()
    for t in threads:
        t.join(3)
    tcp.close()
    res = st.snapshot()
    res["seconds"] = round(time.monotonic() - t0, 2)
    write_json(os.path.join(state, "result.json"), res)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) >= 5 and sys.argv[1] == "client":
        args = sys.argv[5:]
        opts = {"--interval": 0.02, "--rate": 700.0}
        for k, v in zip(args[::2], args[1::2]):
            opts[k] = float(v)
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4], opts["--interval"], opts["--rate"])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
