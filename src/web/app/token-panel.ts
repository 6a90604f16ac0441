import { h } from "./dom.js";
import { credentials } from "./token-store.js";

/** Asks for a token when the server wants one, and offers to forget it. */
export class TokenPanel {
  readonly element = h("form", { id: "token-form", hidden: true, novalidate: true });
  private readonly input = h("input", { id: "token", type: "password", autocomplete: "off", required: true, spellcheck: false });
  /** "Forget token": shown while a token is kept; forgetting reloads the page without it. */
  readonly forget = h(
    "button",
    {
      type: "button",
      class: "link",
      id: "forget-token",
      hidden: credentials.token() === undefined,
      onclick: () => {
        credentials.set(undefined);
        location.reload();
      },
    },
    "Forget token",
  );

  /** `onToken` runs once a token is stored (to connect again with it). */
  constructor(onToken: () => void) {
    this.element.append(
      h(
        "p",
        {},
        "This server wants a token. It is kept for this tab only (session storage) and sent as an Authorization header, never in the URL.",
      ),
      h("label", { for: "token" }, "Token"),
      this.input,
      h("button", { type: "submit", class: "primary" }, "Use token"),
    );
    this.element.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (this.input.value === "") return;
      credentials.set(this.input.value);
      this.input.value = "";
      this.element.hidden = true;
      this.forget.hidden = false;
      onToken();
    });
  }

  show(focus: boolean): void {
    this.element.hidden = false;
    if (focus) this.input.focus();
  }
}
