import type { Exchange } from "./exchange.js";
import { headerFields } from "./header-fields.js";

// An HTTP/1.1 reply read from raw bytes, chunked bodies and trailers included.

// The reply in bytes, once it is complete (or the connection has ended).
export function parseHttp1(bytes: Buffer, head: boolean, ended: boolean): Exchange | undefined {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [statusLine, ...lines] = bytes.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1] ?? 0);
  const headers = headerFields(lines);
  const rest = bytes.subarray(end + 4);
  if (head) return { status, headers, trailers: {}, body: Buffer.alloc(0) };
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const chunked = dechunk(rest);
    if (chunked !== undefined) return { status, headers, ...chunked };
    return ended ? { status, headers, trailers: {}, body: rest } : undefined;
  }
  const length = headers["content-length"] === undefined ? undefined : Number(headers["content-length"]);
  if (length !== undefined && rest.length >= length) return { status, headers, trailers: {}, body: rest.subarray(0, length) };
  return ended ? { status, headers, trailers: {}, body: rest } : undefined;
}

// A chunked body and its trailers (gRPC over HTTP/1.1 has them), or
// undefined until the last chunk has come.
export function dechunk(bytes: Buffer): { body: Buffer; trailers: Record<string, string> } | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(bytes.subarray(at, lineEnd).toString("latin1"), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) {
      const end = bytes.indexOf("\r\n\r\n", lineEnd);
      if (end < 0) return undefined;
      return {
        body: Buffer.concat(parts),
        trailers: headerFields(
          bytes
            .subarray(lineEnd + 2, end)
            .toString("latin1")
            .split("\r\n"),
        ),
      };
    }
    if (bytes.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
