import type { Request, Route } from "playwright-core";
import type { Submission, TaskInstance, TaskRequest } from "./tasks/index.js";

/** The task pages' origin. `.invalid` never resolves (RFC 2606): the pages exist only inside the session's request handler. */
export const taskOrigin = "http://tasks.openenv.invalid";

/** What the request handler needs of the session: its task, which other origins pass, and where to record navigations. */
export interface TaskSite {
  task(): TaskInstance;
  allowed(href: string): boolean;
  submitted(submission: Submission): void;
  visited(path: string): void;
}

/** Every request of the context: task pages from memory, allowed origins through, the rest blocked. */
export async function routeRequest(site: TaskSite, route: Route, request: Request): Promise<void> {
  const url = new URL(request.url());
  if (url.origin !== taskOrigin) {
    if (site.allowed(url.href)) return route.continue().catch(() => {});
    return route.abort("blockedbyclient").catch(() => {});
  }
  const method = request.method();
  const body = method === "POST" ? (request.postData() ?? "") : "";
  const req: TaskRequest = { method, path: url.pathname, query: url.searchParams, form: new URLSearchParams(body) };
  const page = site.task().serve(req);
  if (page !== undefined && request.isNavigationRequest()) {
    if (method === "POST") site.submitted({ path: req.path, fields: formFields(req.form) });
    else site.visited(req.path);
  }
  await route
    .fulfill({
      status: page === undefined ? 404 : (page.status ?? 200),
      contentType: "text/html; charset=utf-8",
      body: page?.html ?? "<!doctype html><title>Not found</title><p>Not found.</p>",
    })
    .catch(() => {});
}

function formFields(form: URLSearchParams): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of form) {
    out[k] ??= [];
    out[k].push(v);
  }
  return out;
}
