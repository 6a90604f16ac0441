import type { SeededRandom } from "../../common/random.js";
import { between, capitalize, esc, field, formTask, jitter, listing, NAMES, offset, sample, WORDS } from "./html.js";
import type { TaskDefinition } from "./types.js";

function password(random: SeededRandom): string {
  const chars = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  let out = "";
  for (let i = 0; i < 8; i++) out += chars[random.int(chars.length)];
  return out;
}

/** Fill a login form and submit it. */
export const loginForm: TaskDefinition = {
  name: "login-form",
  summary: "type a username and a password into a form and submit it",
  generate(random) {
    const user = `${random.pick(NAMES).toLowerCase()}${random.int(900) + 100}`;
    const secret = password(random);
    const button = random.pick(["Log in", "Sign in", "Submit"]);
    const fields = [
      `<p style="${jitter(random)}"><label>Username <input name="username" autocomplete="off"></label></p>`,
      `<p style="${jitter(random)}"><label>Password <input name="password" type="password" autocomplete="off"></label></p>`,
    ];
    if (random.int(2) === 0) fields.reverse();
    const remember = random.int(2) === 0 ? `<p><label><input type="checkbox" name="remember"> Remember me</label></p>` : "";
    return formTask("login-form", {
      title: "Log in",
      goal: `Log in with the username "${user}" and the password "${secret}", then click "${button}".`,
      body: `<form method="post" action="submit">${fields.join("")}${remember}<button>${esc(button)}</button></form>`,
      maxSteps: 8,
      offset: offset(random),
      ok: (s) => field(s, "username") === user && field(s, "password") === secret,
    });
  },
};

/** Choose an option of a drop-down list and submit. */
export const chooseDropdown: TaskDefinition = {
  name: "choose-dropdown",
  summary: "choose an option of a drop-down list (5–10 options) and submit",
  generate(random) {
    const options = sample(random, WORDS, between(random, 5, 10)).map(capitalize);
    const target = random.pick(options);
    const list = options.map((o) => `<option value="${esc(o)}">${esc(o)}</option>`).join("");
    return formTask("choose-dropdown", {
      title: "Choose",
      goal: `Select "${target}" from the list and click Submit.`,
      body: `<form method="post" action="submit"><label>Item <select name="item"><option value="">Choose one</option>${list}</select></label> <button style="${jitter(random)}">Submit</button></form>`,
      maxSteps: 6,
      offset: offset(random),
      ok: (s) => field(s, "item") === target,
    });
  },
};

/** Tick exactly the given checkboxes; some others may start ticked. */
export const tickCheckboxes: TaskDefinition = {
  name: "tick-checkboxes",
  summary: "tick exactly 1–3 given checkboxes out of 4–7, some others already ticked",
  generate(random) {
    const labels = sample(random, WORDS, between(random, 4, 7)).map(capitalize);
    const targets = sample(random, labels, between(random, 1, 3));
    const preset = new Set(sample(random, labels, random.int(3)));
    const boxes = labels.map(
      (l) =>
        `<div style="${jitter(random)}"><label><input type="checkbox" name="item" value="${esc(l)}"${preset.has(l) ? " checked" : ""}> ${esc(l)}</label></div>`,
    );
    const wanted = [...targets].sort().join("\n");
    return formTask("tick-checkboxes", {
      title: "Checkboxes",
      goal: `Tick ${listing(targets.map((t) => `"${t}"`))} and nothing else, then click Submit.`,
      body: `<form method="post" action="submit">${boxes.join("")}<button>Submit</button></form>`,
      maxSteps: 10,
      offset: offset(random),
      ok: (s) => [...(s.fields.item ?? [])].sort().join("\n") === wanted,
    });
  },
};

/** Choose a radio button and submit. */
export const chooseRadio: TaskDefinition = {
  name: "choose-radio",
  summary: "choose one of 3–6 radio buttons and submit",
  generate(random) {
    const labels = sample(random, WORDS, between(random, 3, 6)).map(capitalize);
    const target = random.pick(labels);
    const radios = labels.map(
      (l) => `<label style="${jitter(random)}"><input type="radio" name="choice" value="${esc(l)}"> ${esc(l)}</label>`,
    );
    return formTask("choose-radio", {
      title: "Options",
      goal: `Choose "${target}" and click Submit.`,
      body: `<form method="post" action="submit"><fieldset><legend>Options</legend>${radios.join(random.int(2) === 0 ? "<br>" : " ")}</fieldset><button>Submit</button></form>`,
      maxSteps: 5,
      offset: offset(random),
      ok: (s) => field(s, "choice") === target,
    });
  },
};

/** Type into a search box and submit with Enter (the form has no button). */
export const enterText: TaskDefinition = {
  name: "enter-text",
  summary: "type a phrase into a search box that has no button and press Enter",
  generate(random) {
    const phrase = sample(random, WORDS, 2).join(" ");
    const label = random.pick(["Search", "Find", "Look up"]);
    return formTask("enter-text", {
      title: "Search",
      goal: `Type "${phrase}" into the ${label.toLowerCase()} box and press Enter.`,
      body: `<form method="post" action="submit"><label>${esc(label)} <input name="q" autocomplete="off" style="${jitter(random)}"></label></form>`,
      maxSteps: 5,
      offset: offset(random),
      ok: (s) => field(s, "q").trim() === phrase,
    });
  },
};

/** Scroll a terms box to its end (which enables the checkbox), tick it and continue. */
export const scrollTerms: TaskDefinition = {
  name: "scroll-terms",
  summary: "scroll a box of terms to the end to enable a checkbox, tick it and continue",
  generate(random) {
    const paragraphs: string[] = [];
    for (let i = between(random, 12, 20); i > 0; i--) {
      paragraphs.push(
        `<p>${sample(random, WORDS, 12)
          .map((w, j) => (j === 0 ? capitalize(w) : w))
          .join(" ")}.</p>`,
      );
    }
    const button = random.pick(["Continue", "Accept", "Next"]);
    const height = between(random, 90, 160);
    const script = `const t = document.getElementById("terms");
t.addEventListener("scroll", () => { if (t.scrollTop + t.clientHeight >= t.scrollHeight - 4) document.getElementById("agree").disabled = false; });`;
    return formTask("scroll-terms", {
      title: "Terms",
      goal: `Scroll to the end of the terms, tick "I agree to the terms" and click "${button}".`,
      body: `<form method="post" action="submit"><div id="terms" role="region" aria-label="Terms of service" tabindex="0" style="height: ${height}px; width: 360px; overflow: auto; border: 1px solid #999">${paragraphs.join("")}</div>
<p><input type="checkbox" id="agree" name="agree" value="yes" disabled><label for="agree">I agree to the terms</label></p><button>${esc(button)}</button></form><script>${script}</script>`,
      maxSteps: 8,
      offset: offset(random),
      ok: (s) => field(s, "agree") === "yes",
    });
  },
};
