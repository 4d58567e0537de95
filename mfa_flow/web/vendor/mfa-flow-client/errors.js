// The errors the client throws. Every answer of the service that is not 2xx is an RFC 9457
// problem document: ApiError carries it whole, so a caller can show its detail or act on its
// type (wrong-proof, rate-limited, flow-expired …) and on Retry-After.

/** @typedef {import("./openapi.js").components["schemas"]["Problem"] & Record<string, any>} Problem */

export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status (or the problem's, for a WebSocket error message)
   * @param {Problem} problem the problem document as the service sent it
   * @param {number | null} [retryAfter] seconds, from Retry-After or the problem's retry_after
   */
  constructor(status, problem, retryAfter = null) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
    /** The last part of the problem's type URI: "wrong-proof", "rate-limited", "conflict" … */
    this.kind = String(problem.type || "").split(/[:/]/).pop() || "";
    this.retryAfter = retryAfter;
  }
}

// The live connection could not be kept (a closed WebSocket while an event was awaited).
export class ConnectionError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "ConnectionError";
  }
}
