#!/usr/bin/python3
"""A webhook receiver for the alert tests that checks Standard Webhooks
signatures on its own (Python's hmac, not TenantAtlas's code).

  webhook_receiver.py PORT_FILE SECRET OUT_FILE

Listens on a free loopback port (written to PORT_FILE); for each POST it
appends one JSON line to OUT_FILE: {"id", "timestamp", "type", "verified"}
and answers 204 when the signature verifies, 401 otherwise.
"""
import base64
import hashlib
import hmac
import http.server
import json
import sys

port_file, secret, out_file = sys.argv[1], sys.argv[2], sys.argv[3]
key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        msg_id = self.headers.get("webhook-id", "")
        ts = self.headers.get("webhook-timestamp", "")
        signed = f"{msg_id}.{ts}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        given = [s.split(",", 1)[1] for s in self.headers.get("webhook-signature", "").split(" ")
                 if s.startswith("v1,")]
        ok = any(hmac.compare_digest(expected, g) for g in given)
        try:
            kind = json.loads(body).get("type")
        except ValueError:
            kind = None
        with open(out_file, "a") as f:
            f.write(json.dumps({"id": msg_id, "timestamp": ts, "type": kind, "verified": ok}) + "\n")
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
