// The audit chain, checked where the client runs: hash = SHA-256(prev_hash || canonical JSON of
// the row), prev_hash being the previous row's hash ("" for the first), canonical JSON being
// sorted keys, no spaces, UTF-8 — the bytes the service hashes when it writes the row.

const HASHED_FIELDS = ["flow_id", "seq", "event", "from_state", "to_state", "at", "actor", "data"];

/**
 * @param {any} value
 * @returns {string}
 */
export function canonicalJson(value) {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort(); // code-unit order, as Python sorts str keys of the BMP
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
}

/** @param {Uint8Array<ArrayBuffer>} bytes */
async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * @typedef {{ok: true, rows: number, head: string} | {ok: false, seq: number, reason: string}} ChainCheck
 */

/**
 * Checks a flow's rows, oldest first: {ok: true, rows, head} or the first row that does not
 * hold, {ok: false, seq, reason}.
 * @param {Array<Record<string, any>>} rows
 * @returns {Promise<ChainCheck>}
 */
export async function verifyChain(rows) {
  const encoder = new TextEncoder();
  let previous = "";
  for (const row of rows) {
    if (row.prev_hash !== previous) return { ok: false, seq: row.seq, reason: "its prev_hash is not the hash of the row before" };
    const fields = Object.fromEntries(HASHED_FIELDS.map((name) => [name, row[name]]));
    const hash = await sha256Hex(encoder.encode(previous + canonicalJson(fields)));
    if (hash !== row.hash) return { ok: false, seq: row.seq, reason: "its hash does not match its contents" };
    previous = row.hash;
  }
  return { ok: true, rows: rows.length, head: previous };
}
