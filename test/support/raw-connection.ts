import net from "node:net";

// A client socket that sends exactly the bytes a test gives it and records
// what comes back, and when the server closed it.
export interface RawConnection {
  socket: net.Socket;
  send(bytes: Buffer | string): void;
  received(): Buffer;
  // Resolves once the server closed the connection (or it failed).
  closed: Promise<void>;
  isClosed(): boolean;
}

export async function rawConnection(port: number): Promise<RawConnection> {
  const socket = net.connect(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => {});
  const closedPromise = new Promise<void>((resolve) =>
    socket.on("close", () => {
      closed = true;
      resolve();
    }),
  );
  // The server ending its side counts as closing: a half-open socket is what it must not keep.
  socket.on("end", () => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return {
    socket,
    send: (bytes) => socket.write(bytes),
    received: () => Buffer.concat(chunks),
    closed: closedPromise,
    isClosed: () => closed,
  };
}
