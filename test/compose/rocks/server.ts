import { createReadStream, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join, normalize } from "node:path";

/** Serves a LuaRocks server folder on 127.0.0.1: the test's stand-in for modules.prosody.im/rocks/. */
export async function serveRocks(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = join(dir, normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)));
    let ok = false;
    try {
      ok = path.startsWith(dir) && statSync(path).isFile();
    } catch {
      // missing
    }
    if (!ok) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200);
    createReadStream(path).pipe(res);
  });
  // Reached from `docker build --network host` (test/compose/docker-compose.offline.yml).
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no address");
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
