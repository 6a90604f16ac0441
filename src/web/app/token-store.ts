import type { Credentials } from "./connection.js";

const TOKEN_KEY = "openenv-web-token";

/** The token lives in this tab's sessionStorage (or memory), never in the URL. */
export const credentials: Credentials & { set(token: string | undefined): void } = (() => {
  let memory: string | undefined;
  return {
    token() {
      try {
        return sessionStorage.getItem(TOKEN_KEY) ?? memory;
      } catch {
        return memory;
      }
    },
    set(token) {
      memory = token;
      try {
        if (token === undefined) sessionStorage.removeItem(TOKEN_KEY);
        else sessionStorage.setItem(TOKEN_KEY, token);
      } catch {
        // storage disabled: memory only
      }
    },
  };
})();
