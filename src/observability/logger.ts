import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger } from "pino";

export type LogFormat = "json" | "pretty";

export interface LoggerOptions {
  // pino's levels: trace, debug, info, warn, error, fatal, silent.
  level: string;
  format: LogFormat;
  // Where JSON lines go instead of stdout (tests read them).
  destination?: DestinationStream;
}

// Values that never reach a log line, should one be handed to the logger by
// mistake: credentials, whole headers, page tokens.
const redactedPaths = [
  "authorization",
  "headers.authorization",
  "*.headers.authorization",
  "password",
  "*.password",
  "secret",
  "*.secret",
  "authToken",
  "*.authToken",
  "auth_token",
  "pageToken",
  "*.pageToken",
  "page_token",
];

const flushIntervalMs = 100;

// pino JSON lines, on stdout through a buffered asynchronous writer, so that
// an access line per call does not stall the event loop on a write (lines
// go out in writes of 8 KiB, or every 100 ms); the buffer is written out when
// the process exits. The pretty format is pino's
// own pino-pretty (a worker thread), for people reading a terminal.
export function createLogger(options: LoggerOptions): Logger {
  const base = { level: options.level, redact: { paths: redactedPaths, censor: "[redacted]" }, base: { pid: process.pid } };
  if (options.destination !== undefined) return pino(base, options.destination);
  if (options.format === "pretty") return pino({ ...base, transport: { target: "pino-pretty", options: { colorize: true } } });
  const stdout = pino.destination({ dest: 1, sync: false, minLength: 8 * 1024 });
  // A quiet server's lines wait no longer than this for the buffer to fill.
  setInterval(() => stdout.flush(), flushIntervalMs).unref();
  process.once("exit", () => stdout.flushSync());
  return pino(base, stdout);
}
