// Every HTTP/2 connection with prior knowledge starts with this preface; an
// HTTP/1.1 request line never does.
export const http2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type PrefaceVerdict = "http2" | "http1" | "undecided";

// What the first bytes of a connection say: HTTP/2 once the whole preface has
// arrived, HTTP/1 as soon as a byte differs from it, undecided while they are
// a beginning of it.
export function prefaceVerdict(head: Buffer): PrefaceVerdict {
  const known = Math.min(head.length, http2Preface.length);
  const isHttp2 = head.subarray(0, known).equals(http2Preface.subarray(0, known));
  if (!isHttp2) return "http1";
  return head.length < http2Preface.length ? "undecided" : "http2";
}
