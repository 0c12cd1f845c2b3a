import Koa from "koa";
import Router from "@koa/router";
import type { KeyStore } from "../keys/keyStore.js";
import type { Logger } from "../log.js";
import type { InviteIssuer } from "../xmpp/inviteIssuer.js";
import { originalCors } from "./cors.js";
import { errorResponses } from "./errors.js";
import { issueInvite } from "./invites.js";
import { requireApiKey } from "./requireApiKey.js";

export interface HttpDeps {
  readonly keys: KeyStore;
  readonly issuer: InviteIssuer;
  readonly log: Logger;
}

/** The Koa application; tests drive `app.callback()` directly, app.ts gives it a port. */
export function createHttpApp(deps: HttpDeps): Koa {
  const app = new Koa();
  const router = new Router();

  const invite = [requireApiKey({ keys: deps.keys }), issueInvite({ issuer: deps.issuer })];
  router.get("/invites_api", ...invite);
  router.post("/invites_api", ...invite);

  app.use(originalCors());
  app.use(errorResponses(deps.log));
  app.use(router.routes());
  app.use(router.allowedMethods());
  // errorResponses catches everything; this only guards against a failure while writing the answer.
  app.on("error", (err: Error) => deps.log.error({ err: { name: err.name, message: err.message } }, "http error"));
  return app;
}
