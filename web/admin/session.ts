// The key lives in this tab only: sessionStorage (gone when the tab closes), never a cookie, a URL
// or localStorage. Where sessionStorage is unavailable, in this page's memory.
const NAME = "invites-api-key";
let memory: string | undefined;

function storage(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined;
  }
}

export const keptKey = (): string | undefined => storage()?.getItem(NAME) ?? memory;

export function keepKey(key: string): void {
  memory = key;
  try {
    storage()?.setItem(NAME, key);
  } catch {
    // Full or refused: memory alone keeps it.
  }
}

export function forgetKey(): void {
  memory = undefined;
  storage()?.removeItem(NAME);
}
