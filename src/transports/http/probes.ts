import type http from "node:http";
import type http2 from "node:http2";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

// Plain HTTP probes for load balancers and Kubernetes, public like
// grpc.health.v1: GET /healthz (liveness: the process answers) and GET
// /readyz (readiness: every check passes within its time, and the server is
// not draining). Readiness is a list of named checks, so that another
// condition ("writes can succeed") is one more entry where the server is wired.

export interface ReadinessCheck {
  // Names the check in the answer: {"checks": {"store": "ok"}}.
  name: string;
  // Resolves when ready; rejects, or takes longer than the probe's timeout, when not.
  check: () => Promise<void>;
}

export interface ProbeOptions {
  readiness: ReadinessCheck[];
  // Aborted once shutdown begins: not ready from then on, so that traffic moves away.
  draining: AbortSignal;
  timeoutMs: number;
}

const paths = new Set(["/healthz", "/readyz"]);

export function isProbePath(url: string | undefined): boolean {
  return url !== undefined && paths.has(url.split("?", 1)[0]!);
}

export function probesHandler(options: ProbeOptions) {
  return (req: Request, res: Response): void => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      answer(req, res, 405, { status: "method not allowed" }, { allow: "GET, HEAD" });
      return;
    }
    if (req.url!.startsWith("/healthz")) {
      answer(req, res, 200, { status: "ok" });
      return;
    }
    void readiness(options).then(({ ready, body }) => answer(req, res, ready ? 200 : 503, body));
  };
}

async function readiness(options: ProbeOptions): Promise<{ ready: boolean; body: object }> {
  if (options.draining.aborted) return { ready: false, body: { status: "draining" } };
  const outcomes = await Promise.all(options.readiness.map(({ check }) => within(check, options.timeoutMs)));
  const checks = Object.fromEntries(options.readiness.map(({ name }, i) => [name, outcomes[i]!]));
  const ready = outcomes.every((outcome) => outcome === "ok") && !options.draining.aborted;
  return { ready, body: { status: ready ? "ready" : "not ready", checks } };
}

// "ok", or why not, without the error's own message: the probe is public, and
// a store's error names internal hosts.
function within(check: () => Promise<void>, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
    check()
      .then(
        () => resolve("ok"),
        () => resolve("failing"),
      )
      .finally(() => clearTimeout(timer));
  });
}

function answer(req: Request, res: Response, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "cache-control": "no-store",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  if (req.method === "HEAD") res.end();
  else res.end(text);
}
