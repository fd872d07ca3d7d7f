import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type http from "node:http";
import type http2 from "node:http2";
import path from "node:path";
import { fileURLToPath } from "node:url";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

// The browser console's static files (built by `npm run build` into
// dist/console) under /console. Only a flat set of names with known types is
// served: no directory, no dot files, no path traversal. Every answer carries
// a strict Content-Security-Policy: the console runs only its own script.

export const consoleContentSecurityPolicy =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

// A single path segment: letters, digits, dot, dash and underscore, not
// starting with a dot. Percent-escapes and slashes never match.
const fileName = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export function isConsolePath(url: string | undefined): boolean {
  return url !== undefined && (url === "/console" || url.startsWith("/console/") || url.startsWith("/console?"));
}

// dist/console of the package this module belongs to, whether it runs from
// src/ (tsx) or from dist/src/ (the build).
export function defaultConsoleDirectory(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, "package.json"))) return path.join(dir, "dist", "console");
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve("dist", "console");
    dir = parent;
  }
}

function securityHeaders(): Record<string, string> {
  return {
    "content-security-policy": consoleContentSecurityPolicy,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
  };
}

export function consoleFilesHandler(directory: string = defaultConsoleDirectory()): (req: Request, res: Response) => void {
  function send(req: Request, res: Response, status: number, headers: Record<string, string>, body: string | Buffer): void {
    const bytes = typeof body === "string" ? Buffer.from(body) : body;
    res.writeHead(status, { ...securityHeaders(), "content-length": String(bytes.length), ...headers });
    if (req.method === "HEAD") res.end();
    else res.end(bytes);
  }

  return (req, res) => {
    const url = req.url ?? "/console";
    const pathname = url.split("?", 1)[0] ?? "";
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(req, res, 405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }, "Method not allowed\n");
      return;
    }
    const notFound = () => send(req, res, 404, { "content-type": "text/plain; charset=utf-8" }, "Not found\n");
    const rest = pathname === "/console" || pathname === "/console/" ? "index.html" : pathname.slice("/console/".length);
    const type = contentTypes[path.extname(rest)];
    if (!fileName.test(rest) || type === undefined) return notFound();
    readFile(path.join(directory, rest)).then(
      (body) => send(req, res, 200, { "content-type": type }, body),
      (error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT" || error.code === "EISDIR" || error.code === "ENOTDIR") {
          if (rest === "index.html") {
            return send(req, res, 404, { "content-type": "text/plain; charset=utf-8" }, "The console is not built: run `npm run build`.\n");
          }
          return notFound();
        }
        send(req, res, 500, { "content-type": "text/plain; charset=utf-8" }, "Could not read the file\n");
      },
    );
  };
}
