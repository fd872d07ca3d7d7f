import http from "node:http";
import type http2 from "node:http2";
import type net from "node:net";
import { metricsContentType, metricsText } from "../../observability/metrics.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

export function isMetricsPath(url: string | undefined): boolean {
  return url === "/metrics" || (url !== undefined && url.startsWith("/metrics?"));
}

// GET /metrics: Prometheus' text format, public like the health checks (it
// names no account, room or participant).
export function metricsHandler(req: Request, res: Response): void {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
    res.end("Method not allowed\n");
    return;
  }
  metricsText().then(
    (text) => {
      res.writeHead(200, { "content-type": metricsContentType, "content-length": String(Buffer.byteLength(text)) });
      if (req.method === "HEAD") res.end();
      else res.end(text);
    },
    () => {
      res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      res.end("Could not collect the metrics\n");
    },
  );
}

// ROLLCALL_METRICS_PORT: /metrics alone on a port of its own (HTTP/1.1), for
// scrapers kept off the service's port.
export class MetricsServer {
  private readonly server = http.createServer((req, res) => {
    if (isMetricsPath(req.url)) return metricsHandler(req, res);
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end("Not found: this port serves /metrics\n");
  });

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
