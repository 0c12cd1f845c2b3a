// The API's own answer types: the page and the service cannot drift apart unnoticed.
export type { InviteJson as Invite } from "../../src/http/apiTypes.js";
export type { InviteOptionsJson as Options } from "../../src/http/apiTypes.js";

export type Kind = "account" | "group" | "reset";
