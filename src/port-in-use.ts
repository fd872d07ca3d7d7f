import type { SettingName } from "./config.js";

// A port to listen on that another process holds, named by the variable that
// chose it, so that the message says what to change.
export class PortInUseError extends Error {
  override readonly name = "PortInUseError";
}

export async function listening<T>(variable: SettingName, port: number, host: string, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (error) {
    // Node's listen reports EADDRINUSE in the error's code; @grpc/grpc-js only in its message.
    const inUse = (error as NodeJS.ErrnoException).code === "EADDRINUSE" || String((error as Error).message).includes("EADDRINUSE");
    if (!inUse) throw error;
    throw new PortInUseError(
      `port ${port} on ${host} is in use by another process: set ${variable} to a free port (0 picks one), or stop the process holding it`,
      { cause: error },
    );
  }
}
