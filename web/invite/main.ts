// The invite page works without this script; it adds, where the server rendered their elements:
// the name check while typing, the password strength hint, and the copy button. Every word it
// shows comes from the page itself (data-* attributes, in the page's language).
import { estimateStrength } from "./strength";

function debounce(run: () => void, ms: number): () => void {
  let timer: number | undefined;
  return () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(run, ms);
  };
}

function nameCheck(input: HTMLInputElement, status: HTMLElement): void {
  let pending: AbortController | undefined;
  const show = (state: "free" | "taken" | "invalid" | undefined) => {
    status.textContent = state ? (status.dataset[state] ?? "") : "";
    status.dataset.state = state ?? "";
  };
  const check = debounce(async () => {
    pending?.abort();
    const username = input.value.trim();
    if (!username) return show(undefined);
    pending = new AbortController();
    try {
      const url = `${status.dataset.url}?${new URLSearchParams({ username })}`;
      const res = await fetch(url, { headers: { Accept: "application/json" }, signal: pending.signal });
      const body = res.ok ? ((await res.json()) as { name?: "free" | "taken" | "invalid" }) : {};
      show(body.name);
    } catch {
      // Aborted by the next keystroke, or offline: the form still says it on sending.
    }
  }, 350);
  input.addEventListener("input", check);
}

function strengthHint(input: HTMLInputElement, hint: HTMLElement): void {
  input.addEventListener("input", () => {
    const strength = input.value ? estimateStrength(input.value) : undefined;
    hint.textContent = strength ? (hint.dataset[strength] ?? "") : "";
    hint.dataset.state = strength ?? "";
  });
}

function copyButton(button: HTMLButtonElement): void {
  const field = document.getElementById(button.dataset.copy ?? "");
  if (!(field instanceof HTMLInputElement) || !navigator.clipboard) return;
  const label = button.textContent;
  button.hidden = false;
  button.addEventListener("click", async () => {
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      button.textContent = button.dataset.done ?? label;
      window.setTimeout(() => (button.textContent = label), 2_000);
    } catch {
      // Refused by the browser: the text is selected, ready for the person to copy.
    }
  });
}

const username = document.getElementById("username");
const status = document.getElementById("username-status");
if (username instanceof HTMLInputElement && status) nameCheck(username, status);
const password = document.getElementById("password");
const strength = document.getElementById("password-strength");
if (password instanceof HTMLInputElement && strength) strengthHint(password, strength);
for (const button of document.querySelectorAll<HTMLButtonElement>("button[data-copy]")) copyButton(button);
