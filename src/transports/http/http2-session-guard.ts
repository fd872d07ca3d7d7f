import http2 from "node:http2";
import { connectionsRefused } from "../../observability/metrics.js";
import type { AddressBuckets } from "./address-buckets.js";
import type { ConnectionLimits } from "./connection-limits.js";

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

// How long a session may take to answer the PING that checks it is alive.
const pingTimeoutMs = 2000;

// Makes an HTTP/2 session, of connect-node's server or of grpc-js's, end in
// time and close its socket whatever ends it:
// - its first stream opens within headersTimeoutMs, a stream's client ends
//   its side within requestTimeoutMs (else the stream is reset), and with no
//   stream open for idleTimeoutMs the session closes;
// - an error, or a GOAWAY from the client with nothing in flight, destroys
//   it; a GOAWAY with streams in flight, or streams its client reset, make it
//   prove it is alive with a PING (unless it is already closing). nghttp2 answers a flood of resets with a
//   GOAWAY of its own and stops reading, and Node says nothing of it: without
//   this check its socket stayed open after the client left (CLOSE-WAIT);
// - streams reset by its client spend tokens of its address (`resets`);
//   past them it gets GOAWAY ENHANCE_YOUR_CALM and is destroyed.
export function guardSession(session: http2.ServerHttp2Session, limits: ConnectionLimits, resets: AddressBuckets): void {
  const address = session.socket?.remoteAddress;
  let open = 0;
  let checking = false;
  const destroy = () => {
    if (!session.destroyed) session.destroy();
  };
  const checkAlive = () => {
    // A closing session ends with its last stream, or at the end of the
    // server's shutdown grace.
    if (checking || session.closed || session.destroyed) return;
    checking = true;
    const timer = setTimeout(destroy, pingTimeoutMs).unref();
    const answered = () => {
      clearTimeout(timer);
      checking = false;
    };
    try {
      if (!session.ping((error) => (error ? destroy() : answered()))) destroy();
    } catch {
      destroy();
    }
  };
  // The first stream must come within headersTimeoutMs; later, a stream
  // within idleTimeoutMs of the end of the last.
  let quietMs = limits.headersTimeoutMs;
  let quietSince = performance.now();
  let idle: NodeJS.Timeout | undefined;
  const onQuiet = () => {
    idle = undefined;
    if (open > 0 || session.closed || session.destroyed) return;
    const left = quietSince + quietMs - performance.now();
    if (left > 0) {
      idle = setTimeout(onQuiet, left).unref();
      return;
    }
    // A live session without streams closes at once; one nghttp2 gave up on
    // never does.
    session.close();
    setTimeout(destroy, pingTimeoutMs).unref();
  };
  idle = setTimeout(onQuiet, quietMs).unref();
  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    open++;
    quietMs = limits.idleTimeoutMs;
    let resetHere = false;
    const deadline = setTimeout(() => {
      if (stream.destroyed || stream.state.remoteClose) return;
      resetHere = true;
      stream.close(NGHTTP2_CANCEL);
    }, limits.requestTimeoutMs).unref();
    stream.once("close", () => {
      clearTimeout(deadline);
      if (--open === 0) {
        quietSince = performance.now();
        idle ??= setTimeout(onQuiet, quietMs).unref();
      }
      if (stream.rstCode === undefined || stream.rstCode === NGHTTP2_NO_ERROR || resetHere || session.destroyed) return;
      if (!resets.take(address)) {
        connectionsRefused.labels("reset_rate").inc();
        session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
        destroy();
        return;
      }
      checkAlive();
    });
  });
  session.on("error", destroy);
  session.on("frameError", (_type: number, _code: number, id: number) => id === 0 && destroy());
  session.on("goaway", () => (open === 0 ? destroy() : checkAlive()));
  // A destroyed session destroys its socket.
  session.once("close", () => clearTimeout(idle));
}
