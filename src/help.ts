import { settings } from "./config.js";

// What `--help` prints: how to start rollcall and every environment variable
// it reads, with its default, from the one table configFromEnv reads by.
export function helpText(version: string): string {
  const rows = Object.entries(settings).map(([name, setting]) => [name, setting.default ?? "(unset)", setting.meaning]);
  const width = (column: number) => Math.max(...rows.map((row) => row[column]!.length));
  return [
    `rollcall ${version}: who is in which video room, over gRPC, gRPC-Web, Connect and Twilio's Video REST API`,
    "",
    "usage: node dist/src/main.js [--help | --version]",
    "",
    "Settings are environment variables (variable, default, meaning):",
    ...rows.map(([name, fallback, meaning]) => `  ${name!.padEnd(width(0))}  ${fallback!.padEnd(width(1))}  ${meaning}`),
    "",
    "Without ROLLCALL_CREDENTIALS_FILE, development credentials are made and printed at start.",
    "",
  ].join("\n");
}
