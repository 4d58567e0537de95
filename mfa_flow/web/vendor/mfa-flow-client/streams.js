// Server-Sent Events read from a fetch body (so that a key goes in a header, not in the URL as
// EventSource would need): each block's event name and its data lines joined.

/**
 * @param {ReadableStream<Uint8Array>} body
 * @returns {AsyncGenerator<{event: string, data: string, id: string | null}>}
 */
export async function* readEventStream(body) {
  const reader = body.pipeThrough(/** @type {TransformStream<Uint8Array, string>} */ (new TextDecoderStream())).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = block.split("\n").filter((line) => line && !line.startsWith(":"));
        const value = (/** @type {string} */ name) => fields.filter((l) => l.startsWith(`${name}:`))
          .map((l) => l.slice(name.length + 1).replace(/^ /, ""));
        const data = value("data");
        if (!data.length) continue;
        yield { event: value("event")[0] || "message", data: data.join("\n"), id: value("id")[0] ?? null };
      }
    }
  } finally {
    reader.releaseLock();
  }
}
