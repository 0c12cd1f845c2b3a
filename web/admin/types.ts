// The API's own answer types, inferred from its schemas (src/http/wire/): the page and the service
// cannot drift apart unnoticed. Types only, so that zod stays out of the page's bundle.
export type {
  BatchJson as Batch,
  BudgetJson as Budget,
  InviteJson as Invite,
  InviteOptionsJson as Options,
  Kind,
} from "../../src/http/apiTypes.js";
