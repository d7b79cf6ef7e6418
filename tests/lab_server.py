#!/usr/bin/env python3
"""Echo server for the lab pods, TCP and UDP on one port each, over IPv4 and
(where the pod has an IPv6 address) IPv6: every answer names the pod and the
client address:port the pod saw, sent from the socket the request arrived
on. With a fourth argument, a TCP port that sends a 256 KiB bulk answer
(path MTU tests) after the same first line."""
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


class Server6(Server):
    address_family = socket.AF_INET6

    def server_bind(self):
        # IPv6 only: IPv4 clients must show as IPv4 addresses, on the other socket.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


def udp(family, addr):
    s = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, udp_port))
    while True:
        _, peer = s.recvfrom(65535)
        s.sendto(answer(peer), peer)


def serve(server_cls, addr, port, handler):
    threading.Thread(target=server_cls((addr, port), handler).serve_forever,
                     daemon=True).start()


threading.Thread(target=udp, args=(socket.AF_INET, "0.0.0.0"), daemon=True).start()
serve(Server, "0.0.0.0", tcp_port, TCP)
if bulk_port:
    serve(Server, "0.0.0.0", bulk_port, Bulk)
if socket.has_ipv6:
    try:
        serve(Server6, "::", tcp_port, TCP)
        threading.Thread(target=udp, args=(socket.AF_INET6, "::"), daemon=True).start()
    except OSError:
        pass    # no IPv6 in this namespace
threading.Event().wait()
