import { z } from "zod";
import * as answers from "./answers.js";
import { INVITE_BODIES, batchBody, budgetBody, updateBody } from "./requests.js";
import * as session from "../../people/wire.js";

/** The schemas /openapi.json names under components.schemas. */
const COMPONENTS = {
  Invite: answers.dropInInvite,
  InviteRecord: answers.inviteRecord,
  AccountInviteRequest: INVITE_BODIES.account,
  GroupInviteRequest: INVITE_BODIES.group,
  ResetInviteRequest: INVITE_BODIES.reset,
  BatchRequest: batchBody,
  BatchAnswer: answers.batchAnswer,
  InviteUpdate: updateBody,
  Budget: answers.budget,
  BudgetChange: budgetBody,
  Error: answers.errorAnswer,
  Health: answers.health,
  Part: answers.part,
  InviteOptions: answers.inviteOptions,
  Arrival: answers.arrival,
  Readiness: answers.readiness,
  SignInMethods: session.methodsAnswer,
  SignInLinkSent: session.linkAnswer,
  SignInLinkRedeem: session.redeemRequest,
  Session: session.sessionAnswer,
  SessionChange: session.sessionPatch,
} as const;

/**
 * Requests whose pipe only normalises a value the route has already checked (the sign-in link's JID
 * is lowercased): stated as the client sends them, since a transform has no JSON Schema.
 */
const INPUT_COMPONENTS = {
  SignInLinkRequest: session.linkRequest,
} as const;

// JSON Schema 2020-12, the dialect of OpenAPI 3.1. Requests are stated as the routes check them:
// after each pipe (repeats dropped from a list, a query's digits read as a number), so the output
// side, which carries the limits; answers have no pipes, so both sides are the same.
// A whole number's default bounds (±2^53 - 1) say nothing a client needs: left out.
const OPTIONS = {
  target: "draft-2020-12",
  io: "output",
  override: ({ jsonSchema }: { jsonSchema: JsonSchema }) => {
    if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
    if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
  },
} as const;

type JsonSchema = Record<string, unknown>;

// Each schema sits inside the document, which says the dialect once.
const bare = ({ $schema: _dialect, $id: _id, ...schema }: JsonSchema): JsonSchema => schema;

/** components.schemas, each referring to the others by $ref. */
export function componentSchemas(): Record<keyof typeof COMPONENTS | keyof typeof INPUT_COMPONENTS, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { ...OPTIONS, uri: (id) => `#/components/schemas/${id}` });
  const inputs = Object.entries(INPUT_COMPONENTS).map(([id, schema]) => [
    id,
    bare(z.toJSONSchema(schema, { ...OPTIONS, io: "input" })),
  ]);
  return Object.fromEntries([
    ...Object.entries(schemas).map(([id, schema]) => [id, bare(schema)]),
    ...inputs,
  ]) as Record<keyof typeof COMPONENTS | keyof typeof INPUT_COMPONENTS, JsonSchema>;
}

/** One OpenAPI query parameter per field of `query`, its description lifted from the schema. */
export function queryParameters(query: z.ZodObject) {
  return Object.entries(query.shape).map(([name, field]) => {
    const { description, ...schema } = bare(z.toJSONSchema(field, OPTIONS));
    return { name, in: "query", ...(typeof description === "string" ? { description } : {}), schema };
  });
}
