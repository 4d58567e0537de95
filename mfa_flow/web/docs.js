// The API reference at /docs: the service's own OpenAPI document (read through the SDK, as the
// other pages reach the API) drawn by Swagger UI, vendored under vendor/swagger-ui/ and loaded
// by docs.html before this module. "Try it out" sends requests to this same origin (the
// document's server is "/"); "Authorize" takes the admin or auditor key for the Management API.

import { $, el, service } from "./common.js";

try {
  const spec = await service.openapi();
  $("#api").replaceChildren();
  window.SwaggerUIBundle({
    spec,
    domNode: $("#api"),
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
    validatorUrl: null, // never send the document to a validator elsewhere
  });
} catch (error) {
  $("#api").replaceChildren(el("h1", {}, "API reference"),
    el("p", { class: "reason" }, `The service's OpenAPI document could not be read: ${error.message || error}`));
}
