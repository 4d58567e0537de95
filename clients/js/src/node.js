// What an embedding server checks, in one call each: a webhook's Standard Webhooks signature
// (the `standardwebhooks` package: HMAC-SHA256 over id.timestamp.body, a 5-minute tolerance)
// and a result token against the service's JWKS (`jose`: the key set is fetched once, cached,
// and fetched again when a token names a key it does not hold — the service rotated its key).
//
//   import { verifyWebhook, ResultTokenVerifier } from "mfa-flow-client/node";

import { createRemoteJWKSet, jwtVerify } from "jose";
import { Webhook, WebhookVerificationError } from "standardwebhooks";

export { WebhookVerificationError };

/**
 * @typedef {import("./openapi.js").components["schemas"]["WebhookMessage"]} WebhookMessage
 * @typedef {Headers | Record<string, string | string[] | undefined>} AnyHeaders
 */

/** @param {AnyHeaders} headers @returns {Record<string, string>} */
function plainHeaders(headers) {
  /** @type {Record<string, string>} */
  const plain = {};
  const entries = typeof Headers !== "undefined" && headers instanceof Headers ? [...headers.entries()] : Object.entries(headers);
  for (const [name, value] of entries) {
    if (value !== undefined) plain[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return plain;
}

/**
 * Checks a webhook delivery and returns its message ({type, timestamp, data}). Pass the body
 * exactly as it arrived (a string or the raw bytes: re-serialised JSON no longer matches) and
 * the request's headers (a Headers object, or Node's request.headers). Throws
 * WebhookVerificationError when the signature, the id or the timestamp does not hold.
 * @param {string} secret the endpoint's secret, "whsec_..."
 * @param {string | Uint8Array} body
 * @param {AnyHeaders} headers
 * @returns {WebhookMessage}
 */
export function verifyWebhook(secret, body, headers) {
  const plain = plainHeaders(headers);
  for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
    if (!plain[name]) throw new WebhookVerificationError(`Missing required header ${name}`);
  }
  return /** @type {WebhookMessage} */ (new Webhook(secret).verify(body, plain));
}

/**
 * @typedef {object} ResultTokenOptions
 * @property {string} [baseUrl] the service's address: the key set is its /.well-known/jwks.json
 * @property {string} [jwksUrl] or the key set's address itself
 * @property {string} [issuer] the token's expected `iss` (the service's MFA_FLOW_ISSUER)
 * @property {string | string[]} [audience] the expected `aud`
 * @property {string[]} [algorithms] the algorithms accepted (the service signs with Ed25519 or EdDSA)
 * @property {number} [cacheMaxAge] milliseconds a fetched key set is used before it is fetched again (10 min)
 * @property {number} [cooldown] milliseconds at least between two fetches of the key set when a
 *   token names an unknown key (5 s: a token with a made-up key id cannot make it fetch more often)
 * @property {number | string} [clockTolerance] seconds (or "5s") of leeway for exp and iat
 */

export class ResultTokenVerifier {
  /** @param {ResultTokenOptions} options */
  constructor({ baseUrl, jwksUrl, issuer, audience, algorithms = ["Ed25519", "EdDSA", "RS256", "ES256"],
    cacheMaxAge = 600_000, cooldown = 5_000, clockTolerance = 5 }) {
    const where = jwksUrl || (baseUrl && `${baseUrl.replace(/\/+$/, "")}/.well-known/jwks.json`);
    if (!where) throw new TypeError("baseUrl or jwksUrl is required");
    this.keys = createRemoteJWKSet(new URL(where), { cacheMaxAge, cooldownDuration: cooldown });
    this.options = { issuer, audience, algorithms, clockTolerance };
  }

  /**
   * The token's claims (iss, sub = the user, aud, iat, exp, sid = the flow, amr, acr …) once its
   * signature, issuer, audience and lifetime hold; a jose error (JWTExpired,
   * JWSSignatureVerificationFailed, JWKSNoMatchingKey, JWTClaimValidationFailed …) otherwise.
   * @param {string} token
   */
  async verify(token) {
    const { payload } = await jwtVerify(token, this.keys, this.options);
    return payload;
  }
}

/** @type {Map<string, ResultTokenVerifier>} */
const verifiers = new Map();

/**
 * One call: verifies a result token with a verifier kept per set of options (so the key set is
 * fetched once per process, not per token).
 * @param {string} token
 * @param {ResultTokenOptions} options
 */
export function verifyResultToken(token, options) {
  const key = JSON.stringify(options);
  let verifier = verifiers.get(key);
  if (!verifier) {
    verifier = new ResultTokenVerifier(options);
    verifiers.set(key, verifier);
  }
  return verifier.verify(token);
}
