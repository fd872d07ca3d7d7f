import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { prefaceVerdict } from "./http2-preface.js";

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

export interface OnePortServerOptions {
  // A connection that sends no complete first bytes in this time is closed.
  handshakeTimeoutMs: number;
}

// Cleartext HTTP/2 (prior knowledge: gRPC, Connect, gRPC-Web) and HTTP/1.1
// (Connect, gRPC-Web, REST) on one port. Node's http2 server falls back to
// HTTP/1.1 only through TLS ALPN, so each connection's first bytes decide:
// the HTTP/2 client preface goes to an http2 server, anything else to an http
// server, both running the same handler.
export class OnePortServer {
  private readonly tcp: net.Server;
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly h1Sockets = new Set<net.Socket>();
  private readonly busyH1 = new Set<net.Socket>();
  private readonly sessions = new Set<http2.Http2Session>();
  private closing = false;

  constructor(handler: Handler, options: OnePortServerOptions) {
    this.h1 = http.createServer((req, res) => {
      const socket = req.socket;
      this.busyH1.add(socket);
      if (this.closing) res.setHeader("connection", "close");
      res.on("close", () => {
        this.busyH1.delete(socket);
        if (this.closing) socket.end();
      });
      handler(req, res);
    });
    this.h2 = http2.createServer({}, handler);
    this.h2.on("session", (session) => {
      this.sessions.add(session);
      session.on("close", () => this.sessions.delete(session));
      if (this.closing) session.close();
    });
    // noDelay as node:http and node:http2 servers set it: small responses go out at once.
    this.tcp = net.createServer({ noDelay: true }, (socket) => this.route(socket, options.handshakeTimeoutMs));
  }

  listen(port: number, host: string): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.tcp.once("error", reject);
      this.tcp.listen(port, host, () => {
        this.tcp.off("error", reject);
        resolve(this.tcp.address() as net.AddressInfo);
      });
    });
  }

  // Stops accepting connections and lets the requests in flight finish:
  // HTTP/2 sessions get GOAWAY, HTTP/1.1 connections close after their
  // current response. Whatever is still open after graceMs is destroyed.
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    const stopped = new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    for (const session of this.sessions) session.close();
    for (const socket of this.h1Sockets) {
      if (!this.busyH1.has(socket)) socket.end();
    }
    const timer = setTimeout(() => {
      for (const session of this.sessions) session.destroy();
      for (const socket of this.sockets) socket.destroy();
    }, graceMs);
    await stopped;
    clearTimeout(timer);
  }

  private route(socket: net.Socket, handshakeTimeoutMs: number): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on("close", () => {
      this.sockets.delete(socket);
      this.h1Sockets.delete(socket);
    });
    socket.setTimeout(handshakeTimeoutMs, () => socket.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const verdict = prefaceVerdict(head);
      if (verdict === "undecided") return;
      // The http2 session reads what the socket has buffered; the http parser
      // wants it as data events, so that socket flows again.
      socket.off("data", onData);
      socket.pause();
      socket.setTimeout(0);
      socket.unshift(head);
      if (verdict === "http2") {
        this.h2.emit("connection", socket);
      } else {
        this.h1Sockets.add(socket);
        this.h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  }
}
