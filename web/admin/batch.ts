import { ApiError } from "./api.js";
import type { Context } from "./context.js";
import { groupChoices, lifetimes } from "./createForm.js";
import { busy, byId } from "./dom.js";
import { sentence } from "./fields.js";
import type { Batch, Kind } from "./types.js";

type Field = "refs" | "count" | "groups" | "ttl";
const MOST = 1_000;
const REF_LENGTH = 200;

// Random enough that no two submissions share one; getRandomValues, unlike randomUUID, works on
// plain http:// too.
const newKey = (): string =>
  Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");

/**
 * May the same submission be sent again with the same Idempotency-Key? After no answer, a server
 * error or "still running", yes: the service then gives the first answer, or makes the batch once.
 * After any other answer, what to send has to change first, and a new submission gets a new key.
 */
const retryable = (err: unknown): boolean =>
  !(err instanceof ApiError) || err.status >= 500 || err.status === 409 || err.status === 429;

/**
 * The batch form: account or group invites, one per reference given (a line each) or so many
 * without, made with one POST /invites/batch. Each submission carries an Idempotency-Key of its
 * own, sent again when the same submission is retried, so that a retry after a lost answer makes
 * no second batch.
 */
export function batchForm(ctx: Context, made: (batch: Batch) => void): { configure(): void } {
  const form = byId<HTMLFormElement>("batch-form");
  const submit = form.querySelector<HTMLButtonElement>("button[type=submit]");
  const refs = byId<HTMLTextAreaElement>("batch-refs");
  const count = byId<HTMLInputElement>("batch-count");
  const kind = (): Kind =>
    (form.querySelector<HTMLInputElement>("input[name=batch-kind]:checked")?.value ?? "account") as Kind;
  let pending: { body: string; key: string } | undefined;

  function clearErrors(): void {
    for (const error of form.querySelectorAll<HTMLElement>(".error")) error.hidden = true;
    for (const invalid of form.querySelectorAll("[aria-invalid]")) invalid.removeAttribute("aria-invalid");
  }

  function showError(field: Field | undefined, text: string): void {
    const error = byId(field ? `batch-${field}-error` : "batch-error");
    error.textContent = text;
    error.hidden = false;
    const control =
      field === "groups"
        ? form.querySelector<HTMLInputElement>("input[name=batch-groups]")
        : field && byId(`batch-${field}`);
    if (control && field !== "groups") control.setAttribute("aria-invalid", "true");
    (control ?? submit)?.focus();
  }

  /** The invites to ask for, or the first fault in what was typed (shown at its field). */
  function invites(): object[] | undefined {
    const lines = refs.value.split("\n").map((line) => line.trim());
    const given = lines.filter(Boolean);
    const long = lines.findIndex((line) => line.length > REF_LENGTH || /\p{Cc}/u.test(line));
    const many = count.value.trim();
    const number = Number(many);
    const groups = [...form.querySelectorAll<HTMLInputElement>("input[name=batch-groups]:checked")].map((b) => b.value);
    const fault: [Field, string] | undefined =
      long >= 0
        ? ["refs", `Line ${long + 1} is over ${REF_LENGTH} characters, or holds a tab or another control character.`]
        : given.length > MOST
          ? ["refs", `At most ${MOST} lines, one a reference: there are ${given.length}.`]
          : given.length > 0 && many && number !== given.length
            ? ["count", `There are ${given.length} references: leave this empty, or give ${given.length}.`]
            : given.length === 0 && !(Number.isInteger(number) && number >= 1 && number <= MOST)
              ? ["count", `Give references, one a line, or how many: 1 to ${MOST}.`]
              : kind() === "group" && groups.length === 0
                ? ["groups", "Choose at least one group."]
                : undefined;
    if (fault) {
      showError(...fault);
      return undefined;
    }
    const ttl = byId<HTMLSelectElement>("batch-ttl").value;
    const item = { kind: kind(), ...(ttl ? { ttl: Number(ttl) } : {}), ...(groups.length ? { groups } : {}) };
    return given.length > 0 ? given.map((ref) => ({ ...item, ref })) : Array.from({ length: number }, () => item);
  }

  /** Where the service's 400 points (`invites[3].ttl: expected …`): its field and its words. */
  function refused(err: unknown): void {
    if (ctx.handled(err)) return;
    const [, index, name = "", rest = ""] = /^invites\[(\d+)\]\.(\w+): (.*)$/.exec((err as Error).message) ?? [];
    const field = ({ ref: "refs", ttl: "ttl", groups: "groups" } as Record<string, Field>)[name];
    const item = name === "ref" ? `Reference ${Number(index) + 1}: ` : "";
    showError(field, field ? `${item}${sentence(rest)}` : sentence((err as Error).message));
  }

  form.addEventListener("change", (event) => {
    if ((event.target as HTMLInputElement).name === "batch-kind") configureKind();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors();
    const asked = invites();
    if (!asked || !submit) return;
    const body = { invites: asked };
    const text = JSON.stringify(body);
    if (pending?.body !== text) pending = { body: text, key: newKey() };
    const { key } = pending;
    void busy(submit, async () => {
      try {
        const { body: batch } = await ctx.call<Batch>("POST", "invites/batch", body, { "Idempotency-Key": key });
        pending = undefined;
        if (batch.created === 0) {
          const first = batch.invites.find((answer) => "error" in answer);
          showError(undefined, sentence(first && "message" in first ? first.message : "Nothing was made."));
          return;
        }
        refs.value = count.value = "";
        made(batch);
      } catch (err) {
        if (!retryable(err)) pending = undefined;
        refused(err);
      }
    });
  });

  function configureKind(): void {
    byId("batch-ttl").replaceChildren(...lifetimes(ctx.options(), kind()));
    clearErrors();
  }

  return {
    configure(): void {
      const options = ctx.options();
      const kinds = (["account", "group"] as const).filter(
        (k) => options.can.includes(k) && (k === "account" || options.groups.length > 0),
      );
      byId("batch").hidden = kinds.length === 0;
      for (const choice of form.querySelectorAll<HTMLElement>("[data-kind]")) {
        choice.hidden = !kinds.includes(choice.dataset.kind as "account");
      }
      byId("batch-groups").replaceChildren(...groupChoices(options, "batch-groups"));
      byId("batch-groups-field").hidden = options.groups.length === 0;
      form.reset();
      const first = form.querySelector<HTMLInputElement>(`input[name=batch-kind][value=${kinds[0] ?? "account"}]`);
      if (first) first.checked = true;
      pending = undefined;
      configureKind();
    },
  };
}
