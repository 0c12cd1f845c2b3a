import { ApiError } from "./api.js";
import { confirmFirst } from "./confirm.js";
import type { Context } from "./context.js";
import { busy, byId, h } from "./dom.js";
import { sentence } from "./fields.js";
import { duration, when } from "./format.js";
import type { Budget } from "./types.js";

// The windows offered; a budget set otherwise (the CLI takes any) is offered too while it is set.
const WINDOWS = [3_600, 86_400, 604_800];

/** 86400 → "a day", 7200 → "every 2 hours". */
const per = (seconds: number): string => duration(seconds).replace(/^1 (h?)/, (_, hour) => (hour ? "an h" : "a "));

/**
 * The host's registrations (GET and PATCH /budget, for a key with the budget power): how many this
 * window, the limit, when the count starts again, paused or not; set or remove the limit, pause
 * (after a confirmation) and resume.
 */
export function budgetPanel(ctx: Context): { show(): void } {
  const form = byId<HTMLFormElement>("limit-form");
  const count = byId<HTMLInputElement>("limit-count");
  const windows = byId<HTMLSelectElement>("limit-window");
  const remove = byId<HTMLButtonElement>("limit-remove");

  function render(budget: Budget): void {
    const { limit } = budget;
    byId("budget-state").textContent = budget.paused
      ? `Paused: nobody can register on ${budget.host}, whatever invite they hold, until you resume.`
      : "Open: people with an invite can register.";
    byId("budget-state").classList.toggle("paused", budget.paused);
    byId("budget-usage").textContent = limit
      ? `${budget.used} of ${limit.count} registrations ${per(limit.window_seconds)} used` +
        (budget.resets_at === null ? "." : `; the count starts again ${when(budget.resets_at)}.`)
      : "No limit.";
    byId("pause").hidden = budget.paused;
    byId("resume").hidden = !budget.paused;
    remove.hidden = !limit;
    const offered = [...new Set([...WINDOWS, ...(limit ? [limit.window_seconds] : [])])].sort((a, b) => a - b);
    windows.replaceChildren(...offered.map((s) => h("option", { value: String(s) }, duration(s).replace(/^1 /, ""))));
    windows.value = String(limit?.window_seconds ?? 86_400);
    count.value = limit ? String(limit.count) : "";
  }

  function showError(id: "budget" | "limit", err: unknown): void {
    if (ctx.handled(err)) return;
    const error = byId(`${id}-error`);
    error.textContent = sentence(err instanceof Error ? err.message : String(err));
    error.hidden = false;
    if (id === "limit") {
      count.setAttribute("aria-invalid", "true");
      count.focus();
    }
  }

  function clearErrors(): void {
    for (const id of ["budget-error", "limit-error"]) byId(id).hidden = true;
    count.removeAttribute("aria-invalid");
  }

  async function change(body: object, done: string, errorAt: "budget" | "limit"): Promise<void> {
    clearErrors();
    try {
      render((await ctx.call<Budget>("PATCH", "budget", body)).body);
      ctx.announce(done);
    } catch (err) {
      showError(errorAt, err);
    }
  }

  async function load(): Promise<void> {
    try {
      render((await ctx.call<Budget>("GET", "budget")).body);
    } catch (err) {
      // A service or a Prosody without the budget commands: the panel says so rather than vanish.
      showError("budget", err instanceof ApiError && err.status === 501 ? new Error("Not available here.") : err);
    }
  }

  const clicked = (button: HTMLButtonElement, work: () => Promise<void>) =>
    button.addEventListener("click", () => void busy(button, work));
  clicked(byId("pause"), async () => {
    const host = ctx.options().host;
    const question = {
      title: "Pause registrations?",
      text: `Nobody can register on ${host} until you resume, whatever invite they hold. Invites stay valid.`,
      yes: "Pause",
      no: "Keep them open",
    };
    if (await confirmFirst(question)) await change({ paused: true }, "Registrations paused.", "budget");
  });
  clicked(byId("resume"), () => change({ paused: false }, "Registrations resumed.", "budget"));
  clicked(remove, () => change({ limit: null }, "Limit removed.", "limit"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const submit = form.querySelector<HTMLButtonElement>("button[type=submit]");
    const limit = { count: Number(count.value), window_seconds: Number(windows.value) };
    if (!Number.isInteger(limit.count) || limit.count < 1) {
      clearErrors();
      showError("limit", new Error("Enter how many registrations, 1 or more."));
    } else if (submit) void busy(submit, () => change({ limit }, "Limit set.", "limit"));
  });

  return {
    show(): void {
      const can = ctx.options().can.includes("budget");
      byId("budget").hidden = !can;
      clearErrors();
      if (can) void load();
    },
  };
}
