"""Fakes of the two alert channels, on 127.0.0.1, recording what they receive.

with FakeSMTP() as smtp:        # EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT
    smtp.port, smtp.messages    # each message: {"from", "to", "data" (str)}
with FakeWeCom() as wecom:      # a WeChat Work group robot's webhook
    wecom.url, wecom.bodies     # each POSTed JSON body, parsed
    wecom.status = 500          # or wecom.answer = {"errcode": 93000, "errmsg": "..."}
"""

import json
import socketserver
import threading
from email import message_from_string, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server:
    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeSMTP(_Server):
    """Just enough SMTP for Django's backend (no TLS, no AUTH)."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())

            def handle(self) -> None:
                self.reply("220 fake ESMTP")
                sender, recipients = "", []
                while line := self.rfile.readline():
                    verb = line.decode().strip().split(" ", 1)[0].upper()
                    arg = line.decode().strip()[len(verb) :].strip()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 fake")
                    elif verb == "MAIL":
                        sender, recipients = arg.split(":", 1)[1].strip(" <>"), []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        recipients.append(arg.split(":", 1)[1].strip(" <>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with .")
                        data = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                        text = b"".join(data).decode()
                        fake.messages.append({"from": sender, "to": recipients, "data": text})
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:  # RSET, NOOP
                        self.reply("250 OK")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def bodies(self) -> list[str]:
        """Each message's decoded text body."""
        return [
            message_from_string(m["data"], policy=policy.default).get_content()
            for m in self.messages
        ]


class FakeWeCom(_Server):
    """A group robot: answers {"errcode": 0, "errmsg": "ok"} unless told otherwise."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.status = 200
        self.answer: dict = {"errcode": 0, "errmsg": "ok"}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if fake.status == 200 and fake.answer.get("errcode") == 0:
                    fake.bodies.append(json.loads(body))
                answer = json.dumps(fake.answer).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/webhook/send?key=k"
