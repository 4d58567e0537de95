// WebAuthn ceremonies from a flow's challenge: the options arrive as WebAuthn JSON (base64url
// strings), the browser wants ArrayBuffers, and the service wants the credential back as JSON.
// Current browsers convert both ways themselves (PublicKeyCredential.parseCreationOptionsFromJSON,
// parseRequestOptionsFromJSON, credential.toJSON()); for the others the same conversion is done
// here, field by field as the WebAuthn Level 3 JSON types define it.

/** @typedef {Record<string, any>} Json */

/** Whether this browser can run a WebAuthn ceremony at all. */
export function webauthnSupported() {
  return typeof globalThis.PublicKeyCredential === "function" && typeof navigator !== "undefined"
    && Boolean(navigator.credentials);
}

/**
 * Creation options (a set-up) carry the user to create a credential for; request options do not.
 * @param {Json} publicKey
 */
export const isCreationOptions = (publicKey) => Boolean(publicKey && publicKey.user);

/** @param {string} text base64url, padded or not */
export function base64urlToBuffer(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/** @param {ArrayBuffer | ArrayBufferView} buffer */
export function bufferToBase64url(buffer) {
  const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** @param {Json[] | undefined} descriptors */
const descriptorsFromJSON = (descriptors) => descriptors && descriptors.map((d) => ({ ...d, id: base64urlToBuffer(d.id) }));

/**
 * PublicKeyCredentialCreationOptions from their JSON form.
 * @param {Json} json
 * @returns {PublicKeyCredentialCreationOptions}
 */
export function creationOptionsFromJSON(json) {
  const native = /** @type {any} */ (globalThis.PublicKeyCredential);
  if (native && typeof native.parseCreationOptionsFromJSON === "function") return native.parseCreationOptionsFromJSON(json);
  return /** @type {PublicKeyCredentialCreationOptions} */ ({
    ...json,
    challenge: base64urlToBuffer(json.challenge),
    user: { ...json.user, id: base64urlToBuffer(json.user.id) },
    ...(json.excludeCredentials ? { excludeCredentials: descriptorsFromJSON(json.excludeCredentials) } : {}),
  });
}

/**
 * PublicKeyCredentialRequestOptions from their JSON form.
 * @param {Json} json
 * @returns {PublicKeyCredentialRequestOptions}
 */
export function requestOptionsFromJSON(json) {
  const native = /** @type {any} */ (globalThis.PublicKeyCredential);
  if (native && typeof native.parseRequestOptionsFromJSON === "function") return native.parseRequestOptionsFromJSON(json);
  return /** @type {PublicKeyCredentialRequestOptions} */ ({
    ...json,
    challenge: base64urlToBuffer(json.challenge),
    ...(json.allowCredentials ? { allowCredentials: descriptorsFromJSON(json.allowCredentials) } : {}),
  });
}

/**
 * The JSON form of a credential the browser made or used (RegistrationResponseJSON or
 * AuthenticationResponseJSON), as the service's submit_webauthn and submit_passkey take it.
 * @param {any} credential a PublicKeyCredential
 * @returns {Json}
 */
export function credentialToJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const r = credential.response;
  const response = "attestationObject" in r
    ? {
      clientDataJSON: bufferToBase64url(r.clientDataJSON),
      attestationObject: bufferToBase64url(r.attestationObject),
      transports: typeof r.getTransports === "function" ? r.getTransports() : [],
      ...(typeof r.getPublicKeyAlgorithm === "function" ? { publicKeyAlgorithm: r.getPublicKeyAlgorithm() } : {}),
      ...(typeof r.getAuthenticatorData === "function" ? { authenticatorData: bufferToBase64url(r.getAuthenticatorData()) } : {}),
    }
    : {
      clientDataJSON: bufferToBase64url(r.clientDataJSON),
      authenticatorData: bufferToBase64url(r.authenticatorData),
      signature: bufferToBase64url(r.signature),
      ...(r.userHandle ? { userHandle: bufferToBase64url(r.userHandle) } : {}),
    };
  return {
    id: credential.id,
    rawId: bufferToBase64url(credential.rawId),
    type: credential.type,
    response,
    authenticatorAttachment: credential.authenticatorAttachment ?? null,
    clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
  };
}

/**
 * Runs the ceremony the options ask for — navigator.credentials.create for creation options,
 * .get for request options — and answers the credential as JSON.
 * @param {Json} publicKey the challenge's publicKey, in WebAuthn JSON
 * @param {{signal?: AbortSignal, mediation?: CredentialMediationRequirement}} [options]
 * @returns {Promise<Json>}
 */
export async function credentialFor(publicKey, { signal, mediation } = {}) {
  if (!webauthnSupported()) {
    throw new DOMException("This browser cannot use passkeys (no WebAuthn)", "NotSupportedError");
  }
  const credential = isCreationOptions(publicKey)
    ? await navigator.credentials.create({ publicKey: creationOptionsFromJSON(publicKey), signal })
    : await navigator.credentials.get({ publicKey: requestOptionsFromJSON(publicKey), signal, ...(mediation ? { mediation } : {}) });
  if (!credential) throw new DOMException("The authenticator gave no credential", "NotAllowedError");
  return credentialToJSON(credential);
}
