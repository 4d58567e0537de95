// Every operation the client calls, by name: its method and its path in the OpenAPI document.
// The client's methods call them by name, and `supports` asks a server's document whether it has one
// (a console in front of an older release leaves out what that release lacks).
export const OPERATIONS = Object.freeze({
  "whoami": ["GET", "/api/whoami"],
  "signInOptions": ["GET", "/api/sign-in-options"],
  "factors": ["GET", "/api/factors"],
  "openapi": ["GET", "/openapi.json"],
  "jwks": ["GET", "/.well-known/jwks.json"],
  "openidConfiguration": ["GET", "/.well-known/openid-configuration"],
  "flows.start": ["POST", "/api/flows"],
  "flows.list": ["GET", "/api/flows"],
  "flows.get": ["GET", "/api/flows/{flow_id}"],
  "flows.send": ["POST", "/api/flows/{flow_id}/events"],
  "flows.transitions": ["GET", "/api/flows/{flow_id}/transitions"],
  "flows.watchAll": ["GET", "/api/flows/sse"],
  "flows.socket": ["GET", "/api/flows/{flow_id}/ws"],
  "config.get": ["GET", "/api/config/mfa"],
  "config.put": ["PUT", "/api/config/mfa"],
  "users.list": ["GET", "/api/users"],
  "users.create": ["POST", "/api/users"],
  "users.get": ["GET", "/api/users/{user_id}"],
  "users.update": ["PATCH", "/api/users/{user_id}"],
  "users.delete": ["DELETE", "/api/users/{user_id}"],
  "users.unlock": ["POST", "/api/users/{user_id}/unlock"],
  "users.resetMfa": ["POST", "/api/users/{user_id}/reset-mfa"],
  "users.factors": ["GET", "/api/users/{user_id}/mfa-verifications"],
  "users.addFactor": ["POST", "/api/users/{user_id}/mfa-verifications"],
  "users.renameFactor": ["PATCH", "/api/users/{user_id}/mfa-verifications/{verification_id}"],
  "users.removeFactor": ["DELETE", "/api/users/{user_id}/mfa-verifications/{verification_id}"],
  "users.signIns": ["GET", "/api/users/{user_id}/sign-ins"],
  "users.trustedDevices": ["GET", "/api/users/{user_id}/trusted-devices"],
  "users.revokeTrustedDevices": ["DELETE", "/api/users/{user_id}/trusted-devices"],
  "users.revokeTrustedDevice": ["DELETE", "/api/users/{user_id}/trusted-devices/{device_id}"],
  "organizations.list": ["GET", "/api/organizations"],
  "organizations.create": ["POST", "/api/organizations"],
  "organizations.get": ["GET", "/api/organizations/{organization_id}"],
  "organizations.update": ["PATCH", "/api/organizations/{organization_id}"],
  "organizations.delete": ["DELETE", "/api/organizations/{organization_id}"],
  "organizations.members": ["GET", "/api/organizations/{organization_id}/members"],
  "organizations.addMember": ["PUT", "/api/organizations/{organization_id}/members/{user_id}"],
  "organizations.removeMember": ["DELETE", "/api/organizations/{organization_id}/members/{user_id}"],
  "webhooks.list": ["GET", "/api/webhooks"],
  "webhooks.create": ["POST", "/api/webhooks"],
  "webhooks.get": ["GET", "/api/webhooks/{webhook_id}"],
  "webhooks.update": ["PATCH", "/api/webhooks/{webhook_id}"],
  "webhooks.delete": ["DELETE", "/api/webhooks/{webhook_id}"],
  "webhooks.rotateSecret": ["POST", "/api/webhooks/{webhook_id}/rotate-secret"],
  "webhooks.deliveries": ["GET", "/api/webhooks/{webhook_id}/deliveries"],
  "webhooks.retry": ["POST", "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"],
  "oidcClients.list": ["GET", "/api/oidc/clients"],
  "oidcClients.create": ["POST", "/api/oidc/clients"],
  "oidcClients.get": ["GET", "/api/oidc/clients/{client_id}"],
  "oidcClients.update": ["PATCH", "/api/oidc/clients/{client_id}"],
  "oidcClients.delete": ["DELETE", "/api/oidc/clients/{client_id}"],
  "oidcClients.rotateSecret": ["POST", "/api/oidc/clients/{client_id}/rotate-secret"],
  "authorizations.get": ["GET", "/oidc/authorizations/{flow_id}"],
  "authorizations.returnToClient": ["POST", "/oidc/authorizations/{flow_id}/return"],
  "audit.transitions": ["GET", "/api/audit/transitions"],
  "audit.checkpoints": ["GET", "/api/audit/checkpoints"],
  "audit.log": ["GET", "/api/audit/log"],
  "audit.inclusionProof": ["GET", "/api/audit/proof/inclusion"],
  "audit.consistencyProof": ["GET", "/api/audit/proof/consistency"],
});

/** @typedef {keyof typeof OPERATIONS} Operation */

/**
 * An operation's path with its parameters filled in.
 * @param {Operation} operation
 * @param {Record<string, string | number>} [params]
 */
export function pathOf(operation, params = {}) {
  return OPERATIONS[operation][1].replace(/\{(\w+)\}/g, (_, name) => {
    if (params[name] === undefined) throw new TypeError(`${operation} needs ${name}`);
    return encodeURIComponent(String(params[name]));
  });
}
