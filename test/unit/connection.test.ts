import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { PassThrough } from "node:stream";
import { after, describe, it } from "node:test";
import { createLogger } from "../../src/log.js";
import { connectComponent, type ComponentConnection } from "../../src/xmpp/connection.js";

/** What the fake server does with the component's <handshake/> on one connection. */
type Answer = "accept" | "ignore" | "wrong-element";

/**
 * A fake XEP-0114 server (unit tests only): answers the stream header, then treats the handshake
 * as the next entry of `answers` says (the last entry repeats). Counts connections and closes.
 */
async function fakeComponentServer(answers: Answer[]) {
  const sockets = new Set<Socket>();
  let connections = 0;
  let closed = 0;
  const server: Server = createServer((socket) => {
    const answer = answers[Math.min(connections, answers.length - 1)];
    connections++;
    sockets.add(socket);
    socket.on("close", () => {
      closed++;
      sockets.delete(socket);
    });
    socket.on("error", () => undefined);
    let input = "";
    socket.on("data", (chunk) => {
      input += chunk.toString();
      if (input.includes("<stream:stream") && !input.includes("\u0000header")) {
        input += "\u0000header";
        socket.write(
          `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' ` +
            `xmlns:stream='http://etherx.jabber.org/streams' id='fake-${connections}' from='c.example.test'>`,
        );
      }
      if (input.includes("</stream:stream>")) socket.end("</stream:stream>");
      if (input.includes("</handshake>") && !input.includes("\u0000answered")) {
        input += "\u0000answered";
        if (answer === "accept") socket.write("<handshake/>");
        if (answer === "wrong-element") socket.write("<message from='example.test'/>");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    connections: () => connections,
    closed: () => closed,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function connect(port: number): { conn: ComponentConnection; logged: () => string } {
  const out = new PassThrough();
  let logged = "";
  out.on("data", (chunk: Buffer) => (logged += chunk.toString()));
  const conn = connectComponent({
    service: `xmpp://127.0.0.1:${port}`,
    domain: "c.example.test",
    secret: "s3cret",
    reconnect: { minMs: 20, maxMs: 40 },
    handshakeTimeoutMs: 300,
    log: createLogger("debug", out),
  });
  return { conn, logged: () => logged };
}

async function onlineWithin(conn: ComponentConnection, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([conn.online().then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe("component connection", () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("a handshake Prosody never answers is dropped and tried again, never left half-open", async () => {
    const server = await fakeComponentServer(["ignore", "ignore", "accept"]);
    cleanups.push(server.stop);
    const { conn, logged } = connect(server.port);
    cleanups.push(() => conn.stop());
    assert.ok(await onlineWithin(conn, 5_000), `online after unanswered handshakes; log:\n${logged()}`);
    assert.equal(server.connections(), 3);
    assert.equal(server.closed(), 2, "each unanswered connection was closed, none left open beside the live one");
    assert.equal(conn.status().online, true);
    assert.doesNotMatch(logged(), /s3cret/);
  });

  it("an answer to the handshake that is not <handshake/> is a failed attempt, tried again", async () => {
    const server = await fakeComponentServer(["wrong-element", "accept"]);
    cleanups.push(server.stop);
    const { conn, logged } = connect(server.port);
    cleanups.push(() => conn.stop());
    assert.ok(await onlineWithin(conn, 5_000), `online after a wrong answer; log:\n${logged()}`);
    assert.equal(server.connections(), 2);
    assert.equal(server.closed(), 1);
  });

  it("says what is wrong while the handshake goes unanswered", async () => {
    const server = await fakeComponentServer(["ignore"]);
    cleanups.push(server.stop);
    const { conn } = connect(server.port);
    cleanups.push(() => conn.stop());
    assert.equal(await onlineWithin(conn, 1_000), false);
    assert.ok(server.connections() >= 2, "tried again");
    assert.match(conn.status().problem ?? "", /handshake/);
  });
});
