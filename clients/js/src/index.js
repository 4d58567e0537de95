// mfa-flow-client: the browser (and Node) client of an mfa-flow service.
//
//   import { MfaFlowClient } from "mfa-flow-client";
//   const client = new MfaFlowClient({ baseUrl: "https://id.example.com" });
//   const session = await client.flows.start();
//   session.subscribe((flow) => render(flow));
//   session.follow();
//   await session.send({ type: "submit_password", username, password });
//
// Webhook and result-token checks, for servers, are in "mfa-flow-client/node".

export { ApiError, ConnectionError } from "./errors.js";
export { MfaFlowClient, withQuery } from "./client.js";
export { OPERATIONS, pathOf } from "./operations.js";
export { FlowSession, TERMINAL_STATES, isTerminal } from "./flow.js";
export {
  base64urlToBuffer, bufferToBase64url, creationOptionsFromJSON, credentialFor, credentialToJSON, isCreationOptions,
  requestOptionsFromJSON, webauthnSupported,
} from "./webauthn.js";
export { canonicalJson, verifyChain } from "./audit.js";
export { readEventStream } from "./streams.js";
