import { connect } from "node:net";

/**
 * Sends raw bytes as one HTTP request and resolves with the status code of the answer, or 0 when
 * the connection closed without one. Raw, because fetch refuses to send most malformed requests.
 */
export function rawRequest(port: number, request: Buffer, timeoutMs = 5_000): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    const finish = () => {
      socket.destroy();
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      resolve(match ? Number(match[1]) : 0);
    };
    socket.setTimeout(timeoutMs, finish);
    socket.on("data", (chunk) => {
      received += chunk.toString("latin1");
      if (received.includes("\r\n")) finish();
    });
    socket.on("error", finish);
    socket.on("close", finish);
    socket.write(request);
  });
}
