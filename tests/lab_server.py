#!/usr/bin/env python3
"""Echo server for the lab pods, TCP and UDP on one port each: every answer
names the pod and the client address:port the pod saw, sent from the socket
the request arrived on. With a fourth argument, a TCP port that sends a
256 KiB bulk answer (path MTU tests) after the same first line."""
import socket
import socketserver
import sys
import threading

name, tcp_port, udp_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
bulk_port = int(sys.argv[4]) if len(sys.argv) > 4 else 0
BULK = bytes(range(256)) * 1024


def answer(peer):
    return f"pod={name} client={peer[0]}:{peer[1]}\n".encode()


class TCP(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(answer(self.client_address))


class Bulk(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(answer(self.client_address) + BULK)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", udp_port))
    while True:
        _, peer = s.recvfrom(65535)
        s.sendto(answer(peer), peer)


threading.Thread(target=udp, daemon=True).start()
if bulk_port:
    threading.Thread(target=Server(("0.0.0.0", bulk_port), Bulk).serve_forever,
                     daemon=True).start()
Server(("0.0.0.0", tcp_port), TCP).serve_forever()
