// The JSON bodies of the API, as TypeScript types inferred from their schemas (wire/answers.ts).
// Types only: the admin page (web/admin/) imports these without bundling zod.
import type { z } from "zod";
import type * as answers from "./wire/answers.js";

export type InviteJson = z.infer<typeof answers.inviteRecord>;
export type InviteOptionsJson = z.infer<typeof answers.inviteOptions>;
export type ArrivalJson = z.infer<typeof answers.arrival>;
export type BatchJson = z.infer<typeof answers.batchAnswer>;
export type BudgetJson = z.infer<typeof answers.budget>;
export type DropInInviteJson = z.infer<typeof answers.dropInInvite>;
export type ErrorJson = z.infer<typeof answers.errorAnswer>;
export type HealthJson = z.infer<typeof answers.health>;
export type ReadinessJson = z.infer<typeof answers.readiness>;
export type { Kind } from "./wire/requests.js";
