import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { connectionsRefused } from "../../observability/metrics.js";
import { AddressBuckets } from "./address-buckets.js";
import type { ConnectionLimits } from "./connection-limits.js";
import { isGrpcContentType, readOpening } from "./http2-first-request.js";
import { prefaceVerdict } from "./http2-preface.js";
import { guardSession } from "./http2-session-guard.js";

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

// Where HTTP/2 connections go to be served by grpc-js (grpc-js-server.ts):
// `mixed` serves what is not gRPC through this server's handler, `only`
// answers it as a port for gRPC alone does.
export interface GrpcConnections {
  mixed: (socket: net.Socket) => void;
  only: (socket: net.Socket) => void;
}

// "every protocol": the one port. "grpc": HTTP/2 to grpc-js alone (GRPC_PORT).
export type PortKind = "every protocol" | "grpc";

// The server's connection preface: a SETTINGS frame with the stream limit
// alone. grpc-js clients send no request before it, and the request decides
// which server gets the connection; that server then sends its own SETTINGS,
// with the same limit. Announced here, the limit holds from the start: a
// client that opened more streams before it would have them refused.
function firstSettings(maxConcurrentStreams: number): Buffer {
  const maxConcurrentStreamsId = 0x3;
  const frame = Buffer.from([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, maxConcurrentStreamsId, 0, 0, 0, 0]);
  frame.writeUInt32BE(maxConcurrentStreams, 11);
  return frame;
}
// The most a client may send before its first request is read.
const maxOpeningBytes = 256 * 1024;

// Cleartext HTTP/2 (prior knowledge: gRPC, Connect, gRPC-Web) and HTTP/1.1
// (Connect, gRPC-Web, REST) on one port. Node's http2 server falls back to
// HTTP/1.1 only through TLS ALPN, so each connection's first bytes decide:
// the HTTP/2 client preface goes to HTTP/2, anything else to an http server.
// An HTTP/2 connection whose first request is gRPC goes to @grpc/grpc-js,
// any other to an http2 server; both run `handler` for what is not gRPC.
//
// Every socket accepted is this server's until it closes: close() ends them
// all, whichever server reads them.
export class OnePortServer {
  private readonly listeners: net.Server[] = [];
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly h1Sockets = new Set<net.Socket>();
  private readonly busyH1 = new Set<net.Socket>();
  private readonly sessions = new Set<http2.Http2Session>();
  private readonly connectionBuckets: AddressBuckets;
  readonly resetBuckets: AddressBuckets;
  private grpc: GrpcConnections | undefined;
  private closing = false;

  constructor(
    handler: Handler,
    private readonly limits: ConnectionLimits,
  ) {
    this.connectionBuckets = new AddressBuckets(limits.connectionsPerSecond, limits.connectionBurst);
    this.resetBuckets = new AddressBuckets(limits.resetsPerSecond, limits.resetBurst);
    this.h1 = http.createServer(
      {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.idleTimeoutMs,
        connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
      },
      (req, res) => {
        const socket = req.socket;
        this.busyH1.add(socket);
        if (this.closing) res.setHeader("connection", "close");
        res.on("close", () => {
          this.busyH1.delete(socket);
          if (this.closing) socket.end();
        });
        handler(req, res);
      },
    );
    // Node checks headersTimeout and requestTimeout only for the connections
    // of a server that listens, from its 'listening' event on; this one is
    // given connections instead of listening.
    this.h1.emit("listening");
    this.h2 = http2.createServer({ settings: { maxConcurrentStreams: limits.maxConcurrentStreams } }, handler);
    this.h2.on("session", (session: http2.ServerHttp2Session) => {
      guardSession(session, limits, this.resetBuckets);
      this.sessions.add(session);
      session.on("close", () => this.sessions.delete(session));
      if (this.closing) session.close();
    });
  }

  // Hands gRPC connections to `grpc` from now on.
  handGrpcTo(grpc: GrpcConnections): void {
    this.grpc = grpc;
  }

  // Serves a stream that came on a connection another server reads (a
  // request that is not gRPC on a connection grpc-js got), as on its own.
  serveStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]): void {
    this.h2.emit("stream", stream, headers, flags, rawHeaders);
  }

  // Listens on one more port.
  listen(port: number, host: string, kind: PortKind = "every protocol"): Promise<net.AddressInfo> {
    // noDelay as node:http and node:http2 servers set it: small responses go out at once.
    const tcp = net.createServer({ noDelay: true }, (socket) => this.route(socket, kind));
    this.listeners.push(tcp);
    return new Promise((resolve, reject) => {
      tcp.once("error", reject);
      tcp.listen(port, host, () => {
        tcp.off("error", reject);
        resolve(tcp.address() as net.AddressInfo);
      });
    });
  }

  // Stops accepting connections and lets the requests in flight finish:
  // HTTP/2 sessions get GOAWAY (grpc-js's from its own close), HTTP/1.1
  // connections close after their current response. Every socket still open
  // after graceMs is destroyed.
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    const stopped = Promise.all(this.listeners.map((tcp) => new Promise<void>((resolve) => tcp.close(() => resolve()))));
    this.h1.close();
    for (const session of this.sessions) session.close();
    for (const socket of this.h1Sockets) {
      if (!this.busyH1.has(socket)) socket.end();
    }
    const timer = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, graceMs);
    await stopped;
    clearTimeout(timer);
  }

  private route(socket: net.Socket, kind: PortKind): void {
    if (this.closing || !this.connectionBuckets.take(socket.remoteAddress)) {
      if (!this.closing) connectionsRefused.labels("connection_rate").inc();
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    const deadline = setTimeout(() => socket.destroy(), this.limits.headersTimeoutMs);
    socket.on("close", () => {
      clearTimeout(deadline);
      this.sockets.delete(socket);
      this.h1Sockets.delete(socket);
    });
    socket.on("error", () => socket.destroy());
    let head: Buffer = Buffer.alloc(0);
    let settingsSent = false;
    // Gives the socket, with what it sent so far, to the server that reads it.
    const handOff = (bytes: Buffer, to: (socket: net.Socket) => void) => {
      clearTimeout(deadline);
      socket.off("data", onData);
      // The http2 session reads what the socket has buffered; the http parser
      // wants it as data events, so that socket flows again.
      socket.pause();
      socket.unshift(bytes);
      to(socket);
    };
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      if (head.length > maxOpeningBytes) return socket.destroy();
      const verdict = prefaceVerdict(head);
      if (verdict === "undecided") return;
      const grpc = this.grpc;
      if (kind === "grpc") return verdict === "http2" && grpc !== undefined ? handOff(head, grpc.only) : socket.destroy();
      if (verdict === "http1") {
        return handOff(head, () => {
          this.h1Sockets.add(socket);
          this.h1.emit("connection", socket);
          socket.resume();
        });
      }
      if (grpc === undefined) return handOff(head, () => this.h2.emit("connection", socket));
      if (!settingsSent) {
        settingsSent = true;
        socket.write(firstSettings(this.limits.maxConcurrentStreams));
      }
      const opening = readOpening(head);
      if (opening === "malformed") return socket.destroy();
      if (opening.request === "undecided" || opening.settingsAck === undefined) return;
      // The acknowledgement of this server's SETTINGS is not for the session
      // that gets the connection: nghttp2 takes an unexpected one for an error.
      const { start, end } = opening.settingsAck;
      const rest = Buffer.concat([head.subarray(0, start), head.subarray(end)]);
      const toGrpc = opening.request !== "unreadable" && isGrpcContentType(opening.request.contentType);
      handOff(rest, toGrpc ? grpc.mixed : (s) => this.h2.emit("connection", s));
    };
    socket.on("data", onData);
  }
}
