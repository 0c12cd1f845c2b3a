// The floor for a refused key: a plain node:http server that does the least a correct check must
// do — read `?key=ID/SECRET` or `Authorization: Bearer ID/SECRET`, look the id up in a Map, compare
// the secret's SHA-256 in constant time — and answers 403. No framework, no logging, no store.
// Run as its own process by scripts/bench.ts, so that its CPU can be read from /proc like the
// service's. FLOOR_PORT: where to listen; FLOOR_KEY: the one valid key, as ID/SECRET.
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

const sha256 = (text: string) => createHash("sha256").update(text).digest();

const [validId = "", validSecret = ""] = (process.env.FLOOR_KEY ?? "").split("/");
const keys = new Map<string, Buffer>([[validId, sha256(validSecret)]]);

function keyOf(url: string, authorization: string | undefined): string | null {
  if (authorization !== undefined) {
    return /^bearer /i.test(authorization) ? authorization.slice(7).trim() : null;
  }
  const query = url.indexOf("?");
  return query < 0 ? null : new URLSearchParams(url.slice(query + 1)).get("key");
}

function valid(key: string | null): boolean {
  const slash = key?.indexOf("/") ?? -1;
  if (!key || slash <= 0) return false;
  const stored = keys.get(key.slice(0, slash));
  return stored !== undefined && timingSafeEqual(stored, sha256(key.slice(slash + 1)));
}

createServer((req, res) => {
  if (valid(keyOf(req.url ?? "/", req.headers.authorization))) {
    res.writeHead(201, { "Content-Length": "0" }).end();
  } else {
    res.writeHead(403, { "Content-Type": "text/plain; charset=utf-8" }).end("Forbidden");
  }
}).listen(Number(process.env.FLOOR_PORT), "127.0.0.1");
