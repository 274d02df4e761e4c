/**
 * Types of requests and answers derived from the route and method alone (from the generated `paths`),
 * so a caller cannot claim the wrong schema for an answer: `client.get('/projects/{project_id}')`
 * is typed as Neon's answer to that GET, and a route that has no GET does not type-check.
 */
import type { paths } from './neon-api.gen.js';

/** Every path template of the Neon API; a typo in a route fails type-checking. */
export type Route = keyof paths;
export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
type Verb<M extends HttpMethod> = Lowercase<M>;

/** The routes that have an operation for `M`. */
export type RouteFor<M extends HttpMethod> = {
  [R in Route]: paths[R] extends Record<Verb<M>, { responses: unknown }> ? R : never;
}[Route];

type OperationOf<M extends HttpMethod, R extends Route> =
  paths[R] extends Record<Verb<M>, infer O> ? O : never;

type SuccessStatus = 200 | 201 | 202 | 203 | 204;
type JsonOf<X> = X extends { content: { 'application/json': infer B } } ? B : undefined;

/** The parsed JSON of a successful answer to `M route` (undefined where Neon sends no body). */
export type Answer<M extends HttpMethod, R extends Route> =
  OperationOf<M, R> extends {
    responses: infer Rs;
  }
    ? { [S in keyof Rs]: S extends SuccessStatus ? JsonOf<Rs[S]> : never }[keyof Rs]
    : never;

/** The JSON body `M route` takes (never where it takes none, or only a non-JSON one). */
export type Body<M extends HttpMethod, R extends Route> =
  OperationOf<M, R> extends {
    requestBody?: { content: { 'application/json': infer B } };
  }
    ? B
    : never;

/** The names of a route's `{placeholders}`, read from the template itself. */
type Placeholders<R extends string> = R extends `${string}{${infer P}}${infer Rest}`
  ? P | Placeholders<Rest>
  : never;

/** Values for the `{placeholders}` of a route: each one, and no other (for a union, those of one of them). */
export type PathParams<R extends Route> = R extends Route
  ? { [K in Placeholders<R>]: string | number }
  : never;
