import type { Check } from "./report.js";

const NAME = "invite page";

/**
 * Opens the landing page of a made-up invite (mod_invites_manage builds its address as
 * mod_invites_page does): Prosody answers it with its "invalid invite" page, HTML, when the page is
 * served. No invite is made.
 */
export async function checkInvitePage(host: string, url: string, timeoutMs: number): Promise<Check> {
  const fix =
    `the page must be reachable at this address: check http_external_url (or invites_page) and http_ports ` +
    `under VirtualHost "${host}", and the proxy in front of Prosody`;
  try {
    const res = await fetch(url, { redirect: "follow", signal: AbortSignal.timeout(timeoutMs) });
    const type = res.headers.get("content-type") ?? "";
    await res.arrayBuffer();
    if (res.status < 500 && /html/i.test(type)) {
      return { name: NAME, status: "ok", detail: `answers at ${url} (HTTP ${res.status})` };
    }
    return {
      name: NAME,
      status: "fail",
      detail: `${url} answers HTTP ${res.status}, ${type || "no content type"}`,
      fix,
    };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const reason =
      (err as Error).name === "TimeoutError"
        ? `no answer within ${timeoutMs} ms`
        : (cause?.code ?? cause?.message ?? String(err));
    return { name: NAME, status: "fail", detail: `${url} does not answer (${reason})`, fix };
  }
}
