import { describe, expect, it } from "vitest";
import { ValidatedActionSchema } from "../gen/openenv/testing/v1/validation_pb.js";
import { decodeOpenEnvJson } from "../src/openenv/json/decode.js";
import { serve } from "../src/server/serve.js";
import { ValidatedEnvironment } from "./fixtures/validated-env.js";

describe("OpenEnv JSON decoding", () => {
  it("refuses a number JSON.parse made infinite (1e400) inside a Struct, naming the field", () => {
    const json = JSON.parse('{"name":"ab","count":3,"extra":{"deep":[1,{"x":1e400}]}}') as unknown;
    const result = decodeOpenEnvJson(ValidatedActionSchema, json);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors).toEqual([expect.objectContaining({ type: "finite_number", loc: ["extra", "deep", 1, "x"] })]);
    }
  });

  it("answers it over HTTP with a 422, not a failure of the environment (found by fuzzing)", async () => {
    await using server = await serve(ValidatedEnvironment, { port: 0 });
    const res = await fetch(`${server.url}/step?extensions=1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"action":{"name":"ab","count":3,"extra":{"hasOwnProperty":1e400},"scores":{}}}',
    });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { detail: { type: string; loc: unknown[] }[] };
    expect(body.detail[0]).toMatchObject({ type: "finite_number", loc: ["extra", "hasOwnProperty"] });
  });
});
