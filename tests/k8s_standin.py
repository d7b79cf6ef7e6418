#!/usr/bin/env python3
"""A stand-in Kubernetes API server for xvipd's tests: what xvipd sees on the
wire is what kube-apiserver sends, for the calls xvipd makes.

  k8s_standin.py --listen 127.0.0.1:PORT --cert C --key K --token T
                 --control 127.0.0.1:PORT2 [--objects LIST.json] [--client-ca CA]

API (HTTPS; a bearer token or a client certificate, 401 Status otherwise):
  GET /api/v1/services, /apis/discovery.k8s.io/v1/endpointslices, /api/v1/nodes
      list: limit/continue pagination over a snapshot taken at the first page's
      resourceVersion (items without kind/apiVersion, as the real list returns
      them); fieldSelector=metadata.name=X; an expired continue token is 410.
      watch=1: chunked stream of {"type","object"} lines from resourceVersion on,
      BOOKMARKs every --bookmark-interval when allowWatchBookmarks=true, the
      stream ended after timeoutSeconds; a resourceVersion older than the
      compaction point gets an ERROR event with a 410 Status, as the real one.

Control (plain HTTP on --control, for the test only), JSON bodies:
  POST /apply   {"object": {...}} or {"objects": [...]}   ADDED or MODIFIED
  POST /delete  {"kind": K, "namespace": N, "name": X}
  POST /fault   {"fault": "cut"|"stall"|"gone"|"close", "resource": R}
                cut: the next event of each open watch of R is sent half, then
                the connection is dropped; stall: open watches of R go silent
                (no event, no bookmark) until the client gives up; gone: open
                watches of R get an ERROR 410 event and history is compacted;
                close: open watches end cleanly.
  POST /fail    {"status": 429|500|..., "count": N, "retry_after": S, "resource": R}
  POST /token   {"token": T}                      the accepted token from now on
  POST /config  {"max_page": N, "list_delay": S, "bookmark_interval": S}
  POST /compact                                   watches from before now get 410
  GET  /requests                                  every API request so far
"""
import argparse
import base64
import copy
import http.server
import json
import select
import socket
import ssl
import sys
import threading
import time
import urllib.parse

RES = {
    "/api/v1/services": ("services", "Service", "v1", "ServiceList"),
    "/apis/discovery.k8s.io/v1/endpointslices":
        ("endpointslices", "EndpointSlice", "discovery.k8s.io/v1", "EndpointSliceList"),
    "/api/v1/nodes": ("nodes", "Node", "v1", "NodeList"),
}
KIND_RES = {v[1]: v[0] for v in RES.values()}
RES_INFO = {v[0]: v for v in RES.values()}


class Store:
    def __init__(self):
        self.cv = threading.Condition()
        self.rv = 1000
        self.objs = {r: {} for r in KIND_RES.values()}   # key -> object
        self.history = []     # (rv, resource, type, object)
        self.compacted = 0    # watches from a resourceVersion below this get 410
        self.faults = {r: [] for r in KIND_RES.values()}
        self.fault_gen = 0
        self.fails = []       # [status, count, retry_after, resource]
        self.snapshots = {}   # continue id -> (rv, [items])
        self.token = None
        self.max_page = 0
        self.list_delay = 0.0
        self.bookmark_interval = 1.0
        self.requests = []

    @staticmethod
    def key(o):
        m = o["metadata"]
        return "%s/%s" % (m.get("namespace", ""), m["name"])

    def apply(self, o, quiet=False):
        with self.cv:
            res = KIND_RES[o["kind"]]
            o = copy.deepcopy(o)
            self.rv += 1
            m = o.setdefault("metadata", {})
            m["resourceVersion"] = str(self.rv)
            m.setdefault("uid", "00000000-0000-4000-8000-%012d" % self.rv)
            m.setdefault("creationTimestamp", "2026-11-26T06:00:00Z")
            k = self.key(o)
            typ = "MODIFIED" if k in self.objs[res] else "ADDED"
            self.objs[res][k] = o
            self.history.append((self.rv, res, typ, o))
            self.cv.notify_all()
            return typ, self.rv

    def delete(self, kind, ns, name):
        with self.cv:
            res = KIND_RES[kind]
            k = "%s/%s" % (ns or "", name)
            o = self.objs[res].pop(k, None)
            if o is None:
                return None
            self.rv += 1
            o = copy.deepcopy(o)
            o["metadata"]["resourceVersion"] = str(self.rv)
            self.history.append((self.rv, res, "DELETED", o))
            self.cv.notify_all()
            return self.rv

    def fault(self, res, f):
        with self.cv:
            if f == "gone":
                # etcd compacted up to now: a watch resuming from before now gets 410.
                self.compacted = self.rv
            self.faults[res].append(f)
            self.fault_gen += 1
            self.cv.notify_all()


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def make_handler(store, log):
    class API(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            log.write("%.3f api %s\n" % (time.time(), fmt % args))
            log.flush()

        def send_json(self, code, obj, extra=None):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def record(self, res, q, code):
            with store.cv:
                store.requests.append({"t": time.time(), "resource": res,
                                       "query": {k: v[0] for k, v in q.items()},
                                       "status": code, "auth": getattr(self, "auth", None)})

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(u.query)
            info = RES.get(u.path)
            res = info[0] if info else None
            # A bearer token, or a client certificate the --client-ca signed (TLS checked it).
            self.auth = "token" if self.headers.get("Authorization") == "Bearer %s" % store.token \
                else "cert" if self.connection.getpeercert() else None
            if not self.auth:
                self.record(res, q, 401)
                return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
            if not info:
                self.record(res, q, 404)
                return self.send_json(404, status(404, "NotFound", "the server could not "
                                                  "find the requested resource"))
            with store.cv:
                for f in store.fails:
                    if f[1] > 0 and f[3] in (None, res):
                        f[1] -= 1
                        code, retry_after = f[0], f[2]
                        break
                else:
                    code = None
            if code:
                self.record(res, q, code)
                extra = {"Retry-After": str(retry_after)} if retry_after else None
                reason = {429: "TooManyRequests", 500: "InternalError",
                          503: "ServiceUnavailable", 403: "Forbidden"}.get(code, "Unknown")
                return self.send_json(code, status(code, reason, "injected %d" % code), extra)
            sel = q.get("fieldSelector", [""])[0]
            name = sel[len("metadata.name="):] if sel.startswith("metadata.name=") else None
            if q.get("watch", ["0"])[0] in ("1", "true"):
                self.record(res, q, 200)
                return self.watch(info, q, name)
            self.list(info, q, name)

        def list(self, info, q, name):
            res, kind, api, list_kind = info
            limit = int(q.get("limit", ["0"])[0] or 0)
            cont = q.get("continue", [""])[0]
            with store.cv:
                if store.max_page and (not limit or limit > store.max_page):
                    limit = store.max_page
                if cont:
                    try:
                        t = json.loads(base64.b64decode(cont))
                        rv, items = store.snapshots[t["id"]]
                        start = t["start"]
                    except (ValueError, KeyError):
                        self.record(res, q, 400)
                        return self.send_json(400, status(400, "BadRequest",
                                                          "invalid continue token"))
                    if rv < store.compacted:
                        del store.snapshots[t["id"]]
                        self.record(res, q, 410)
                        return self.send_json(410, status(
                            410, "Expired", "The provided continue parameter is too old "
                            "to display a consistent list result. You can start a new list "
                            "without the continue parameter."))
                else:
                    rv = store.rv
                    items = [copy.deepcopy(store.objs[res][k]) for k in sorted(store.objs[res])]
                    if name is not None:
                        items = [o for o in items if o["metadata"]["name"] == name]
                    for o in items:
                        o.pop("kind", None)
                        o.pop("apiVersion", None)
                    start = 0
                delay = store.list_delay
            page = items[start:start + limit] if limit else items[start:]
            meta = {"resourceVersion": str(rv)}
            nxt = start + len(page)
            if limit and nxt < len(items):
                sid = "%d-%d-%f" % (rv, nxt, time.time())
                with store.cv:
                    store.snapshots[sid] = (rv, items)
                meta["continue"] = base64.b64encode(json.dumps(
                    {"v": "meta.k8s.io/v1", "rv": rv, "start": nxt, "id": sid}).encode()).decode()
                meta["remainingItemCount"] = len(items) - nxt
            if delay:
                time.sleep(delay)
            self.record(res, q, 200)
            self.send_json(200, {"kind": list_kind, "apiVersion": api, "metadata": meta,
                                 "items": page})

        def chunk(self, data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def watch(self, info, q, name):
            res, kind, api, _ = info
            rv = int(q.get("resourceVersion", ["0"])[0] or 0)
            bookmarks = q.get("allowWatchBookmarks", ["false"])[0] == "true"
            deadline = time.time() + int(q.get("timeoutSeconds", ["1800"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            with store.cv:
                gen = store.fault_gen
                if rv < store.compacted:
                    ev = {"type": "ERROR", "object": status(
                        410, "Expired", "too old resource version: %d (%d)" %
                        (rv, store.compacted))}
                    self.chunk(json.dumps(ev).encode() + b"\n")
                    self.chunk(b"")
                    return
            last_bm = time.time()
            cut = False     # the next event goes out half, then the connection drops
            try:
                while time.time() < deadline:
                    with store.cv:
                        faults = []
                        if store.fault_gen != gen:
                            faults = list(store.faults[res])
                            store.faults[res] = []
                            gen = store.fault_gen
                        evs = [h for h in store.history if h[0] > rv and h[1] == res]
                        cur = store.rv
                    if "stall" in faults:
                        # Silent but open until the client gives up (it closes: readable).
                        select.select([self.connection], [], [], 60)
                        return
                    if "gone" in faults:
                        ev = {"type": "ERROR", "object": status(
                            410, "Expired", "too old resource version: %d (%d)" %
                            (rv, store.compacted))}
                        self.chunk(json.dumps(ev).encode() + b"\n")
                        self.chunk(b"")
                        return
                    if "close" in faults:
                        self.chunk(b"")
                        return
                    cut = cut or "cut" in faults
                    for h in evs:
                        o = h[3]
                        if name is not None and o["metadata"]["name"] != name:
                            rv = h[0]
                            continue
                        data = json.dumps({"type": h[2], "object": o}).encode() + b"\n"
                        if cut:
                            # Half an event, then the connection drops: no last chunk.
                            self.chunk(data[:len(data) // 2])
                            self.connection.shutdown(socket.SHUT_RDWR)
                            self.close_connection = True
                            return
                        self.chunk(data)
                        rv = h[0]
                    if bookmarks and time.time() - last_bm >= store.bookmark_interval:
                        rv = max(rv, cur)
                        bm = {"type": "BOOKMARK", "object": {
                            "kind": kind, "apiVersion": api,
                            "metadata": {"resourceVersion": str(rv)}}}
                        self.chunk(json.dumps(bm).encode() + b"\n")
                        last_bm = time.time()
                    with store.cv:
                        if store.rv == cur and store.fault_gen == gen:
                            store.cv.wait(timeout=0.1)
                self.chunk(b"")
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                return

    return API


def make_control(store, log):
    class Control(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            log.write("%.3f control %s\n" % (time.time(), fmt % args))
            log.flush()

        def reply(self, obj, code=200):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/requests":
                with store.cv:
                    return self.reply(store.requests)
            if self.path == "/state":
                with store.cv:
                    return self.reply({"rv": store.rv, "compacted": store.compacted})
            self.reply({"error": "not found"}, 404)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(n) or b"{}")
            p = self.path
            if p == "/apply":
                # {"objects": [...]}: all at once, one burst of events on the watches.
                for o in body.get("objects", [body.get("object")]):
                    typ, rv = store.apply(o)
                return self.reply({"type": typ, "resourceVersion": rv})
            if p == "/delete":
                rv = store.delete(body["kind"], body.get("namespace"), body["name"])
                return self.reply({"resourceVersion": rv}, 200 if rv else 404)
            if p == "/fault":
                store.fault(body["resource"], body["fault"])
                return self.reply({})
            if p == "/fail":
                with store.cv:
                    store.fails.append([body["status"], body.get("count", 1),
                                        body.get("retry_after"), body.get("resource")])
                return self.reply({})
            if p == "/token":
                with store.cv:
                    store.token = body["token"]
                return self.reply({})
            if p == "/config":
                with store.cv:
                    store.max_page = body.get("max_page", store.max_page)
                    store.list_delay = body.get("list_delay", store.list_delay)
                    store.bookmark_interval = body.get("bookmark_interval",
                                                       store.bookmark_interval)
                return self.reply({})
            if p == "/compact":
                with store.cv:
                    store.compacted = store.rv
                return self.reply({"compacted": store.compacted})
            self.reply({"error": "not found"}, 404)

    return Control


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--client-ca", help="accept client certificates this CA signed")
    ap.add_argument("--objects", help="a List (kubectl get -o json) to start with")
    ap.add_argument("--bookmark-interval", type=float, default=1.0)
    a = ap.parse_args()

    store = Store()
    store.token = a.token
    store.bookmark_interval = a.bookmark_interval
    if a.objects:
        with open(a.objects) as f:
            for o in json.load(f)["items"]:
                store.apply(o)
    log = sys.stderr

    api = http.server.ThreadingHTTPServer(hostport(a.listen), make_handler(store, log))
    api.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.set_alpn_protocols(["http/1.1"])
    if a.client_ca:
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(a.client_ca)
    # The handshake runs in the connection's thread, so a stuck client blocks no one else.
    api.socket = ctx.wrap_socket(api.socket, server_side=True, do_handshake_on_connect=False)
    ctl = http.server.ThreadingHTTPServer(hostport(a.control), make_control(store, log))
    ctl.daemon_threads = True
    threading.Thread(target=ctl.serve_forever, daemon=True).start()
    log.write("standin: API on %s, control on %s\n" % (a.listen, a.control))
    log.flush()
    api.serve_forever()


if __name__ == "__main__":
    main()
