// What every client connection on every port must do in time, and how fast
// one client address may open connections and cancel streams
// (ROLLCALL_HEADERS_TIMEOUT_MS and the others, src/config.ts).
export interface ConnectionLimits {
  // A new connection sends a whole first request head (HTTP/1.1) or opens a
  // stream (HTTP/2) within this; so does a later HTTP/1.1 request, from its
  // first byte.
  headersTimeoutMs: number;
  // A request, headers and body, arrives within this; an HTTP/2 stream whose
  // client has not ended its side by then is reset.
  requestTimeoutMs: number;
  // A keep-alive connection with no request in flight closes after this.
  idleTimeoutMs: number;
  // SETTINGS_MAX_CONCURRENT_STREAMS of every HTTP/2 connection.
  maxConcurrentStreams: number;
  // Token buckets per client address: new connections beyond them are
  // closed at once; a connection whose streams its client cancels beyond
  // them gets GOAWAY and is closed.
  connectionsPerSecond: number;
  connectionBurst: number;
  resetsPerSecond: number;
  resetBurst: number;
}
