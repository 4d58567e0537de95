// Verifies a JWT with npm's jose, as a Node.js relying party would: reads
// {"token", "jwks", "issuer", "audience", "algorithms"} as JSON on stdin, prints the
// verified claims as JSON, or exits 1 with jose's error on stderr.
import { createLocalJWKSet, jwtVerify } from "jose";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { token, jwks, issuer, audience, algorithms } = JSON.parse(input);
try {
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer, audience, algorithms });
  process.stdout.write(JSON.stringify({ header: protectedHeader, claims: payload }));
} catch (error) {
  process.stderr.write(`${error.code || error.name}: ${error.message}\n`);
  process.exit(1);
}
