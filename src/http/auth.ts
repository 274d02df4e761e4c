/**
 * Whose credentials a request carries, with the SDK's bearer helpers (header parsing, the 401 with
 * `WWW-Authenticate`):
 *
 * - no key of the server's own: the bearer token is the caller's Neon API key, used for that
 *   request's Neon calls only. It is not checked here (Neon does, on the first call: a wrong key gets
 *   Neon's 401 as the tool's error), only that there is one;
 * - the server's own key (single-tenant): the bearer token must be the server's access token
 *   (--http-token). Without one (allowed on a loopback bind only) no credentials are asked for.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  type AuthInfo,
  bearerAuthChallengeResponse,
  OAuthError,
  OAuthErrorCode,
  type OAuthTokenVerifier,
  verifyBearerToken,
} from '@modelcontextprotocol/server';

export type Authenticator = (request: Request) => Promise<AuthInfo | Response>;

/** The SDK's verifier contract asks for an expiry; these credentials have none that we know of. */
const NO_EXPIRY = () => Math.floor(Date.now() / 1000) + 3600;

export function authenticator({ apiKey, token }: { apiKey?: string; token?: string }): Authenticator {
  if (apiKey && !token)
    return async () => ({ token: '', clientId: 'loopback', scopes: [], expiresAt: NO_EXPIRY() });
  const verifier: OAuthTokenVerifier = apiKey
    ? {
        async verifyAccessToken(given) {
          // Compared as hashes: equal lengths for timingSafeEqual, and no early exit on the first byte.
          if (!timingSafeEqual(sha256(given), sha256(token as string)))
            throw new OAuthError(
              OAuthErrorCode.InvalidToken,
              "Not this server's access token (--http-token).",
            );
          // The server's own key is used; the access token goes no further.
          return { token: '', clientId: 'http-token', scopes: [], expiresAt: NO_EXPIRY() };
        },
      }
    : {
        async verifyAccessToken(given) {
          if (!/^[\x21-\x7e]{8,512}$/.test(given))
            throw new OAuthError(OAuthErrorCode.InvalidToken, 'The bearer token is not a Neon API key.');
          return { token: given, clientId: 'neon-api-key', scopes: [], expiresAt: NO_EXPIRY() };
        },
      };
  const advice = apiKey
    ? "Send this server's access token as `Authorization: Bearer <token>`."
    : 'Send your Neon API key as `Authorization: Bearer <key>` (create one in the Neon Console).';
  return async (request) => {
    try {
      return await verifyBearerToken(request.headers.get('authorization'), { verifier });
    } catch (error) {
      const response = bearerAuthChallengeResponse(
        error instanceof OAuthError
          ? new OAuthError(error.code, `${error.message.replace(/\.?$/, '.')} ${advice}`)
          : error,
      );
      return response;
    }
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
