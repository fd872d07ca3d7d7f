import net from "node:net";
import type { Outcome, WireRequest } from "./exchange.js";
import { parseHttp1 } from "./http1-reply.js";

// HTTP/1.1 written by hand over a socket, so that the request line, the
// headers and the framing can be anything, as no HTTP client would send them.
export function http1(port: number, request: WireRequest, timeoutMs: number): Promise<Outcome> {
  const lines = [
    `${request.method} ${request.path} HTTP/1.1`,
    `host: 127.0.0.1:${port}`,
    ...request.headers.map(([name, value]) => `${name}: ${value}`),
  ];
  if (!request.ownFraming) lines.push(`content-length: ${request.body.length}`);
  lines.push("connection: close", "", "");
  const bytes = Buffer.concat([Buffer.from(lines.join("\r\n"), "latin1"), request.body]);
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => settle({ failure: `no reply within ${timeoutMs} ms` }), timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      const exchange = parseHttp1(Buffer.concat(chunks), request.method === "HEAD", false);
      if (exchange !== undefined) settle(exchange);
    });
    // A reset after the server refused a large body is fine once the reply is in.
    socket.on("error", () => {});
    socket.on("close", () =>
      settle(parseHttp1(Buffer.concat(chunks), request.method === "HEAD", true) ?? { failure: "the connection closed without a reply" }),
    );
    socket.write(bytes);
  });
}
