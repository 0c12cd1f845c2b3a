import { request } from "node:http";
import Database from "better-sqlite3";
import { join } from "node:path";
import { existsSync } from "node:fs";

/**
 * Asks Prosody's own invite page whether an invite link is valid: mod_invites_page answers a valid
 * token with `Link: <xmpp:…preauth=TOKEN…>; rel="alternate"`, an invalid one without it. The link
 * names the VirtualHost, so the request goes to Prosody's loopback port with that Host header.
 */
export function inviteIsValid(link: string, httpPort: number): Promise<boolean> {
  const url = new URL(link);
  const token = url.search.slice(1);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: httpPort, path: url.pathname + url.search, headers: { Host: url.host } },
      (res) => {
        res.resume();
        const header = res.headers.link ?? "";
        resolve(res.statusCode === 200 && header.includes(`preauth=${token}`) && header.includes('rel="alternate"'));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** How many invite tokens Prosody holds in its SQL store (each ad-hoc create adds one). */
export async function countInvites(dataDir: string): Promise<number> {
  const file = join(dataDir, "prosody.sqlite");
  // Prosody creates its database on the first write: none yet means no invite yet.
  if (!existsSync(file)) return 0;
  const db = new Database(file, { readonly: true, timeout: 5_000 });
  try {
    const row = db
      .prepare<[], { n: number }>(
        "SELECT count(*) AS n FROM prosody WHERE store = 'invite_token' AND key IS NOT NULL AND key != ''",
      )
      .get();
    return row?.n ?? 0;
  } finally {
    db.close();
  }
}
