/**
 * keyv's namespace for what the store keeps about people (issue 29): sessions (`session:HASH`,
 * with the idle timeout as TTL), sign-outs everywhere (`signout:JID`), inviters' choice of hearing
 * back (`notify:JID`). In the backend of the key records, apart from them.
 */
export const PEOPLE_NAMESPACE = "invites-api-people";

/** Values past their TTL removed per write, where the backend keeps them until read (SQL). */
export const PEOPLE_SWEEP = 100;
