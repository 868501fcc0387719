/**
 * Fieldline's TypeScript client: the types openapi-typescript generates from the API's
 * OpenAPI document (src/schema.d.ts, default options), over openapi-fetch. Every path, body,
 * query and response is typed from the document; nothing here restates it.
 *
 *   const api = createFieldline({ baseUrl: "http://127.0.0.1:8000", token });
 *   const job = expectOk(await api.GET("/jobs/{job_id}", { params: { path: { job_id } } }));
 */
import createClient, { type Client, type ClientOptions, type Middleware } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";

/** The document's schemas by name: `Schema<"JobOut">`. */
export type Schema<Name extends keyof components["schemas"]> = components["schemas"][Name];

export type FieldlineClient = Client<paths>;

/** A bearer token, or a function that returns the current one (refreshed tokens). */
export type TokenSource = string | (() => string | Promise<string>);

export interface FieldlineOptions extends Omit<ClientOptions, "baseUrl"> {
  /** The stage's address: `https://api.example.com/api`, or the local stage's. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer ...`; leave it out for public routes only. */
  token?: TokenSource;
}

export function createFieldline({ token, ...options }: FieldlineOptions): FieldlineClient {
  const client = createClient<paths>(options);
  if (token !== undefined) {
    client.use(bearer(token));
  }
  return client;
}

function bearer(token: TokenSource): Middleware {
  return {
    async onRequest({ request }) {
      const value = typeof token === "function" ? await token() : token;
      request.headers.set("Authorization", `Bearer ${value}`);
      return request;
    },
  };
}

type ErrorBody = Schema<"ErrorOut">;

/** An answer outside 2xx, with the API's error (its `code` is the thing to branch on). */
export class FieldlineError extends Error {
  readonly status: number;
  readonly code: ErrorBody["error"]["code"] | undefined;
  readonly body: unknown;

  constructor(response: Response, body: unknown) {
    const error = isErrorBody(body) ? body.error : undefined;
    super(`${response.status} ${error?.code ?? response.statusText}: ${error?.message ?? ""}`);
    this.name = "FieldlineError";
    this.status = response.status;
    this.code = error?.code;
    this.body = body;
  }
}

function isErrorBody(body: unknown): body is ErrorBody {
  return typeof body === "object" && body !== null && "error" in body;
}

type Answer = { data?: unknown; error?: unknown; response: Response };

/** The body of a 2xx answer; a FieldlineError for anything else. */
export function expectOk<A extends Answer>(answer: A): Exclude<A["data"], undefined> {
  if (!answer.response.ok) {
    throw new FieldlineError(answer.response, answer.error);
  }
  return answer.data as Exclude<A["data"], undefined>;
}
