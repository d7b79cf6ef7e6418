#!/usr/bin/env python3
"""Lab client: N TCP connections or UDP datagrams to VIP:PORT, each from its own
source port. Prints one JSON object per request: the source port used, the pod
that answered, the client address the pod saw, and the address the reply came
from (for TCP, the connected peer; for UDP, recvfrom's source)."""
import json
import socket
import sys

proto, vip, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 2.0


def parse(reply):
    fields = dict(f.split("=", 1) for f in reply.decode().split())
    return fields.get("pod"), fields.get("client")


for _ in range(count):
    res = {"proto": proto}
    try:
        if proto == "tcp":
            s = socket.create_connection((vip, port), timeout=timeout)
            res["sport"] = s.getsockname()[1]
            s.settimeout(timeout)
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
            res["reply_from"] = "%s:%d" % s.getpeername()[:2]
            s.close()
        else:
            v6 = ":" in vip
            s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("::" if v6 else "0.0.0.0", 0))
            s.settimeout(timeout)
            res["sport"] = s.getsockname()[1]
            s.sendto(b"hello\n", (vip, port))
            data, src = s.recvfrom(2048)
            res["reply_from"] = "%s:%d" % src[:2]
            s.close()
        res["pod"], res["client_seen"] = parse(data)
    except (OSError, ValueError) as e:
        res["error"] = str(e)
    print(json.dumps(res), flush=True)
