import type { KeyInfo } from "../keys/keyRecord.js";
import { keyOfSource } from "../xmpp/inviteManager.js";
import { isPerson } from "./caller.js";

/**
 * Who did something, as answers, webhooks and audit lines name them: a person by their bare JID,
 * a key as `key:ID` (a JID never starts with "key:" and a key id never holds "@").
 */
export const authorName = (apiKey: Pick<KeyInfo, "id">): string => (isPerson(apiKey) ? apiKey.id : `key:${apiKey.id}`);

/**
 * Who made an invite, from what Prosody keeps: the person or key of an invite made through the
 * service (its source, invites-api/ID); else its inviter (a user's own invite); else the JID an
 * admin's command recorded (adhoc/JID); null when none says.
 */
export function inviteAuthor(invite: { source?: string | undefined; inviter?: string | undefined }, host: string) {
  const id = keyOfSource(invite.source);
  if (id) return isPerson({ id }) ? id : `key:${id}`;
  if (invite.inviter) return invite.inviter.includes("@") ? invite.inviter : `${invite.inviter}@${host}`;
  const adhoc = invite.source?.startsWith("adhoc/") ? invite.source.slice("adhoc/".length) : "";
  return adhoc || null;
}

/**
 * Who revoked an invite, from what the module keeps (ManagedInvite.revokedBy): the person or key
 * that asked the service (invites-api/ID), else the JID that ran the command (an admin's); null
 * when none says (revoked before the module kept it, or deleted outside it).
 */
export function revocationAuthor(invite: { revokedBy?: string | undefined }): string | null {
  const id = keyOfSource(invite.revokedBy);
  if (id) return isPerson({ id }) ? id : `key:${id}`;
  return invite.revokedBy || null;
}

/** The audit line's fields naming who acted: `person` for a person, `keyId` for a key. */
export const auditActor = (apiKey: Pick<KeyInfo, "id">): { person: string } | { keyId: string } =>
  isPerson(apiKey) ? { person: apiKey.id } : { keyId: apiKey.id };
