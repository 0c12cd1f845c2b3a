// The API's own answer types, inferred from its schemas (src/http/wire/): the page and the service
// cannot drift apart unnoticed. Types only, so that zod stays out of the page's bundle.
export type {
  BatchJson as Batch,
  BudgetJson as Budget,
  InviteJson as Invite,
  InviteOptionsJson as Options,
  Kind,
} from "../../src/http/apiTypes.js";

/** A person's session (GET /session), as src/people/ answers it. */
export interface PersonSession {
  readonly jid: string;
  readonly host: string;
  readonly role: string;
  readonly via: "link" | "oauth";
  readonly powers: readonly string[];
  readonly circles: readonly string[] | null;
  readonly own_only: boolean;
  readonly quota: {
    readonly limit: number;
    readonly used: number;
    readonly left: number;
    readonly window_seconds: number;
    readonly next_at: string | null;
  } | null;
  readonly notify: boolean;
  readonly csrf: string;
  readonly expires_at: string;
}

/** GET /session/methods: how a person may sign in here. */
export interface SignInMethods {
  readonly link: boolean;
  readonly oauth: readonly string[];
}
