import { AppError } from "../errors.js";

/** A token as Prosody makes them (base64url; it may begin with '-'). */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
// A domain name of letters (any script), digits and hyphens, as XMPP hosts are (RFC 7622 domainpart).
const LABEL = String.raw`[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?`;
const HOST = new RegExp(String.raw`^(?=.{1,253}$)${LABEL}(?:\.${LABEL})*$`, "u");

export interface InviteTarget {
  readonly host: string;
  readonly token: string;
}

/** Whether an XMPP host is one this service serves (a key's or a webhook subscription's host). */
export type KnownHost = (host: string) => Promise<boolean>;

/**
 * The host and token of /invite/{host}/{token}, checked before anything reaches Prosody: a
 * malformed token, a malformed host or a host the service does not serve is `invite_not_found`,
 * as an unknown token is, so that a page never tells which part of a link was wrong.
 */
export async function inviteTarget(
  params: Record<string, string | undefined>,
  knownHost: KnownHost,
): Promise<InviteTarget> {
  const { host = "", token = "" } = params;
  if (!TOKEN.test(token) || !HOST.test(host) || !(await knownHost(host))) {
    throw new AppError("invite_not_found", "no such invite");
  }
  return { host, token };
}
