// HTTP/1.1 request heads as bytes, for tests that send them whole, in part,
// or at their own pace.
export function http1Head(method: string, path: string, headers: Record<string, string> = {}): string {
  const lines = [`${method} ${path} HTTP/1.1`, "host: 127.0.0.1", ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  return lines.join("\r\n") + "\r\n\r\n";
}

// The status codes of the responses in `bytes`, in order.
export function http1Statuses(bytes: Buffer): number[] {
  return [...bytes.toString("latin1").matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));
}
