// A request as the randomized tests send it, byte for byte, and what came back.

export interface WireRequest {
  http: 1 | 2;
  port: "main" | "grpc";
  method: string;
  // As sent; for HTTP/1.1 written byte for byte (latin1).
  path: string;
  headers: [string, string][];
  body: Buffer;
  // HTTP/1.1 only: the case writes its own framing headers, so no content-length is added.
  ownFraming?: boolean;
}

export interface Exchange {
  status: number;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
}

// A reset is how an HTTP/2 server refuses a stream it will not read, e.g.
// one with too many headers.
export type Outcome = Exchange | { reset: number } | { failure: string };
