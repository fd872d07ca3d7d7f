import { createLogger, type Logger } from "../../src/observability/logger.js";

// A log line as pino writes it.
export interface LogRecord {
  level: number;
  msg: string;
  component?: string;
  [field: string]: unknown;
}

// Every line logged by the servers of this test process, for the check at
// the end of the run that none carries a test credential (fixtures.ts).
export const everyLogLine: string[] = [];

// A pino logger at info whose JSON lines are kept here instead of printed.
export class LogCapture {
  readonly lines: string[] = [];
  readonly logger: Logger;

  constructor(level = "info") {
    this.logger = createLogger({
      level,
      format: "json",
      destination: {
        write: (line: string) => {
          this.lines.push(line);
          everyLogLine.push(line);
        },
      },
    });
  }

  records(): LogRecord[] {
    return this.lines.map((line) => JSON.parse(line) as LogRecord);
  }

  // The messages, each with its component: "callbacks: gave up ...".
  messages(): string[] {
    return this.records().map((record) => (record.component === undefined ? record.msg : `${record.component}: ${record.msg}`));
  }

  // The access lines, one per request or RPC.
  access(): LogRecord[] {
    return this.records().filter((record) => record.component === "access");
  }
}
