import { between, esc, field, jitter, offset, onSubmit, page, sample, submitted, WORDS } from "./html.js";
import type { TaskDefinition } from "./types.js";

const sections: readonly (readonly [string, string])[] = [
  ["Orders", "Order"],
  ["Invoices", "Invoice"],
  ["Tickets", "Ticket"],
  ["Shipments", "Shipment"],
  ["Projects", "Project"],
];

/** Follow a link to a section, then to an item, and press a button there. */
export const navigateTwoPages: TaskDefinition = {
  name: "navigate-two-pages",
  summary: "follow a link to a section page, then to an item page, and press a button there",
  generate(random) {
    const entry = "/navigate-two-pages/";
    const submit = `${entry}submit`;
    const chosen = sample(random, sections, between(random, 3, 5));
    const items = new Map(
      chosen.map(([plural, singular]) => {
        const numbers = new Set<number>();
        while (numbers.size < between(random, 3, 6)) numbers.add(1000 + random.int(9000));
        return [plural.toLowerCase(), { plural, singular, numbers: [...numbers] }];
      }),
    );
    const verbs = sample(random, ["Archive", "Approve", "Flag", "Escalate"], 2);
    const verb = verbs[0];
    const [section] = random.pick(chosen);
    const target = items.get(section.toLowerCase())!;
    const number = random.pick(target.numbers);
    const goal = `Open ${section}, then ${target.singular} #${number}, and click "${verb}".`;
    const home = page(
      "Home",
      goal,
      `<nav>${chosen.map(([p]) => `<a href="${entry}s/${p.toLowerCase()}" style="${jitter(random)}">${esc(p)}</a>`).join(" | ")}</nav><p>Welcome back.</p>`,
      offset(random),
    );
    const order = random.int(2) === 0 ? verbs : [...verbs].reverse();
    return {
      goal,
      maxSteps: 10,
      entry,
      serve(r) {
        if (r.path === submit) return r.method === "POST" ? submitted("Done") : undefined;
        if (r.method !== "GET") return undefined;
        if (r.path === entry) return home;
        const [, slug, num, extra] = r.path.slice(entry.length).split("/");
        const s = r.path.startsWith(`${entry}s/`) ? items.get(slug) : undefined;
        if (s === undefined || extra !== undefined) return undefined;
        if (num === undefined) {
          const links = s.numbers.map((n) => `<li><a href="${entry}s/${slug}/${n}">${s.singular} #${n}</a></li>`).join("");
          return page(s.plural, goal, `<h1>${esc(s.plural)}</h1><ul>${links}</ul>`);
        }
        const n = Number(num);
        if (!s.numbers.includes(n)) return undefined;
        const buttons = order.map((v) => `<button name="action" value="${v}">${v}</button>`).join(" ");
        return page(
          `${s.singular} #${n}`,
          goal,
          `<h1>${esc(s.singular)} #${n}</h1><form method="post" action="${submit}"><input type="hidden" name="section" value="${slug}"><input type="hidden" name="item" value="${n}">${buttons}</form>`,
        );
      },
      check: (state) =>
        onSubmit(
          state,
          submit,
          (s) => field(s, "section") === section.toLowerCase() && field(s, "item") === String(number) && field(s, "action") === verb,
        ),
    };
  },
};

/** Find a code on another page, go back and enter it. */
export const copyCode: TaskDefinition = {
  name: "copy-code",
  summary: "open a help page to read an access code, go back and enter it",
  generate(random) {
    const entry = "/copy-code/";
    const submit = `${entry}submit`;
    const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let code = "";
    for (let i = 0; i < 6; i++) code += alphabet[random.int(alphabet.length)];
    const goal = "Enter your access code and click Unlock. The help page says what the code is.";
    const start = page(
      "Unlock",
      goal,
      `<form method="post" action="submit"><label>Access code <input name="code" autocomplete="off"></label> <button style="${jitter(random)}">Unlock</button></form><p style="${jitter(random)}"><a href="help">Where is my code?</a></p>`,
      offset(random),
    );
    const help = page(
      "Help",
      goal,
      `<h1>Help</h1><p>${sample(random, WORDS, 6).join(" ")}.</p><p>Your access code is ${code}.</p><p>${sample(random, WORDS, 5).join(" ")}.</p>`,
    );
    return {
      goal,
      maxSteps: 8,
      entry,
      serve(r) {
        if (r.path === submit) return r.method === "POST" ? submitted("Unlocked") : undefined;
        if (r.method !== "GET") return undefined;
        return r.path === entry ? start : r.path === `${entry}help` ? help : undefined;
      },
      check: (state) => onSubmit(state, submit, (s) => field(s, "code").trim() === code),
    };
  },
};

/** Read a value from a table and report it with send_msg_to_user. */
export const readValue: TaskDefinition = {
  name: "read-value",
  summary: "read a price from a table and report it with send_msg_to_user",
  generate(random) {
    const entry = "/read-value/";
    const products = sample(random, WORDS, between(random, 4, 8)).map((w) => ({
      name: `${w.charAt(0).toUpperCase()}${w.slice(1)} ${random.pick(["lamp", "chair", "mug", "scarf", "kettle", "clock"])}`,
      price: `${between(random, 2, 199)}.${String(random.int(100)).padStart(2, "0")}`,
      stock: random.int(50),
    }));
    const target = random.pick(products);
    const goal = `What is the price of the ${target.name}? Answer with send_msg_to_user.`;
    const rows = products.map((p) => `<tr><td>${esc(p.name)}</td><td>$${p.price}</td><td>${p.stock}</td></tr>`).join("");
    const start = page("Prices", goal, `<table><tr><th>Product</th><th>Price</th><th>In stock</th></tr>${rows}</table>`, offset(random));
    // The price as a number of its own: "$12.30", "12.3" and "12.30 dollars" match; "112.30" does not.
    const pattern = new RegExp(`(^|[^0-9.])${target.price.replace(/0$/, "").replace(".", "\\.")}0?(?![0-9])`);
    return {
      goal,
      maxSteps: 5,
      entry,
      serve: (r) => (r.method === "GET" && r.path === entry ? start : undefined),
      check(state) {
        const answer = state.messages[0];
        return answer === undefined ? { done: false, success: false } : { done: true, success: pattern.test(answer) };
      },
    };
  },
};
