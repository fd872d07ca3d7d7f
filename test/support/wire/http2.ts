import http2 from "node:http2";
import type { Outcome, WireRequest } from "./exchange.js";

// One HTTP/2 session per request, so that a session the server ends for one
// case cannot fail another. Node's client sends no header block over 64 KiB
// unless told to; it is told to, so that the server decides about one.
export function http2Request(port: number, request: WireRequest, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${port}`, { maxSendHeaderBlockLength: 1024 * 1024 });
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => settle({ failure: `no reply within ${timeoutMs} ms` }), timeoutMs);
    session.on("error", (error: NodeJS.ErrnoException) => settle({ failure: `session error ${error.code ?? error.message}` }));
    const headers: http2.OutgoingHttpHeaders = { ":method": request.method, ":path": request.path };
    for (const [name, value] of request.headers) {
      const key = name.toLowerCase();
      const previous = headers[key];
      headers[key] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [String(previous)]), value];
    }
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: request.body.length === 0 });
    } catch (error) {
      settle({ failure: `the HTTP/2 client would not send it: ${(error as Error).message}` });
      return;
    }
    let head: http2.IncomingHttpHeaders | undefined;
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (received) => (head = received));
    stream.on("trailers", (received: http2.IncomingHttpHeaders) => (trailers = received));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => {});
    // The reply is complete when the server ends its side, even if it never
    // read the whole request (as when the request is over the limit).
    const done = () => {
      if (head === undefined) return settle(stream.rstCode ? { reset: stream.rstCode } : { failure: "the stream closed without a reply" });
      settle({ status: Number(head[":status"]), headers: flat(head), trailers: flat(trailers), body: Buffer.concat(chunks) });
    };
    stream.on("end", done);
    stream.on("close", done);
    if (request.body.length > 0) stream.end(request.body);
  });
}

export function flat(headers: http2.IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(", ") : String(value)]),
  );
}
