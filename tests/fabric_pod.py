#!/usr/bin/env python3
"""Echo server for the fabric lab's pods, TCP and UDP on one port each.

TCP: on connect, one line "pod=NAME client=IP:PORT"; then every line received
is answered with "pod=NAME client=IP:PORT <line>", so a long-lived connection
shows, request by request, that it still reaches the same pod.
UDP: every datagram is answered with "pod=NAME client=IP:PORT", followed by the
datagram's own text when it carries fields (the probe's "seq=N")."""
import socket
import socketserver
import sys
import threading

name, tcp_port, udp_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def answer(peer):
    return f"pod={name} client={peer[0]}:{peer[1]}"


class TCP(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write((answer(self.client_address) + "\n").encode())
        for line in self.rfile:
            self.wfile.write((answer(self.client_address) + " " +
                              line.decode(errors="replace").strip() + "\n").encode())


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", udp_port))
    while True:
        data, peer = s.recvfrom(2048)
        reply = answer(peer)
        if b"=" in data:
            reply += " " + data.decode(errors="replace").strip()
        s.sendto(reply.encode(), peer)


threading.Thread(target=udp, daemon=True).start()
Server(("0.0.0.0", tcp_port), TCP).serve_forever()
