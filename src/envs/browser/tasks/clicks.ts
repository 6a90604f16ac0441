import { between, capitalize, esc, field, formTask, jitter, NAMES, offset, page, sample, WORDS } from "./html.js";
import type { TaskDefinition } from "./types.js";

/** Click the button with a given label. */
export const clickButton: TaskDefinition = {
  name: "click-button",
  summary: "click the button with a given label among 3–6",
  generate(random) {
    const labels = sample(random, WORDS, between(random, 3, 6)).map(capitalize);
    const target = random.pick(labels);
    const separator = random.int(2) === 0 ? "" : "<br>";
    const buttons = labels.map((l) => `<button name="choice" value="${esc(l)}" style="${jitter(random)}">${esc(l)}</button>`);
    return formTask("click-button", {
      title: "Buttons",
      goal: `Click the button "${target}".`,
      body: `<form method="post" action="submit">${buttons.join(separator)}</form>`,
      maxSteps: 5,
      offset: offset(random),
      ok: (s) => field(s, "choice") === target,
    });
  },
};

/** Click the link with a given text; it leads to a page of its own. */
export const clickLink: TaskDefinition = {
  name: "click-link",
  summary: "click the link with a given text among 4–8, in a list or in running text",
  generate(random) {
    const words = sample(random, WORDS, between(random, 4, 8));
    const target = random.pick(words);
    const entry = "/click-link/";
    const link = (w: string): string => `<a href="item/${w}">${esc(capitalize(w))} notes</a>`;
    const body =
      random.int(2) === 0
        ? `<ul>${words.map((w) => `<li style="${jitter(random)}">${link(w)}</li>`).join("")}</ul>`
        : `<p style="max-width: 420px">${words.map((w) => `Read the ${link(w)} for ${esc(random.pick(WORDS))} facts.`).join(" ")}</p>`;
    const goal = `Click the link "${capitalize(target)} notes".`;
    const start = page("Links", goal, body, offset(random));
    return {
      goal,
      maxSteps: 5,
      entry,
      serve(r) {
        if (r.method !== "GET") return undefined;
        if (r.path === entry) return start;
        const opened = r.path.startsWith(`${entry}item/`) ? r.path.slice(entry.length + 5) : undefined;
        if (opened === undefined || !words.includes(opened)) return undefined;
        return page(`${capitalize(opened)} notes`, goal, `<h1>${esc(capitalize(opened))} notes</h1><p>Nothing else to do here.</p>`);
      },
      check(state) {
        const opened = state.visits.find((v) => v.startsWith(`${entry}item/`));
        return opened === undefined ? { done: false, success: false } : { done: true, success: opened === `${entry}item/${target}` };
      },
    };
  },
};

/** Delete one row of a table in which every row has the same "Delete" button. */
export const deleteRow: TaskDefinition = {
  name: "delete-row",
  summary: "delete the table row of a given user; every row has an identical Delete button",
  generate(random) {
    const people = sample(random, NAMES, between(random, 4, 7)).map((name, i) => ({
      id: String(100 + i * 7 + random.int(7)),
      name,
      email: `${name.toLowerCase()}${random.int(90) + 10}@example.com`,
      role: random.pick(["admin", "editor", "viewer"]),
    }));
    const target = random.pick(people);
    const rows = people.map(
      (p) =>
        `<tr><td>${esc(p.name)}</td><td>${esc(p.email)}</td><td>${esc(p.role)}</td><td><button name="id" value="${p.id}">Delete</button></td></tr>`,
    );
    return formTask("delete-row", {
      title: "Users",
      goal: `Delete the user whose email is ${target.email}.`,
      body: `<form method="post" action="submit"><table><tr><th>Name</th><th>Email</th><th>Role</th><th></th></tr>${rows.join("")}</table></form>`,
      maxSteps: 5,
      offset: offset(random),
      ok: (s) => field(s, "id") === target.id,
    });
  },
};
